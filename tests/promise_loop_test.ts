// Promise API and the event loop: a 1 ms timer keeps firing during a
// full-speed read loop, and an idle ring with nothing in flight costs no CPU.
// Each is measured against a baseline in the same run (the runtime's own fs,
// a loop that yields every step, the process before the ring existed), so
// the machine's load cannot decide the result.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Ring } from "../raw.ts";
import { pattern, withTempFile } from "./helpers.ts";
import { open } from "node:fs/promises";
import { setImmediate } from "node:timers";
import {
  compareLateness,
  deadline,
  type LatenessComparison,
  type LatenessReport,
  runScriptsTogether,
  sleep,
} from "./promise_helpers.ts";

const FILE_SIZE = 1 << 24; // 16 MiB
/**
 * Each side runs ROUNDS rounds of ROUND_MS, alternating; the worst gap is
 * taken as the median of the rounds' worst, so one descheduling of the
 * process by a loaded machine does not decide it, while a gap the ring
 * causes, which comes back every round, does.
 */
const ROUNDS = 5;
const ROUND_MS = 300;

/**
 * Runs `depth` loops that each read a random 4 KiB block of a `fileSize`
 * file with `read` and await it, until `ms` have passed; returns how many
 * reads completed.
 */
async function readFor(
  read: (buf: Uint8Array, offset: number) => Promise<number>,
  depth: number,
  ms: number,
  fileSize: number,
): Promise<number> {
  const end = performance.now() + ms;
  const blocks = fileSize / 4096;
  let done = 0;
  const worker = async (seed: number) => {
    const buf = new Uint8Array(4096);
    let x = seed;
    while (performance.now() < end) {
      x = (x * 1103515245 + 12345) >>> 0;
      const n = await read(buf, (x % blocks) * 4096);
      if (n !== 4096) throw new Error(`short read: ${n}`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: depth }, (_, i) => worker(i + 1)));
  return done;
}

/** One line for the test log: what a 1 ms timer did under a workload. */
function describe(what: string, lag: LatenessReport): string {
  return `${what}: timer ${lag.ticks}/${lag.expected} ticks, ` +
    `lateness p99 ${lag.p99.toFixed(2)} ms, max ${lag.max.toFixed(2)} ms ` +
    `(median of the rounds' max ${lag.medianMax.toFixed(2)} ms)`;
}

/**
 * The timer under the ring's workload against the timer under a baseline
 * workload measured in the same run, alternating, so the machine's load
 * (other test runs, the CI host) moves both alike. The margins are the ones
 * these tests used as absolute bounds before (no gap over 100 ms, p99 under
 * 20 ms, at least 30 % of the ticks), now on top of what the baseline got:
 * they catch starvation (a ring whose wake-ups run ahead of due timers, an
 * unbounded series of inline completions: gaps of tens to hundreds of ms, a
 * small fraction of the ticks) without failing when the whole machine is
 * slow. The 2 ms lag target belongs to the benchmark (bench/read.sh).
 * Bun schedules an interval's next tick from when the last one ran, so each
 * tick about 1 ms late costs a tick: hence a share, not all ticks.
 */
function assertTimersKeepUp(lag: LatenessComparison): void {
  const { subject, baseline } = lag;
  assert.ok(
    subject.medianMax <= baseline.medianMax + 100,
    `timer late by up to ${subject.medianMax.toFixed(2)} ms (median of ` +
      `the rounds' worst) under the ring, ${
        baseline.medianMax.toFixed(2)
      } ms under the baseline`,
  );
  assert.ok(
    subject.p99 <= baseline.p99 + 20,
    `timer lateness p99 ${subject.p99.toFixed(2)} ms under the ring, ` +
      `${baseline.p99.toFixed(2)} ms under the baseline`,
  );
  assert.ok(
    subject.share >= 0.3 * baseline.share,
    `timer fired ${subject.ticks}/${subject.expected} times under the ring, ` +
      `${baseline.ticks}/${baseline.expected} under the baseline`,
  );
}

test("a 1 ms timer keeps firing during a full-speed read loop, as under the runtime's own fs", async () => {
  await withTempFile({ contents: pattern(FILE_SIZE, 9) }, async (fd, path) => {
    await using ring = new Ring({ entries: 64 });
    const handle = await open(path, "r");
    let ringReads = 0;
    let fsReads = 0;
    let lag: LatenessComparison;
    try {
      lag = await deadline(
        compareLateness(
          async () => {
            ringReads += await readFor(
              (buf, offset) => ring.read(fd, buf, offset),
              64,
              ROUND_MS,
              FILE_SIZE,
            );
          },
          async () => {
            fsReads += await readFor(
              async (buf, offset) =>
                (await handle.read(buf, 0, buf.length, offset)).bytesRead,
              64,
              ROUND_MS,
              FILE_SIZE,
            );
          },
          ROUNDS,
        ),
        2 * ROUNDS * ROUND_MS + 30_000,
        "read loops",
      );
    } finally {
      await handle.close();
    }
    console.log(describe(`uring: ${ringReads} reads`, lag.subject));
    console.log(describe(`node:fs/promises: ${fsReads} reads`, lag.baseline));
    assert.ok(ringReads > 1000, `only ${ringReads} reads`);
    assertTimersKeepUp(lag);
  });
});

/**
 * A child process that reads a 1 MiB file 32 deep for 200 ms, through a
 * ring (`ring`) or through node:fs/promises (`fs`), settles, then prints
 * its idle CPU (ms per second, median of 100 ms windows) as JSON; the ring
 * stays open while it idles.
 */
function idleChild(mode: "ring" | "fs"): string {
  const helpers = new URL("./promise_helpers.ts", import.meta.url).href;
  return `
import { Ring } from "__MOD__";
import { idleCpuRate, sleep } from "${helpers}";
import { open, rm, writeFile } from "node:fs/promises";
import process from "node:process";
const path = "/dev/shm/uring-idle-${mode}-" + process.pid;
await writeFile(path, new Uint8Array(1 << 20));
const handle = await open(path, "r");
const ring = ${mode === "ring"} ? new Ring({ entries: 64 }) : undefined;
try {
  const read = ring
    ? (buf, offset) => ring.read(handle.fd, buf, offset)
    : async (buf, offset) => (await handle.read(buf, 0, buf.length, offset)).bytesRead;
  const end = performance.now() + 200;
  await Promise.all(Array.from({ length: 32 }, async (_, i) => {
    const buf = new Uint8Array(4096);
    for (let x = i; performance.now() < end; x = (x * 7 + 1) % 256) {
      if (await read(buf, x * 4096) !== 4096) throw new Error("short read");
    }
  }));
  if (ring && ring.pending !== 0) throw new Error("requests left: " + ring.pending);
  await sleep(300); // the runtime finishes what the work left
  const idle = await idleCpuRate(2000, 100);
  if (ring && await ring.nop() !== 0) throw new Error("ring unusable after idling");
  console.log(JSON.stringify({ idle }));
} finally {
  await ring?.close();
  await handle.close();
  await rm(path, { force: true });
}
`;
}

test("idle CPU with the ring open after work is that of a process that did the same work with the runtime's own fs", async () => {
  // Two processes side by side, so the machine's load falls on both alike
  // and neither carries what earlier tests of this runner left behind.
  const [withRing, baseline] = await runScriptsTogether(
    [idleChild("ring"), idleChild("fs")],
    60_000,
  );
  for (const child of [withRing, baseline]) {
    assert.equal(child.status, 0, child.stderr);
  }
  const idle = JSON.parse(withRing.stdout).idle as number;
  const fsIdle = JSON.parse(baseline.stdout).idle as number;
  console.log(
    `idle CPU: ${idle.toFixed(1)} ms/s with a ring open, ` +
      `${fsIdle.toFixed(1)} ms/s in the node:fs process beside it`,
  );
  // A waiter that polls, a timer left running or a busy marker loop costs
  // tens to hundreds of ms per second; the runtimes' own idle noise here is
  // 5-30 ms/s, alike in both processes.
  assert.ok(
    idle <= fsIdle + 10,
    `${idle.toFixed(1)} ms/s of CPU while idle with a ring open, ` +
      `${fsIdle.toFixed(1)} ms/s without`,
  );
});

test("requests that complete inline cannot starve timers: a NOP loop against a loop that yields every step", async () => {
  await using ring = new Ring({ entries: 8 });
  let nops = 0;
  const lag = await compareLateness(
    async () => {
      const end = performance.now() + ROUND_MS;
      while (performance.now() < end) {
        assert.equal(await ring.nop(), 0);
        nops++;
      }
    },
    async () => {
      // The best an async loop can do for timers: a macrotask turn per step.
      const end = performance.now() + ROUND_MS;
      while (performance.now() < end) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    ROUNDS,
  );
  console.log(describe(`uring: ${nops} NOPs`, lag.subject));
  console.log(describe("setImmediate loop", lag.baseline));
  // Every NOP completes during its submit, so without a bound the loop
  // would chain microtasks for the whole run and the timer never fire.
  assertTimersKeepUp(lag);
});

test("an idle ring hands an inline completion back without a trip through the event loop", async () => {
  await using ring = new Ring({ entries: 8 });
  for (let round = 0; round < 3; round++) {
    await sleep(5); // idle: the next request starts a new series
    let settled = false;
    const nop = ring.nop().then((res) => {
      settled = true;
      return res;
    });
    // Microtasks only: a waiter wake-up would need a turn of the event loop.
    for (let i = 0; i < 20 && !settled; i++) await null;
    assert.equal(settled, true, `round ${round}: settled only via the waiter`);
    assert.equal(await nop, 0);
  }
});
