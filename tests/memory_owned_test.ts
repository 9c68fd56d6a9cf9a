/**
 * Library-owned buffers (`allocateBuffer`): alignment and zero fill, every
 * synchronous way of detaching them refused, release revoking the
 * caller's views (deferred while a request holds the buffer), reuse
 * without leaking the previous owner's bytes, and a real zero-copy read.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { addressNumber } from "../ffi/mod.ts";
import {
  allocateBuffer,
  idleOwnedBytes,
  isLibraryOwned,
  MAX_BUFFER_BYTES,
  releaseBuffer,
  releaseIo,
  retainIo,
} from "../memory/mod.ts";
import { collect, pattern, withRing, withTempFile } from "./helpers.ts";

test("allocateBuffer: zero-filled, page-aligned, larger alignments honoured", () => {
  for (const size of [0, 1, 64, 4096, 65536, 65537, 1 << 20]) {
    const buf = allocateBuffer(size);
    assert.equal(buf.byteLength, size);
    if (size > 0) assert.equal(addressNumber(buf) % 4096, 0, `size ${size}`);
    assert.ok(buf.every((b) => b === 0));
  }
  for (const alignment of [1, 512, 8192, 65536]) {
    const buf = allocateBuffer(100, { alignment });
    assert.equal(addressNumber(buf) % alignment, 0, `alignment ${alignment}`);
  }
});

test("allocateBuffer rejects bad sizes and alignments with a RangeError", () => {
  for (const size of [-1, 1.5, NaN, MAX_BUFFER_BYTES + 1]) {
    assert.throws(() => allocateBuffer(size), RangeError, String(size));
  }
  for (const alignment of [0, 3, 4095, 1 << 17]) {
    assert.throws(
      () => allocateBuffer(16, { alignment }),
      RangeError,
      String(alignment),
    );
  }
});

test("a library-owned buffer cannot be detached: transfer, transferToFixedLength, structuredClone throw TypeError", () => {
  const buf = allocateBuffer(4096);
  buf.fill(7);
  const ab = buf.buffer as ArrayBuffer;
  assert.throws(() => ab.transfer(), TypeError);
  assert.throws(() => ab.transfer(4096), TypeError);
  assert.throws(() => ab.transfer(1 << 20), TypeError);
  assert.throws(() => ab.transferToFixedLength(), TypeError);
  assert.throws(() => structuredClone(ab, { transfer: [ab] }), TypeError);
  assert.throws(() => ArrayBuffer.prototype.transfer.call(ab, 8), TypeError);
  assert.equal(buf.byteLength, 4096);
  assert.ok(buf.every((b) => b === 7));
  // Copying is fine and gives an independent buffer.
  const copy = structuredClone(buf);
  copy[0] = 1;
  assert.equal(buf[0], 7);
});

test("isLibraryOwned and retainIo tell owned memory from caller memory", () => {
  const buf = allocateBuffer(4096);
  assert.ok(isLibraryOwned(buf));
  assert.ok(isLibraryOwned(buf.subarray(10, 20)));
  assert.ok(isLibraryOwned(new DataView(buf.buffer, 8, 8)));
  assert.equal(isLibraryOwned(new Uint8Array(16)), false);
  assert.equal(retainIo(new Uint8Array(16)), null, "caller memory: stage it");
  const plain = new ArrayBuffer(16);
  const view = new Uint8Array(plain);
  plain.transfer();
  assert.throws(() => retainIo(view), TypeError, "detached caller memory");
  const region = retainIo(buf.subarray(100));
  assert.ok(region !== null);
  releaseIo(region);
  assert.throws(() => releaseIo(region), /no request holds/);
});

test("releaseBuffer detaches every view; twice is a no-op; using it afterwards is a TypeError", () => {
  const buf = allocateBuffer(8192);
  const sub = buf.subarray(4096);
  const other = new Uint32Array(buf.buffer, 0, 4);
  releaseBuffer(buf);
  assert.equal(buf.byteLength, 0);
  assert.equal(sub.byteLength, 0);
  assert.equal(other.length, 0);
  assert.equal(isLibraryOwned(buf), false);
  releaseBuffer(buf);
  assert.throws(() => retainIo(buf), TypeError);
  assert.throws(() => releaseBuffer(new Uint8Array(4)), TypeError);
});

test("releaseBuffer while a request holds the buffer waits for releaseIo", () => {
  const buf = allocateBuffer(4096);
  const first = retainIo(buf)!;
  const second = retainIo(buf)!;
  releaseBuffer(buf);
  assert.equal(buf.byteLength, 4096, "still in use: the views stay");
  assert.throws(() => retainIo(buf), /released/);
  buf[0] = 1; // the in-flight request's memory is still there
  releaseIo(first);
  assert.equal(buf.byteLength, 4096, "one request still holds it");
  releaseIo(second);
  assert.equal(buf.byteLength, 0, "revoked with the last hold");
});

test("released memory is reused zero-filled, never with the previous owner's bytes", () => {
  const sizes = [4096, 65536 * 3];
  for (const size of sizes) {
    const first = allocateBuffer(size);
    first.fill(0xa5);
    const idleBefore = idleOwnedBytes();
    releaseBuffer(first);
    assert.ok(idleOwnedBytes() > idleBefore, "kept for reuse");
    const second = allocateBuffer(size);
    assert.ok(idleOwnedBytes() <= idleBefore, "taken from the pool");
    assert.ok(second.every((b) => b === 0), `size ${size}`);
    assert.equal(first.byteLength, 0, "the old view stays detached");
    releaseBuffer(second);
  }
});

test("a read into a library-owned buffer goes to its memory directly", () => {
  const data = pattern(8192, 21);
  withTempFile({ contents: data }, (fd) => {
    withRing({ entries: 4 }, (ring) => {
      const buf = allocateBuffer(8192);
      const region = retainIo(buf)!;
      const sqe = ring.prepRead(fd, buf, 0);
      sqe.userData = 5;
      assert.equal(Number(sqe.addr), addressNumber(buf), "zero-copy");
      assert.equal(collect(ring, 1).get(5), 8192);
      releaseIo(region);
      assert.deepEqual(buf, data);
      releaseBuffer(buf);
    });
  });
});
