/**
 * A FUSE file system with one file whose reads the server does not answer:
 * I/O the kernel cannot cancel (a FUSE request waits for its answer through
 * any signal but a fatal one), for the deadline tests. Not a test file.
 *
 * `fuse_stall_server.ts MOUNTPOINT [ANSWER_AFTER_MS]`, run inside its own mount namespace
 * (`unshare -m --propagation private`), so the mount is invisible to the
 * rest of the host and disappears with this process, whatever happens.
 * Others reach the file through `/proc/PID/root/MOUNTPOINT/file`. Prints
 * `mounted` once serving. A line `answer` on stdin answers every read held
 * so far, as does ANSWER_AFTER_MS passing (default 20000) since the first
 * was held; end of stdin (the parent gone) exits, which aborts the
 * connection.
 *
 * @module
 */
import process from "node:process";
import { mkdirSync } from "node:fs";
import { addressNumber, cString, errno, libc } from "../ffi/mod.ts";

const mountpoint = process.argv[2];
const answerAfterMs = Number(process.argv[3] ?? 20000);
const O_RDWR = 2;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const POLLIN = 1;

const FUSE_LOOKUP = 1;
const FUSE_FORGET = 2;
const FUSE_GETATTR = 3;
const FUSE_OPEN = 14;
const FUSE_READ = 15;
const FUSE_WRITE = 16;
const FUSE_INIT = 26;
const FUSE_INTERRUPT = 36;
const FUSE_BATCH_FORGET = 42;
const ENOENT = 2;
const ENOSYS = 38;
/** FOPEN_KEEP_CACHE off, no FOPEN_DIRECT_IO: buffered reads, which io_uring hands to its io-wq threads (a direct read is retried on the submitting thread, which a stalled server would block). */
const OPEN_FLAGS = 0;
const FILE_SIZE = 4096;
const FILE_NODE = 2n;

mkdirSync(mountpoint, { recursive: true });
const fuse = libc().open(cString("/dev/fuse"), O_RDWR, 0);
if (fuse < 0) throw new Error(`open /dev/fuse: errno ${errno()}`);
const options = `fd=${fuse},rootmode=40000,user_id=0,group_id=0`;
if (
  libc().mount(
    cString("uring-stall"),
    cString(mountpoint),
    cString("fuse"),
    MS_NOSUID | MS_NODEV,
    cString(options),
  ) !== 0
) {
  throw new Error(`mount fuse: errno ${errno()}`);
}

const request = new Uint8Array(1 << 20 | 4096);
const requestView = new DataView(request.buffer);

function reply(unique: bigint, error: number, body?: Uint8Array): void {
  const out = new Uint8Array(16 + (body?.length ?? 0));
  const view = new DataView(out.buffer);
  view.setUint32(0, out.length, true);
  view.setInt32(4, -error, true);
  view.setBigUint64(8, unique, true);
  if (body) out.set(body, 16);
  libc().write(fuse, addressNumber(out), out.length);
}

/** struct fuse_attr (88 bytes) of the root (dir) or the file. */
function attr(view: DataView, at: number, node: bigint): void {
  view.setBigUint64(at, node, true); // ino
  view.setBigUint64(at + 8, node === FILE_NODE ? BigInt(FILE_SIZE) : 0n, true);
  view.setUint32(at + 60, node === FILE_NODE ? 0o100666 : 0o40777, true); // mode
  view.setUint32(at + 64, 1, true); // nlink
  view.setUint32(at + 80, 4096, true); // blksize
}

/** Requests held: [unique, 0 for a read or the size of a write]. */
const held: [bigint, number][] = [];
function answerHeld(): void {
  for (const [unique, written] of held.splice(0)) {
    if (written === 0) reply(unique, 0, new Uint8Array(FILE_SIZE).fill(0x61));
    else {
      // struct fuse_write_out { u32 size; u32 padding; }
      const out = new Uint8Array(8);
      new DataView(out.buffer).setUint32(0, written, true);
      reply(unique, 0, out);
    }
  }
}

function serveOne(length: number): void {
  const opcode = requestView.getUint32(4, true);
  const unique = requestView.getBigUint64(8, true);
  const node = requestView.getBigUint64(16, true);
  switch (opcode) {
    case FUSE_INIT: {
      const out = new Uint8Array(64);
      const view = new DataView(out.buffer);
      view.setUint32(0, 7, true); // major
      view.setUint32(4, 31, true); // minor
      view.setUint32(8, requestView.getUint32(48, true), true); // max_readahead
      view.setUint32(24, 1 << 20, true); // max_write
      view.setUint32(28, 1, true); // time_gran
      return reply(unique, 0, out);
    }
    case FUSE_LOOKUP: {
      const name = new TextDecoder().decode(request.subarray(40, length))
        .replace(/\0.*$/s, "");
      if (node !== 1n || name !== "file") return reply(unique, ENOENT);
      const out = new Uint8Array(128);
      const view = new DataView(out.buffer);
      view.setBigUint64(0, FILE_NODE, true);
      attr(view, 40, FILE_NODE);
      return reply(unique, 0, out);
    }
    case FUSE_GETATTR: {
      const out = new Uint8Array(104);
      attr(new DataView(out.buffer), 16, node);
      return reply(unique, 0, out);
    }
    case FUSE_OPEN: {
      const out = new Uint8Array(16);
      new DataView(out.buffer).setUint32(8, OPEN_FLAGS, true);
      return reply(unique, 0, out);
    }
    case FUSE_READ:
    case FUSE_WRITE:
      // The stall: no answer until told (or the server goes away).
      if (held.length === 0) setTimeout(answerHeld, answerAfterMs);
      held.push([
        unique,
        opcode === FUSE_READ ? 0 : requestView.getUint32(56, true),
      ]);
      return;
    case FUSE_INTERRUPT:
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
      return; // no reply: a stopped server would not answer either
    default:
      return reply(unique, ENOSYS);
  }
}

let stdinText = "";
let stdinOpen = true;
process.stdin.on("data", (chunk) => {
  stdinText += chunk;
  if (stdinText.includes("answer\n")) {
    stdinText = stdinText.replace("answer\n", "");
    answerHeld();
  }
});
process.stdin.on("end", () => (stdinOpen = false));

const pollfd = new Uint8Array(8);
const pollView = new DataView(pollfd.buffer);
console.log("mounted");
// Serve between turns of the event loop, so stdin is heard too.
const timer = setInterval(() => {
  if (!stdinOpen) {
    clearInterval(timer);
    process.exit(0);
  }
  for (;;) {
    pollView.setInt32(0, fuse, true);
    pollView.setInt32(4, POLLIN, true);
    if (libc().poll(pollfd, 1, 0) <= 0) return;
    const n = libc().read(fuse, addressNumber(request), request.length);
    if (n <= 0) {
      clearInterval(timer);
      process.exit(0);
    }
    serveOne(n);
  }
}, 2);
