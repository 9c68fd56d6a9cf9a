/**
 * One thread of the blocking-call pool (see `blocking_io.ts`): it receives
 * `[id, op, cancelFd, ...args]`, makes the libc call synchronously on its
 * own thread, reads errno right there (errno is per thread) and answers
 * `[id, result]` with the result or `-errno`.
 *
 * Reads and writes on fds that can wait forever (pipes, sockets, ttys: not
 * regular files or block devices) first wait in poll(2) for the fd or the
 * thread's cancel eventfd, then move only what is there without blocking
 * (RWF_NOWAIT): a cancelled request answers -ECANCELED having consumed
 * nothing, so no bytes meant for the next reader are lost, and the thread
 * is free again.
 *
 * @module
 */
import type { BlockingOp, LoadedSymbols } from "./types.ts";
import type { BLOCKING_IO_SYMBOLS } from "./symbols.ts";

const EINTR = 4;
const EAGAIN = 11;
const EOPNOTSUPP = 95;
const ECANCELED = 125;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const RWF_NOWAIT = 0x8;
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE = 0x1;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFBLK = 0o060000;

// `onmessage` is set before anything is awaited: Bun drops messages that
// arrive while a worker module is still evaluating (./mod.ts has top-level
// await), so the libraries are loaded by a dynamic import instead.
let lib: LoadedSymbols<typeof BLOCKING_IO_SYMBOLS>;
let errnoView: Int32Array;
let addressOf: (view: ArrayBufferView) => number;
const loaded = import("./mod.ts").then((ffi) => {
  lib = ffi.blockingIoSymbols();
  errnoView = new Int32Array(ffi.memoryAt(lib.__errno_location(), 4));
  addressOf = ffi.addressNumber;
  // The pool counts a cancel's grace period only from here: starting a
  // Worker can take longer than any grace period.
  // deno-lint-ignore no-explicit-any
  (globalThis as any).postMessage(["ready"]);
});

// This thread's scratch memory: two pollfds, one iovec, a statx buffer, the
// eventfd counter. Module-level so the addresses stay fixed.
const pollfds = new DataView(new ArrayBuffer(16));
const iovec = new DataView(new ArrayBuffer(16));
const statxBuf = new Uint8Array(256);
const counter = new Uint8Array(8);
const emptyPath = new Uint8Array(1);

/** -errno of the last failed call. */
function failed(): number {
  return -errnoView[0];
}

/** Whether a call on `fd` may wait for ever (not a regular file or block device). */
function mayWaitForever(fd: number): boolean {
  const res = lib.statx(
    fd,
    addressOf(emptyPath),
    AT_EMPTY_PATH,
    STATX_TYPE,
    addressOf(statxBuf),
  );
  if (res < 0) return false; // the call itself will report the bad fd
  const type = (statxBuf[0x1c] | (statxBuf[0x1d] << 8)) & S_IFMT;
  return type !== S_IFREG && type !== S_IFBLK;
}

/**
 * Waits until `fd` is ready for `events` or the cancel eventfd fires.
 * Returns 0 when ready, -ECANCELED when cancelled (the counter is reset).
 */
function waitReady(fd: number, events: number, cancelFd: number): number {
  pollfds.setInt32(0, fd, true);
  pollfds.setInt32(4, events, true);
  pollfds.setInt32(8, cancelFd, true);
  pollfds.setInt32(12, POLLIN, true);
  for (;;) {
    const n = lib.poll(addressOf(pollfds), 2, -1);
    if (n < 0) {
      if (errnoView[0] === EINTR) continue;
      return failed();
    }
    if (pollfds.getInt16(14, true) !== 0) {
      lib.read(cancelFd, addressOf(counter), 8);
      return -ECANCELED;
    }
    return 0; // ready, or POLLERR/POLLHUP/POLLNVAL: the call will say
  }
}

/**
 * A read or write on an fd that may wait for ever: poll, then RWF_NOWAIT
 * so the call moves only what is there; EAGAIN (another reader was first)
 * goes back to poll. Files that do not take RWF_NOWAIT (a tty) get the
 * plain call once poll said they are ready.
 */
function interruptible(
  op: "pread" | "pwrite" | "preadv" | "pwritev",
  a: readonly number[],
  cancelFd: number,
): number {
  const write = op === "pwrite" || op === "pwritev";
  let address = a[1];
  let count = a[2];
  if (op === "pread" || op === "pwrite") {
    iovec.setBigUint64(0, BigInt(a[1]), true);
    iovec.setBigUint64(8, BigInt(a[2]), true);
    address = addressOf(iovec);
    count = 1;
  }
  const offset = a[3] < 0 ? -1 : a[3];
  for (;;) {
    const ready = waitReady(a[0], write ? POLLOUT : POLLIN, cancelFd);
    if (ready < 0) return ready;
    const res = write
      ? lib.pwritev2(a[0], address, count, offset, RWF_NOWAIT)
      : lib.preadv2(a[0], address, count, offset, RWF_NOWAIT);
    if (res >= 0) return res;
    const e = errnoView[0];
    if (e === EAGAIN || e === EINTR) continue;
    if (e === EOPNOTSUPP) return plain(op, a);
    return -e;
  }
}

/** The call itself; offset -1 means "the current file position" as in io_uring. */
function plain(op: BlockingOp, a: readonly number[]): number {
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
    case "copy_file_range":
      // From and to the file positions (null offset pointers).
      return lib.copy_file_range(a[0], 0, a[1], 0, a[2], 0);
  }
}

function run(
  op: BlockingOp,
  args: readonly number[],
  cancelFd: number,
): number {
  if (
    (op === "pread" || op === "pwrite" || op === "preadv" ||
      op === "pwritev") && mayWaitForever(args[0])
  ) {
    return interruptible(op, args, cancelFd);
  }
  for (;;) {
    const result = plain(op, args);
    if (result >= 0) return result;
    const e = errnoView[0];
    // close(2) must not be retried: the fd is released even on EINTR.
    if (e === EINTR && op !== "close") continue;
    return -e;
  }
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
scope.onmessage = async (
  event: MessageEvent<[number, BlockingOp, number, ...number[]]>,
) => {
  await loaded;
  const [id, op, cancelFd, ...args] = event.data;
  let result: number;
  try {
    result = run(op, args, cancelFd);
  } catch {
    // An argument the FFI layer cannot convert (the caller validated it,
    // so this is a bug upstream): answer EINVAL rather than kill the thread.
    result = -22;
  }
  scope.postMessage([id, result]);
};
