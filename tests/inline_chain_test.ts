/**
 * The Promise layer's inline completion handling (ring/inline_chain.ts):
 * it sleeps in the kernel only for requests that complete on their own,
 * and its chains end when the event loop turns. (Timer lateness under a
 * full-speed loop is promise_loop_test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeFd, O_RDONLY, openFd, Ring } from "../mod.ts";
import { pipeFds } from "../raw.ts";
import { storageFdHint } from "../sys/fd.ts";
import { InlineChain, SLOW_WAIT_US } from "../ring/inline_chain.ts";

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
  // What a NOP takes right after a read that will not complete was
  // queued, against the same on a ring with nothing else in flight. If the
  // pump slept in the kernel for the pipe read, the NOP would wait out the
  // sleep's timeout (5 ms) on every fresh ring.
  const firstNop = async (withPipe: boolean) => {
    await using ring = new Ring({ entries: 8 });
    const [r, w] = pipeFds();
    try {
      await ring.nop(); // the ring's first submit, outside the timing
      const start = performance.now();
      const pending = withPipe
        ? ring.read(r, new Uint8Array(1), -1).catch(() => -1)
        : undefined;
      await ring.nop();
      const took = performance.now() - start;
      closeFd(w); // the read ends with 0 (end of file)
      if (pending) assert.equal(await pending, 0);
      return took;
    } finally {
      closeFd(r);
    }
  };
  const withPipe: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < 7; i++) {
    without.push(await firstNop(false));
    withPipe.push(await firstNop(true));
  }
  console.log(
    `first NOP: ${
      median(withPipe).toFixed(3)
    } ms with a pipe read in flight, ` +
      `${median(without).toFixed(3)} ms without (medians of 7)`,
  );
  assert.ok(
    median(withPipe) < median(without) + 3,
    `a NOP waited ${median(withPipe).toFixed(2)} ms behind a pipe read`,
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
