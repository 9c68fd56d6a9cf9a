// Promise API and the event loop: a 1 ms timer keeps firing during a
// full-speed read loop, and an idle ring with nothing in flight costs no CPU.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Ring } from "../raw.ts";
import { pattern, withTempFile } from "./helpers.ts";
import {
  cpuMs,
  deadline,
  sleep,
  startLatenessProbe,
} from "./promise_helpers.ts";

const FILE_SIZE = 1 << 24; // 16 MiB
const LOOP_MS = 3000;

/** Reads 4 KiB blocks of a `fileSize` file at `depth` for `ms`; returns the count. */
async function readFor(
  ring: Ring,
  fd: number,
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
      const n = await ring.read(fd, buf, (x % blocks) * 4096);
      if (n !== 4096) throw new Error(`short read: ${n}`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: depth }, (_, i) => worker(i + 1)));
  return done;
}

test("a 1 ms interval timer keeps firing during a full-speed read loop", async () => {
  await withTempFile({ contents: pattern(FILE_SIZE, 9) }, async (fd) => {
    await using ring = new Ring({ entries: 64 });
    const stop = startLatenessProbe();
    const reads = await deadline(
      readFor(ring, fd, 64, LOOP_MS, FILE_SIZE),
      LOOP_MS + 30_000,
      "read loop",
    );
    const lag = stop();
    console.log(
      `read loop: ${reads} reads in ${LOOP_MS} ms; timer ${lag.ticks}/${lag.expected} ticks, ` +
        `lateness p99 ${lag.p99.toFixed(2)} ms, max ${lag.max.toFixed(2)} ms`,
    );
    assert.ok(reads > 1000, `only ${reads} reads`);
    // Generous bounds: the 2 ms target belongs to the benchmark; this is a
    // shared 2-core machine with three busy threads (JS, the completion
    // waiter, the kernel's io-wq worker). "Keeps firing" is: no gap over
    // 100 ms, p99 lateness under 20 ms, and a steady share of the ticks.
    // The share is 30 %, not more: Bun schedules an interval's next tick
    // from when the last one ran, so each tick about 1 ms late costs a tick
    // (measured: 46-75 % on Bun, 60-94 % on Deno, with p99 at 1-3 ms).
    assert.ok(lag.max < 100, `timer late by up to ${lag.max} ms`);
    assert.ok(lag.p99 < 20, `timer lateness p99 ${lag.p99} ms`);
    assert.ok(
      lag.ticks >= lag.expected * 0.3,
      `timer fired ${lag.ticks} times of ${lag.expected}`,
    );
  });
});

test("idle CPU with the ring open after work is about zero", async () => {
  await withTempFile({ contents: pattern(1 << 20, 10) }, async (fd) => {
    await using ring = new Ring({ entries: 64 });
    await readFor(ring, fd, 32, 200, 1 << 20);
    assert.equal(ring.pending, 0);
    await sleep(50); // let the last timers and waiter wake-ups finish
    const before = cpuMs();
    await sleep(1000);
    const used = cpuMs() - before;
    console.log(`idle CPU over 1 s: ${used.toFixed(1)} ms`);
    assert.ok(used < 50, `${used} ms of CPU while idle`);
    // Still fully usable after idling.
    assert.equal(await ring.nop(), 0);
  });
});

test("requests that complete inline cannot starve timers: a 1 s NOP loop", async () => {
  await using ring = new Ring({ entries: 8 });
  const stop = startLatenessProbe();
  const end = performance.now() + 1000;
  let nops = 0;
  while (performance.now() < end) {
    assert.equal(await ring.nop(), 0);
    nops++;
  }
  const lag = stop();
  console.log(
    `nop loop: ${nops} NOPs; timer ${lag.ticks}/${lag.expected} ticks, ` +
      `lateness p99 ${lag.p99.toFixed(2)} ms, max ${lag.max.toFixed(2)} ms`,
  );
  // Every NOP completes during its submit, so without a bound the loop
  // would chain microtasks for the whole second and the timer never fire.
  assert.ok(lag.max < 100, `timer late by up to ${lag.max} ms`);
  assert.ok(
    lag.ticks >= lag.expected * 0.3,
    `timer fired ${lag.ticks} times of ${lag.expected}`,
  );
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
