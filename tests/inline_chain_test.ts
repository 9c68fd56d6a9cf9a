/**
 * The Promise layer's inline completion handling (ring/inline_chain.ts):
 * it sleeps in the kernel only for requests that complete on their own,
 * and its chains end when the event loop turns. (Timer lateness under a
 * full-speed loop is promise_loop_test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  alignedBuffer,
  closeFd,
  O_DIRECT,
  O_RDONLY,
  openFd,
  Ring,
} from "../mod.ts";
import { pipeFds } from "../raw.ts";
import { storageFdHint } from "../sys/fd.ts";
import { directIoDir, pattern, skipUnless, withTempFile } from "./helpers.ts";
import {
  DEVICE_WAIT_US,
  INLINE_WAIT_TIMEOUT_US,
  InlineChain,
  MIN_BOUNDED_WAIT_US,
  SLOW_WAIT_US,
  WAKE_CHAIN_BUDGET_MS,
} from "../ring/inline_chain.ts";

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

test("storageFdHint: a regular file is storage; a pipe and a character device are not", () => {
  const file = openFd("/proc/self/exe", O_RDONLY);
  const devNull = openFd("/dev/null", O_RDONLY);
  const [r, w] = pipeFds();
  try {
    assert.equal(storageFdHint(file), true);
    assert.equal(storageFdHint(devNull), false);
    assert.equal(storageFdHint(r), false);
    assert.equal(storageFdHint(-1), false);
  } finally {
    for (const fd of [file, devNull, r, w]) closeFd(fd);
  }
});

test("a read of an empty pipe in flight never makes the JS thread sleep in the kernel", async () => {
  // The time the JS thread spends inside io_uring_enter waits while a read
  // that will not complete is the only request in flight. Sleeping for it
  // would show as the sleep's timeout (5 ms) on every fresh ring; the
  // event loop's own pace (slow under emulation) does not count.
  const asleepMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    await using ring = new Ring({ entries: 8 });
    const core = ring.core;
    const wait = core.waitCqeTimeout.bind(core);
    let inWaits = 0;
    core.waitCqeTimeout = (minComplete, timeoutUs, submit) => {
      const start = performance.now();
      try {
        return wait(minComplete, timeoutUs, submit);
      } finally {
        inWaits += performance.now() - start;
      }
    };
    const [r, w] = pipeFds();
    try {
      const pending = ring.read(r, new Uint8Array(1), -1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      asleepMs.push(inWaits);
      closeFd(w); // the read ends with 0 (end of file)
      assert.equal(await pending, 0);
    } finally {
      closeFd(r);
    }
  }
  console.log(
    `in kernel waits with a pipe read in flight: ${
      asleepMs.map((ms) => ms.toFixed(3)).join(", ")
    } ms`,
  );
  assert.ok(
    median(asleepMs) < 2,
    `the JS thread slept ${median(asleepMs).toFixed(2)} ms for a pipe read`,
  );
});

test("InlineChain: a chain ends at its budget; waits stop after timeouts and for slow completions", () => {
  const chain = new InlineChain(500);
  assert.equal(chain.open(1000), true); // the first flush starts the chain
  assert.equal(chain.open(1000.4), true);
  assert.equal(chain.open(1000.6), false); // 0.6 ms > 0.5 ms budget
  chain.reset();
  assert.equal(chain.open(2000), true);
  assert.ok(chain.waitUs(2000) > 0);
  chain.waited(-62, 5000); // a timeout: the next waits are skipped
  assert.equal(chain.waitUs(2000.01), 0);
  chain.reset();
  // Completions that keep taking longer than SLOW_WAIT_US stop the waits.
  const slow = new InlineChain(500);
  slow.open(0);
  for (let i = 0; i < 20; i++) slow.waited(1, SLOW_WAIT_US * 4);
  assert.equal(slow.waitUs(0.1), 0);
  // A budget of 0 still reaps once per turn, and never waits.
  const none = new InlineChain(0);
  assert.equal(none.open(5), true);
  assert.equal(none.waitUs(5), 0);
  assert.equal(none.open(5), false);
});

test("InlineChain: a chain started by a wake-up of the waiter gets the short budget, the next turn the full one again", () => {
  const chain = new InlineChain(500);
  const inside = WAKE_CHAIN_BUDGET_MS * 0.9;
  const past = WAKE_CHAIN_BUDGET_MS * 1.1;
  chain.reset(true); // a wake-up: no timer has run since the last chain
  assert.equal(chain.open(1000), true);
  assert.equal(chain.open(1000 + inside), true);
  assert.ok(chain.waitUs(1000 + inside) > 0);
  assert.equal(chain.open(1000 + past), false);
  assert.equal(chain.waitUs(1000 + past), 0);
  chain.reset(); // a turn of the event loop: the whole budget
  assert.equal(chain.open(2000), true);
  assert.equal(chain.open(2000 + past), true);
  assert.equal(chain.open(2000.4), true);
  assert.equal(chain.open(2000.6), false);
  // Never longer than the ring's own budget.
  const small = new InlineChain(WAKE_CHAIN_BUDGET_MS * 500);
  small.reset(true);
  assert.equal(small.open(3000), true);
  assert.equal(small.open(3000 + WAKE_CHAIN_BUDGET_MS * 0.6), false);
});

test("InlineChain: a sleep for a device's completion ends with the chain's budget, and its timeout does not back off", () => {
  const chain = new InlineChain(500);
  chain.open(1000);
  // Memory-backed requests only: the long timeout.
  assert.equal(chain.waitUs(1000.1), INLINE_WAIT_TIMEOUT_US);
  // An O_DIRECT request in flight: what is left of the 0.5 ms budget.
  assert.equal(chain.waitUs(1000.1, true), 400);
  assert.equal(chain.waitUs(1000.49, true), MIN_BOUNDED_WAIT_US);
  // Timed out at the budget: the next chain sleeps again, no skipping.
  chain.waited(-62, 400);
  chain.reset();
  chain.open(2000);
  assert.equal(chain.waitUs(2000, true), 500);
  // Completions that came as slowly as a device's bound the sleep too.
  const slowish = new InlineChain(500);
  slowish.open(0);
  for (let i = 0; i < 40; i++) slowish.waited(1, DEVICE_WAIT_US * 2);
  assert.equal(slowish.waitUs(0.2), 300);
  // An unbounded timeout still backs off.
  const quick = new InlineChain(500);
  quick.open(0);
  assert.equal(quick.waitUs(0), INLINE_WAIT_TIMEOUT_US);
  quick.waited(-62, 5000);
  assert.equal(quick.waitUs(0.01), 0);
});

const DIRECT_DIR = directIoDir();
test(
  "O_DIRECT reads at depth 16: the chain sleeps in the kernel for the next completions instead of arming the waiter mid-burst",
  skipUnless(
    "O_DIRECT chain sleeps",
    DIRECT_DIR === null && "no file system here accepts O_DIRECT opens",
  ),
  async () => {
    const BLOCK = 4096;
    const blocks = 1024;
    const contents = pattern(blocks * BLOCK, 21);
    await withTempFile(
      { dir: DIRECT_DIR!, contents, flags: O_DIRECT },
      async (fd) => {
        await using ring = new Ring({ entries: 16 });
        const core = ring.core;
        const wait = core.waitCqeTimeout.bind(core);
        let sleeps = 0;
        core.waitCqeTimeout = (minComplete, timeoutUs, submit) => {
          sleeps++;
          return wait(minComplete, timeoutUs, submit);
        };
        const started = performance.now();
        let reads = 0;
        let offset = 0;
        await Promise.all(Array.from({ length: 16 }, async () => {
          const buffer = alignedBuffer(BLOCK);
          while (reads < 4000) {
            reads++;
            const block = (offset = (offset + 37) % blocks);
            assert.equal(await ring.read(fd, buffer, block * BLOCK), BLOCK);
            assert.equal(buffer[7], contents[block * BLOCK + 7]);
          }
        }));
        const elapsedMs = performance.now() - started;
        // One batch of 16 completions per cycle: how long a cycle took.
        const cycleUs = (elapsedMs * 1000) / (reads / 16);
        console.log(
          `${reads} O_DIRECT reads at depth 16 in ${
            elapsedMs.toFixed(0)
          } ms: ${sleeps} sleeps in the kernel, a cycle of 16 took ${
            cycleUs.toFixed(0)
          } µs`,
        );
        // Where cycles take milliseconds (an emulated disk), waits are
        // slower than SLOW_WAIT_US and the chain rightly leaves most of the
        // waiting to the waiter. Elsewhere it must sleep: while the early
        // submit of a burst armed the waiter, the later flushes of the
        // burst only submitted, and it hardly did (1-7 sleeps for 4000 reads
        // here; 200 with the early submit only submitting).
        if (cycleUs < 4 * SLOW_WAIT_US) {
          assert.ok(
            sleeps >= reads / 256,
            `${sleeps} sleeps in the kernel for ${reads} reads`,
          );
        }
      },
    );
  },
);
