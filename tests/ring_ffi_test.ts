// The FFI boundary and the error types: addresses of typed arrays, views of
// native memory, errno after a failed libc call, and what the errors carry.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  addressOf,
  alignedBuffer,
  closeFd,
  EBADF,
  ENOENT,
  errnoName,
  NativeLibraryError,
  O_RDONLY,
  openFd,
  pipeFds,
  RingClosedError,
  runtimeName,
  SubmissionQueueFullError,
  UringError,
  writeFd,
} from "../raw.ts";
import { addressNumber, cString, errno, libc, memoryAt } from "../ffi/mod.ts";
import { withRing } from "./helpers.ts";

test("runtimeName names the runtime the tests run on", () => {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  assert.equal(runtimeName, g.Bun ? "bun" : "deno");
});

test("addressOf returns a bigint address that honours subarray offsets", () => {
  const buf = new Uint8Array(256);
  const base = addressOf(buf);
  assert.equal(typeof base, "bigint");
  assert.ok(base > 0n);
  assert.equal(addressOf(buf.subarray(5)), base + 5n);
  assert.equal(addressOf(buf.subarray(100, 120)), base + 100n);
  const words = new Uint32Array(64);
  assert.equal(addressOf(words.subarray(3)), addressOf(words) + 12n);
  assert.equal(addressOf(new DataView(buf.buffer, 7)), base + 7n);
  assert.equal(addressOf(buf.buffer), base);
  assert.equal(addressOf(new Uint8Array(0)), 0n);
  assert.equal(BigInt(addressNumber(buf)), base);
});

test("addressOf is the real address: libc memcpy through it copies the bytes", () => {
  // Small arrays start inside the GC heap; addressOf must move them out first.
  const src = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const dst = new Uint8Array(16);
  libc().memcpy(
    Number(addressOf(dst.subarray(4))),
    Number(addressOf(src.subarray(2))),
    5,
  );
  assert.deepEqual([...dst], [0, 0, 0, 0, 3, 4, 5, 6, 7, 0, 0, 0, 0, 0, 0, 0]);
});

test("memoryAt aliases native memory in both directions", () => {
  const buf = new Uint8Array(64);
  const alias = new Uint8Array(memoryAt(addressNumber(buf) + 8, 16));
  alias[0] = 0xab;
  alias[15] = 0xcd;
  assert.equal(buf[8], 0xab);
  assert.equal(buf[23], 0xcd);
  buf[10] = 0x42;
  assert.equal(alias[2], 0x42);
  assert.equal(alias.byteLength, 16);
  assert.throws(() => memoryAt(0, 8), RangeError);
});

test("alignedBuffer is aligned, sized and zeroed", () => {
  for (const alignment of [512, 4096, 65536]) {
    const buf = alignedBuffer(12288, alignment);
    assert.equal(addressOf(buf) % BigInt(alignment), 0n);
    assert.equal(buf.byteLength, 12288);
    assert.ok(buf.every((b) => b === 0));
  }
  assert.throws(() => alignedBuffer(10, 3), RangeError);
  assert.throws(() => alignedBuffer(-1), RangeError);
});

test("errno is read right after a failed libc call", () => {
  assert.equal(libc().close(-1), -1);
  assert.equal(errno(), EBADF);
  const path = cString("/nonexistent/uring-test");
  assert.equal(libc().open(path, O_RDONLY, 0), -1);
  assert.equal(errno(), ENOENT);
  assert.equal(errnoName(errno()), "ENOENT");
});

test("openFd and closeFd report failures as UringError with errno, code, op", () => {
  const error = assert.throws(
    () => openFd("/nonexistent/uring-test", O_RDONLY),
    (e: unknown) =>
      e instanceof UringError && e.errno === ENOENT && e.code === "ENOENT" &&
      e.op === "open" && e.path === "/nonexistent/uring-test",
  );
  void error;
  const fd = openFd("/dev/null", O_RDONLY);
  assert.ok(fd >= 0);
  closeFd(fd);
  assert.throws(
    () => closeFd(fd),
    (e: unknown) =>
      e instanceof UringError && e.errno === EBADF && e.op === "close" &&
      e.fd === fd,
  );
  assert.throws(() => openFd("/dev/null", -1), RangeError);
  assert.throws(() => cString("a\0b"), TypeError);
});

test("openFd gives real OS descriptors: pipe data written with libc reads back", () => {
  const [r, w] = pipeFds();
  try {
    assert.equal(writeFd(w, new Uint8Array([9, 8, 7])), 3);
    const out = new Uint8Array(3);
    assert.equal(libc().read(r, addressNumber(out), 3), 3);
    assert.deepEqual([...out], [9, 8, 7]);
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

test("UringError carries errno, code, op, fd, path and a readable message", () => {
  const e = UringError.from(-22, { op: "read", fd: 3 });
  assert.ok(e instanceof Error);
  assert.equal(e.name, "UringError");
  assert.equal(e.errno, 22);
  assert.equal(e.code, "EINVAL");
  assert.equal(e.op, "read");
  assert.equal(e.fd, 3);
  assert.equal(e.path, undefined);
  assert.equal(e.message, "read (fd 3): EINVAL: Invalid argument");
  const p = new UringError(2, { op: "openat", path: "/x", detail: "why" });
  assert.equal(p.errno, 2);
  assert.equal(p.code, "ENOENT");
  assert.match(p.message, /openat "\/x": ENOENT: .*: why/);
  assert.equal(UringError.from(84).code, "EILSEQ");
});

test("UringError from the kernel: a bad registration names the op and ring fd", () => {
  withRing({ entries: 2 }, (ring) => {
    const [r, w] = pipeFds();
    closeFd(r);
    closeFd(w);
    assert.throws(
      () => ring.registerFiles([r]),
      (e: unknown) =>
        e instanceof UringError && e.code === "EBADF" &&
        e.op === "register_files" && e.fd === ring.fd,
    );
  });
});

test("NativeLibraryError names the library and the Debian package", () => {
  const cause = new Error("liburing.so.2: cannot open shared object file");
  const e = new NativeLibraryError("liburing.so.2", "liburing2", cause);
  assert.ok(e instanceof Error);
  assert.equal(e.name, "NativeLibraryError");
  assert.equal(e.library, "liburing.so.2");
  assert.equal(e.packageName, "liburing2");
  assert.equal(e.cause, cause);
  assert.match(e.message, /liburing\.so\.2/);
  assert.match(e.message, /apt-get install liburing2/);
  assert.match(e.message, /cannot open shared object file/);
});

test("the other error classes say what to do", () => {
  const closed = new RingClosedError("submit");
  assert.equal(closed.name, "RingClosedError");
  assert.match(closed.message, /submit: the ring is closed/);
  const full = new SubmissionQueueFullError(8);
  assert.equal(full.name, "SubmissionQueueFullError");
  assert.match(full.message, /8 entries/);
  assert.match(full.message, /submit\(\)/);
});

test("process runs on a little-endian 64-bit machine (what the views assume)", () => {
  assert.ok(["x64", "arm64"].includes(process.arch));
  assert.equal(new Uint8Array(new Uint16Array([1]).buffer)[0], 1);
});
