/**
 * One thread of the blocking-call pool (see `blocking_io.ts`): it receives
 * `[id, op, ...args]`, makes the libc call synchronously on its own thread,
 * reads errno right there (errno is per thread) and answers `[id, result]`
 * with the result or `-errno`.
 *
 * @module
 */
import { blockingIoSymbols, memoryAt } from "./mod.ts";
import type { BlockingOp } from "./types.ts";

const lib = blockingIoSymbols();
const errnoView = new Int32Array(memoryAt(lib.__errno_location(), 4));
const EINTR = 4;

/** The call itself; offset -1 means "the current file position" as in io_uring. */
function run(op: BlockingOp, a: readonly number[]): number {
  switch (op) {
    case "pread":
      return a[3] < 0 ? lib.read(a[0], a[1], a[2]) : lib.pread(...a);
    case "pwrite":
      return a[3] < 0 ? lib.write(a[0], a[1], a[2]) : lib.pwrite(...a);
    case "preadv":
      return a[3] < 0 ? lib.readv(a[0], a[1], a[2]) : lib.preadv(...a);
    case "pwritev":
      return a[3] < 0 ? lib.writev(a[0], a[1], a[2]) : lib.pwritev(...a);
    case "fsync":
      return lib.fsync(a[0]);
    case "fdatasync":
      return lib.fdatasync(a[0]);
    case "openat":
      return lib.openat(...a);
    case "close":
      return lib.close(a[0]);
    case "statx":
      return lib.statx(...a);
    case "fallocate":
      return lib.fallocate(...a);
  }
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
scope.onmessage = (event: MessageEvent<[number, BlockingOp, ...number[]]>) => {
  const [id, op, ...args] = event.data;
  let result: number;
  for (;;) {
    result = run(op, args);
    if (result >= 0) break;
    const e = errnoView[0];
    // close(2) must not be retried: the fd is released even on EINTR.
    if (e === EINTR && op !== "close") continue;
    result = -e;
    break;
  }
  scope.postMessage([id, result]);
};
