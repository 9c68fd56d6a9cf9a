/**
 * Adversarial tests of library-owned and staged I/O memory: while a real
 * io_uring read or write is in flight (blocked on a pipe), the program
 * moves the buffer's memory away with plain JavaScript, in the four ways
 * the engines offer: `transfer()` to a larger size, `transfer()` at the
 * same size, `structuredClone(x, { transfer })`, `postMessage(x, [x])` to a
 * Worker. Then the pipe is made ready, so the kernel does its copy. Each
 * case runs 200 rounds with a full GC after every round, and canary arrays
 * must come out intact. The rounds run in child processes
 * (tests/memory_transfer_child.ts says why); the groups run side by side.
 * Before this design, the same sequence with a caller's buffer given
 * straight to the kernel killed the process (issue #14).
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import type { Buffer } from "node:buffer";
import { collect, pattern } from "./helpers.ts";
import { closeFd, pipeFds, RingCore, writeFd } from "../raw.ts";
import { StagingPool } from "../memory/mod.ts";
import { MODES } from "./memory_transfer_child.ts";

const ROUNDS = 200;
const CHILD = new URL("./memory_transfer_child.ts", import.meta.url).pathname;

interface Tally {
  rounds: number;
  refused: number;
  undelivered: number;
  verified: number;
}

interface Outcome {
  status: number | null;
  signal: string | null;
  result: Record<string, Tally> | null;
  stderr: string;
}

/**
 * The fallback backend's groups repeat what the io_uring ones prove with a
 * thread pool in place of the kernel: fewer rounds keep the file's time
 * reasonable on a loaded machine.
 */
const FALLBACK_ROUNDS = 50;

/** Runs one group in a child of the current runtime, with a forced GC. */
function runGroup(
  group: string,
  rounds = group.endsWith("-fallback") ? FALLBACK_ROUNDS : ROUNDS,
): Promise<Outcome> {
  // deno-lint-ignore no-explicit-any
  const isDeno = typeof (globalThis as any).Deno?.version === "object";
  const args = isDeno
    ? ["run", "-A", "--v8-flags=--expose-gc", CHILD, group, String(rounds)]
    : [CHILD, group, String(rounds)];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => stdout += d.toString());
    child.stderr!.on("data", (d: Buffer) => stderr += d.toString());
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      const line = stdout.split("\n").find((l) => l.startsWith("result "));
      resolve({
        status,
        signal,
        result: line ? JSON.parse(line.slice(7)) : null,
        stderr,
      });
    });
  });
}

// Started together at load: four children share the cores while the tests
// below wait for their own.
const RING_GROUPS = [
  "ring-staged-read",
  "ring-staged-write",
  "ring-owned-read",
  "ring-owned-write",
];
const groups: string[] = [
  "owned-read",
  "staged-read",
  "staged-write",
  "owned-dropped",
  ...RING_GROUPS,
  ...RING_GROUPS.map((g) => `${g}-fallback`),
];
const outcomes = new Map(groups.map((g) => [g, runGroup(g)]));

async function outcome(group: string): Promise<Record<string, Tally>> {
  const o = await outcomes.get(group)!;
  assert.equal(o.signal, null, `${group}: killed by ${o.signal}\n${o.stderr}`);
  assert.equal(o.status, 0, `${group}: exit ${o.status}\n${o.stderr}`);
  assert.ok(o.result, `${group}: no result line\n${o.stderr}`);
  return o.result;
}

test(`library-owned buffer, read in flight: all four moves refused with a TypeError, bytes land, canaries intact (${ROUNDS} rounds each)`, async () => {
  const result = await outcome("owned-read");
  for (const mode of MODES) {
    assert.deepEqual(result[mode], {
      rounds: ROUNDS,
      refused: ROUNDS,
      undelivered: 0,
      verified: ROUNDS,
    }, mode);
  }
});

test(`caller buffer, staged read in flight: all four moves go through, delivery is a TypeError, the kernel never touches the moved memory (${ROUNDS} rounds each)`, async () => {
  const result = await outcome("staged-read");
  for (const mode of MODES) {
    assert.deepEqual(result[mode], {
      rounds: ROUNDS,
      refused: 0,
      undelivered: ROUNDS,
      verified: 0,
    }, mode);
  }
});

test(`caller buffer, staged write in flight: all four moves go through, the snapshot is what arrives (${ROUNDS} rounds)`, async () => {
  const result = await outcome("staged-write");
  for (const mode of MODES) {
    assert.deepEqual(result[mode], {
      rounds: ROUNDS,
      refused: 0,
      undelivered: 0,
      verified: ROUNDS,
    }, mode);
  }
});

test(`library-owned buffer with every view collected mid-read: the hold keeps the memory, the bytes land (${ROUNDS} rounds)`, async () => {
  const result = await outcome("owned-dropped");
  assert.equal(result["transfer-same"].verified, ROUNDS);
});

function withPipe(fn: (ring: RingCore, r: number, w: number) => void): void {
  const ring = new RingCore({ entries: 4 });
  const [r, w] = pipeFds();
  try {
    fn(ring, r, w);
  } finally {
    ring.close();
    closeFd(r);
    closeFd(w);
  }
}

test("a staged read into a view nobody moved delivers the bytes (byteOffset 1)", () => {
  const pool = new StagingPool();
  try {
    withPipe((ring, r, w) => {
      const caller = new Uint8Array(100).subarray(1, 65);
      const slice = pool.acquire(64);
      ring.prepRead(r, slice.bytes.subarray(0, 64), -1).userData = 1;
      ring.submit();
      const payload = pattern(64, 7);
      writeFd(w, payload);
      pool.copyOut(slice, caller, collect(ring, 1).get(1)!);
      assert.deepEqual(caller, payload);
      pool.release(slice);
    });
  } finally {
    pool.close();
  }
});

test("a staged read into a resizable buffer shrunk mid-flight is a TypeError, nothing delivered", () => {
  const pool = new StagingPool();
  try {
    withPipe((ring, r, w) => {
      const ab = new ArrayBuffer(128, { maxByteLength: 256 });
      const caller = new Uint8Array(ab); // tracks the buffer's length
      const slice = pool.acquire(128);
      ring.prepRead(r, slice.bytes.subarray(0, 128), -1).userData = 1;
      ring.submit();
      ab.resize(16);
      writeFd(w, pattern(128, 8));
      const res = collect(ring, 1).get(1)!;
      assert.throws(
        () => pool.copyOut(slice, caller, res),
        (e: unknown) =>
          e instanceof TypeError &&
          /has 16 bytes, 128 were read/.test(e.message),
      );
      assert.ok(caller.every((b) => b === 0), "nothing was delivered");
      pool.release(slice);
    });
  } finally {
    pool.close();
  }
});

/** What each public-API group must count per mode, out of ROUNDS. */
const RING_EXPECTED: Record<string, Omit<Tally, "rounds">> = {
  "ring-staged-read": { refused: 0, undelivered: ROUNDS, verified: 0 },
  "ring-staged-write": { refused: 0, undelivered: 0, verified: ROUNDS },
  "ring-owned-read": { refused: ROUNDS, undelivered: 0, verified: ROUNDS },
  "ring-owned-write": { refused: ROUNDS, undelivered: 0, verified: ROUNDS },
};

for (const backend of ["io_uring", "fallback"]) {
  for (const group of RING_GROUPS) {
    const fallback = backend === "fallback";
    const name = fallback ? `${group}-fallback` : group;
    const rounds = fallback ? FALLBACK_ROUNDS : ROUNDS;
    test(`public API on ${backend}: ${group.slice(5)} in flight, all four moves, every promise settles, canaries intact (${rounds} rounds each)`, async () => {
      const result = await outcome(name);
      const expected = RING_EXPECTED[group];
      const scale = (n: number) => n === ROUNDS ? rounds : n;
      for (const mode of MODES) {
        assert.deepEqual(result[mode], {
          rounds,
          refused: scale(expected.refused),
          undelivered: scale(expected.undelivered),
          verified: scale(expected.verified),
        }, mode);
      }
    });
  }
}
