/** waitCqeTimeout: a bounded wait for completions (IORING_ENTER_EXT_ARG). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeFd, pipeFds, RingCore, writeFd } from "../raw.ts";

test("waitCqeTimeout returns -ETIME after about the time given when nothing completes", () => {
  using ring = new RingCore({ entries: 2 });
  const started = performance.now();
  assert.equal(ring.waitCqeTimeout(1, 20_000), -62);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 15, `returned after ${elapsed} ms`);
  assert.equal(ring.cqReady(), 0);
});

test("waitCqeTimeout returns as soon as a completion arrives", () => {
  using ring = new RingCore({ entries: 2 });
  const [r, w] = pipeFds();
  try {
    const buf = new Uint8Array(4);
    ring.prepRead(r, buf, -1).userData = 5n;
    ring.submit();
    writeFd(w, new Uint8Array([1, 2, 3, 4]));
    const result = ring.waitCqeTimeout(1, 5_000_000);
    assert.ok(result >= 0, `result ${result}`);
    const cqe = ring.peekCqe()!;
    assert.equal(cqe.userData, 5n);
    assert.equal(cqe.res, 4);
    ring.cqAdvance(1);
    assert.deepEqual([...buf], [1, 2, 3, 4]);
  } finally {
    closeFd(r);
    closeFd(w);
  }
});
