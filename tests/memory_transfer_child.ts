/**
 * Child process of tests/memory_transfer_test.ts (not a test file itself):
 * `memory_transfer_child.ts <group> <rounds>`. Runs the adversarial rounds
 * of one group for each of the four ways to move a buffer's memory away,
 * with a full GC after every round, and prints `result <json>` (counts per
 * way) at the end. Any failed check throws, so the exit status is non-zero;
 * heap corruption shows as a signal or a damaged canary.
 *
 * It runs in a child so a crash fails one test instead of the runner, and
 * because a forced GC inside `deno test` costs about 50 times what it does
 * in `deno run` (measured: 230 ms against 4 ms), which would make 200
 * rounds per case take minutes.
 *
 * Groups:
 * - `owned-read`: a read into an `allocateBuffer` buffer is in flight; every
 *   way of moving it must throw a TypeError and the bytes must land.
 * - `staged-read`: a read for a caller's plain buffer goes to a staging
 *   slice; the caller's buffer is moved away; delivery must throw the
 *   TypeError, and the moved memory must not hold the bytes read.
 * - `staged-write`: a write of a caller's buffer (snapshot in a staging
 *   slice) waits on a full pipe; the buffer is moved away; the snapshot
 *   must be what arrives.
 * - `owned-dropped`: every view of an `allocateBuffer` buffer is dropped
 *   and collected mid-read; the Ring's hold must keep the memory alive.
 * - `ring-<owned|staged>-<read|write>[-fallback]`: the same through the
 *   public Promise API (`ring.read` / `ring.write` on a `Ring`, or on a
 *   `FallbackRing`): the library decides by itself to go zero-copy or to
 *   stage, and every promise must settle (a staged read whose buffer moved
 *   rejects with the TypeError).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import process from "node:process";
import { addressNumber, libc, memoryAt } from "../ffi/mod.ts";
import { closeFd, pipeFds, RingCore, writeFd } from "../raw.ts";
import { type AsyncRing, FallbackRing, Ring } from "../mod.ts";
import {
  allocateBuffer,
  releaseBuffer,
  releaseIo,
  retainIo,
  StagingPool,
} from "../memory/mod.ts";
import { collect, collectGarbage, pattern } from "./helpers.ts";

/** The four ways the engines offer to move an ArrayBuffer's memory. */
export const MODES = [
  "transfer-larger",
  "transfer-same",
  "structuredClone",
  "postMessage",
] as const;
/** One of {@linkcode MODES}. */
export type Mode = typeof MODES[number];

// One echo Worker for every postMessage round: it answers with the length
// it received, so the transfer has really happened when `move` returns.
let worker: Worker | undefined;
const acks: Array<(n: number) => void> = [];
function echoWorker(): Worker {
  if (worker) return worker;
  const source = "self.onmessage = (e) => self.postMessage(e.data.byteLength);";
  const url = URL.createObjectURL(
    new Blob([source], { type: "application/javascript" }),
  );
  worker = new Worker(url, { type: "module" });
  worker.onmessage = (e: MessageEvent) => acks.shift()!(e.data as number);
  return worker;
}

/**
 * Moves `buffer` away in the given way. Resolves to the new ArrayBuffer
 * (null when it went to the Worker) or rejects with what the engine threw.
 */
async function move(
  mode: Mode,
  buffer: ArrayBuffer,
): Promise<ArrayBuffer | null> {
  switch (mode) {
    case "transfer-larger":
      return buffer.transfer(buffer.byteLength * 2 + 4096);
    case "transfer-same":
      return buffer.transfer();
    case "structuredClone":
      return structuredClone(buffer, { transfer: [buffer] });
    case "postMessage": {
      const w = echoWorker();
      w.postMessage(buffer, [buffer]); // throws before anything is queued
      await new Promise<number>((resolve) => acks.push(resolve));
      return null;
    }
  }
}

/** Arrays filled with a known pattern, checked against a reference copy. */
class Canaries {
  readonly #arrays: Uint8Array[] = [];
  readonly #refs: Buffer[] = [];
  add(size: number, seed: number): void {
    const ref = Buffer.from(pattern(size, seed));
    const a = new Uint8Array(size);
    a.set(ref);
    this.#arrays.push(a);
    this.#refs.push(ref);
  }
  check(where: string): void {
    for (let i = 0; i < this.#arrays.length; i++) {
      const a = this.#arrays[i];
      const same = Buffer.from(a.buffer, a.byteOffset, a.byteLength)
        .equals(this.#refs[i]);
      assert.ok(same, `canary ${i} (${a.byteLength} bytes) damaged ${where}`);
    }
  }
}

/** Reads exactly `n` bytes from a blocking fd. */
function readExactly(fd: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const base = addressNumber(out);
  let got = 0;
  while (got < n) {
    const r = libc().read(fd, base + got, n - got);
    assert.ok(r > 0, `read from pipe returned ${r}`);
    got += r;
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** What one round did, summed per mode. */
interface Tally {
  rounds: number;
  /** Moves the engine refused with a TypeError. */
  refused: number;
  /** Deliveries refused with the detached/shrunk TypeError. */
  undelivered: number;
  /** Reads whose bytes arrived, writes whose snapshot arrived. */
  verified: number;
}

interface Context {
  ring: RingCore;
  /** The Promise API ring of the `ring-*` groups. */
  async: AsyncRing;
  r: number;
  w: number;
  pool: StagingPool;
  round: number;
  tally: Tally;
}

/** A plain buffer is reported moved; a refusal must be a TypeError. */
async function tryMove(
  mode: Mode,
  buffer: ArrayBuffer,
  tally: Tally,
): Promise<ArrayBuffer | null | "refused"> {
  try {
    return await move(mode, buffer);
  } catch (error) {
    assert.ok(error instanceof TypeError, `${mode} threw ${error}`);
    tally.refused++;
    return "refused";
  }
}

async function ownedRead(mode: Mode, c: Context): Promise<void> {
  const { ring, r, w, round, tally } = c;
  const size = round % 2 === 0 ? 4096 : 64;
  const buf = allocateBuffer(size);
  const region = retainIo(buf);
  assert.ok(region !== null);
  ring.prepRead(r, buf, -1).userData = round;
  assert.equal(ring.submit(), 1);
  assert.equal(
    await tryMove(mode, buf.buffer as ArrayBuffer, tally),
    "refused",
  );
  assert.equal(buf.byteLength, size, "the view is still attached");
  const fresh = new Canaries();
  fresh.add(size, round);
  fresh.add(size * 2 + 4096, round + 1);
  const payload = pattern(size, 1000 + round);
  assert.equal(writeFd(w, payload), size);
  assert.equal(collect(ring, 1).get(round), size);
  assert.ok(equalBytes(buf, payload), `round ${round}: data`);
  tally.verified++;
  releaseIo(region);
  // Half the buffers are released (views revoked), half left to the GC.
  if (round % 2 === 0) {
    releaseBuffer(buf);
    assert.equal(buf.byteLength, 0, "release detaches the view");
  }
  collectGarbage();
  fresh.check(`in round ${round}`);
}

async function stagedRead(mode: Mode, c: Context): Promise<void> {
  const { ring, r, w, pool, round, tally } = c;
  // 64 bytes starts on the GC heap; 64 KiB is off-heap from birth.
  const size = round % 2 === 0 ? 64 : 65536;
  const caller = new Uint8Array(size);
  const slice = pool.acquire(size);
  ring.prepRead(r, slice.bytes.subarray(0, size), -1).userData = round;
  assert.equal(ring.submit(), 1);
  const moved = await tryMove(mode, caller.buffer, tally);
  assert.notEqual(moved, "refused", "a plain buffer can be moved");
  const fresh = new Canaries();
  fresh.add(size, round);
  fresh.add(size * 2 + 4096, round + 1);
  const payload = pattern(size, 2000 + round);
  assert.equal(writeFd(w, payload), size);
  const res = collect(ring, 1).get(round)!;
  assert.equal(res, size);
  assert.throws(
    () => pool.copyOut(slice, caller, res),
    (e: unknown) =>
      e instanceof TypeError &&
      /detached, transferred or shrunk/.test(e.message),
  );
  tally.undelivered++;
  if (moved instanceof ArrayBuffer) {
    // The moved memory holds what the caller had (zeros), never the bytes
    // the kernel read.
    assert.ok(new Uint8Array(moved).every((b) => b === 0));
  }
  assert.ok(equalBytes(slice.bytes.subarray(0, size), payload));
  pool.release(slice);
  collectGarbage();
  fresh.check(`in round ${round}`);
}

const filler = new Uint8Array(65536);

async function stagedWrite(mode: Mode, c: Context): Promise<void> {
  const { ring, r, w, pool, round, tally } = c;
  const size = round % 2 === 0 ? 64 : 4096;
  const caller = pattern(size, 3000 + round);
  const snapshot = caller.slice();
  const slice = pool.acquire(size);
  pool.copyIn(slice, caller);
  // A full pipe keeps the write waiting in the kernel.
  assert.equal(writeFd(w, filler), filler.byteLength);
  ring.prepWrite(w, slice.bytes.subarray(0, size), -1).userData = round;
  assert.equal(ring.submit(), 1);
  const moved = await tryMove(mode, caller.buffer as ArrayBuffer, tally);
  assert.notEqual(moved, "refused", "a plain buffer can be moved");
  const fresh = new Canaries();
  fresh.add(size, round);
  readExactly(r, filler.byteLength);
  assert.equal(collect(ring, 1).get(round), size);
  assert.ok(equalBytes(readExactly(r, size), snapshot), `round ${round}`);
  tally.verified++;
  pool.release(slice);
  collectGarbage();
  fresh.check(`in round ${round}`);
}

async function ownedDropped(_mode: Mode, c: Context): Promise<void> {
  const { ring, r, w, round, tally } = c;
  let buf: Uint8Array | null = allocateBuffer(4096);
  const address = addressNumber(buf);
  const region = retainIo(buf)!;
  ring.prepRead(r, buf, -1).userData = round;
  ring.submit();
  buf = null; // the Ring's hold is all that is left
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 0));
  const fresh = new Canaries();
  fresh.add(4096, round);
  fresh.add(65536, round + 1);
  const payload = pattern(4096, 4000 + round);
  writeFd(w, payload);
  assert.equal(collect(ring, 1).get(round), 4096);
  // The hold kept the memory: reading it at its address is safe.
  assert.ok(equalBytes(new Uint8Array(memoryAt(address, 4096)), payload));
  tally.verified++;
  releaseIo(region);
  fresh.check(`in round ${round}`);
}

/** Waits for a promise expected to stay pending while the pipe is idle. */
async function settleOf<T>(p: Promise<T>): Promise<[T | undefined, unknown]> {
  try {
    return [await p, undefined];
  } catch (error) {
    return [undefined, error];
  }
}

async function ringOwnedRead(mode: Mode, c: Context): Promise<void> {
  const { async: ring, r, w, round, tally } = c;
  const size = round % 2 === 0 ? 4096 : 64;
  const buf = allocateBuffer(size);
  const pending = ring.read(r, buf, -1);
  assert.equal(
    await tryMove(mode, buf.buffer as ArrayBuffer, tally),
    "refused",
  );
  const fresh = new Canaries();
  fresh.add(size, round);
  const payload = pattern(size, 5000 + round);
  assert.equal(writeFd(w, payload), size);
  assert.equal(await pending, size);
  assert.ok(equalBytes(buf, payload), `round ${round}: data`);
  tally.verified++;
  if (round % 2 === 0) releaseBuffer(buf);
  collectGarbage();
  fresh.check(`in round ${round}`);
}

async function ringStagedRead(mode: Mode, c: Context): Promise<void> {
  const { async: ring, r, w, round, tally } = c;
  const size = round % 2 === 0 ? 64 : 4096;
  const caller = new Uint8Array(size);
  const pending = ring.read(r, caller, -1);
  const moved = await tryMove(mode, caller.buffer, tally);
  assert.notEqual(moved, "refused", "a plain buffer can be moved");
  const fresh = new Canaries();
  fresh.add(size, round);
  fresh.add(size * 2 + 4096, round + 1);
  assert.equal(writeFd(w, pattern(size, 6000 + round)), size);
  const [, error] = await settleOf(pending);
  assert.ok(
    error instanceof TypeError &&
      /detached, transferred or shrunk/.test(error.message),
    `round ${round}: ${error}`,
  );
  tally.undelivered++;
  if (moved instanceof ArrayBuffer) {
    assert.ok(new Uint8Array(moved).every((b) => b === 0), "moved memory");
  }
  collectGarbage();
  fresh.check(`in round ${round}`);
}

async function ringWrite(
  mode: Mode,
  c: Context,
  owned: boolean,
): Promise<void> {
  const { async: ring, r, w, round, tally } = c;
  const size = round % 2 === 0 ? 64 : 4096;
  const caller = owned ? allocateBuffer(size) : new Uint8Array(size);
  caller.set(pattern(size, 7000 + round));
  const snapshot = caller.slice();
  // A full pipe keeps the write waiting in the kernel (or the pool thread).
  assert.equal(writeFd(w, filler), filler.byteLength);
  const pending = ring.write(w, caller, -1);
  const moved = await tryMove(mode, caller.buffer as ArrayBuffer, tally);
  assert.equal(moved === "refused", owned, `${mode}: refused iff owned`);
  const fresh = new Canaries();
  fresh.add(size, round);
  readExactly(r, filler.byteLength);
  assert.equal(await pending, size);
  assert.ok(equalBytes(readExactly(r, size), snapshot), `round ${round}`);
  tally.verified++;
  collectGarbage();
  fresh.check(`in round ${round}`);
}

const GROUPS = {
  "ring-owned-read": ringOwnedRead,
  "ring-staged-read": ringStagedRead,
  "ring-owned-write": (m: Mode, c: Context) => ringWrite(m, c, true),
  "ring-staged-write": (m: Mode, c: Context) => ringWrite(m, c, false),
  "owned-read": ownedRead,
  "staged-read": stagedRead,
  "staged-write": stagedWrite,
  "owned-dropped": ownedDropped,
};

/** Runs `rounds` rounds of `group` for each mode; returns the tallies. */
async function run(
  group: keyof typeof GROUPS,
  rounds: number,
  fallback: boolean,
): Promise<Record<string, Tally>> {
  const longLived = new Canaries();
  for (let i = 0; i < 96; i++) longLived.add([16, 64, 4096, 65536][i % 4], i);
  const modes: readonly Mode[] = group === "owned-dropped"
    ? ["transfer-same"]
    : MODES;
  const out: Record<string, Tally> = {};
  for (const mode of modes) {
    const ring = new RingCore({ entries: 8 });
    const [r, w] = pipeFds();
    const pool = new StagingPool();
    const async: AsyncRing = fallback
      ? new FallbackRing({ threads: 2 })
      : new Ring({ entries: 8 });
    const tally = { rounds: 0, refused: 0, undelivered: 0, verified: 0 };
    try {
      for (let round = 0; round < rounds; round++) {
        await GROUPS[group](mode, { ring, async, r, w, pool, round, tally });
        tally.rounds++;
      }
      assert.equal(pool.stats().inUse, 0);
      assert.equal(async.pending, 0);
    } finally {
      await async.close();
      ring.close();
      closeFd(r);
      closeFd(w);
      pool.close();
    }
    longLived.check(`after ${group} ${mode}`);
    out[mode] = tally;
  }
  return out;
}

if (import.meta.main) {
  const [name, rounds] = process.argv.slice(2);
  const fallback = name.endsWith("-fallback");
  const group = fallback ? name.slice(0, -"-fallback".length) : name;
  if (!(group in GROUPS)) throw new Error(`unknown group ${name}`);
  assert.ok(collectGarbage(), "no forced GC: run with --expose-gc");
  const result = await run(
    group as keyof typeof GROUPS,
    Number(rounds),
    fallback,
  );
  worker?.terminate();
  console.log(`result ${JSON.stringify(result)}`);
}
