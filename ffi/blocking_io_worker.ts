/**
 * One thread of the blocking-call pool (see `blocking_io.ts`): it receives
 * `[id, op, ...args]`, makes the libc call synchronously on its own thread,
 * reads errno right there (errno is per thread) and answers `[id, result]`
 * with the result or `-errno`.
 *
 * @module
 */
import type { BlockingOp, LoadedSymbols } from "./types.ts";
import type { BLOCKING_IO_SYMBOLS } from "./symbols.ts";

const EINTR = 4;

// `onmessage` is set before anything is awaited: Bun drops messages that
// arrive while a worker module is still evaluating (./mod.ts has top-level
// await), so the libraries are loaded by a dynamic import instead.
let lib: LoadedSymbols<typeof BLOCKING_IO_SYMBOLS>;
let errnoView: Int32Array;
const loaded = import("./mod.ts").then((ffi) => {
  lib = ffi.blockingIoSymbols();
  errnoView = new Int32Array(ffi.memoryAt(lib.__errno_location(), 4));
});

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
    case "ftruncate":
      return lib.ftruncate(a[0], a[1]);
  }
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
scope.onmessage = async (
  event: MessageEvent<[number, BlockingOp, ...number[]]>,
) => {
  await loaded;
  const [id, op, ...args] = event.data;
  let result: number;
  for (;;) {
    try {
      result = run(op, args);
    } catch {
      // An argument the FFI layer cannot convert (the caller validated it,
      // so this is a bug upstream): answer EINVAL rather than kill the thread.
      result = -22;
      break;
    }
    if (result >= 0) break;
    const e = errnoView[0];
    // close(2) must not be retried: the fd is released even on EINTR.
    if (e === EINTR && op !== "close") continue;
    result = -e;
    break;
  }
  scope.postMessage([id, result]);
};
