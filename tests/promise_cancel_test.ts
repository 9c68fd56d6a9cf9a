// Promise API: abort (before submission, while blocked, after completion),
// linked timeouts, closing a ring with requests in flight, and rejections
// nobody awaits.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  alignedBuffer,
  closeFd,
  O_DIRECT,
  pipeFds,
  Ring,
  RingClosedError,
  UringError,
  writeFd,
} from "../raw.ts";
import { OPS } from "../ring/ops.ts";
import { type PendingOp, PendingRequests } from "../ring/pending.ts";
import { directIoDir, pattern, skipUnless, withTempFile } from "./helpers.ts";
import { deadline, runScript, sleep } from "./promise_helpers.ts";

/** Runs `fn` with both ends of a fresh pipe, closing them afterwards. */
async function withPipe<T>(
  fn: (readEnd: number, writeEnd: number) => Promise<T>,
): Promise<T> {
  const [readEnd, writeEnd] = pipeFds();
  try {
    return await fn(readEnd, writeEnd);
  } finally {
    closeFd(readEnd);
    closeFd(writeEnd);
  }
}

function isAbortError(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

test("abort before submission: an already-aborted signal rejects with its reason", async () => {
  await withPipe(async (readEnd) => {
    await using ring = new Ring({ entries: 8 });
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      ring.read(readEnd, new Uint8Array(8), -1, { signal: controller.signal }),
      isAbortError,
    );
    const reason = new Error("my reason");
    await assert.rejects(
      ring.nop({ signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
    assert.equal(ring.pending, 0);
  });
});

test("abort in the same tick, before the flush reaches the kernel", async () => {
  await withPipe(async (readEnd) => {
    await using ring = new Ring({ entries: 8 });
    const controller = new AbortController();
    const read = ring.read(readEnd, new Uint8Array(8), -1, {
      signal: controller.signal,
    });
    controller.abort();
    await assert.rejects(deadline(read, 10_000, "aborted read"), isAbortError);
    assert.equal(ring.pending, 0);
  });
});

test("abort while queued in the backlog never reaches the kernel", async () => {
  await withPipe(async (readEnd, writeEnd) => {
    await using ring = new Ring({ entries: 2 });
    // Fill the in-flight budget with blocked reads, then queue one more.
    const blockers = Array.from(
      { length: ring.core.cqEntries },
      () => ring.read(readEnd, new Uint8Array(1), -1),
    );
    const controller = new AbortController();
    const queued = ring.read(readEnd, new Uint8Array(1), -1, {
      signal: controller.signal,
    });
    await sleep(5);
    controller.abort();
    await assert.rejects(deadline(queued, 10_000, "queued read"), isAbortError);
    // The blockers still complete normally.
    writeFd(writeEnd, new Uint8Array(blockers.length).fill(7));
    assert.deepEqual(
      await deadline(Promise.all(blockers), 10_000, "blockers"),
      blockers.map(() => 1),
    );
  });
});

test("abort during: a read blocked on an empty pipe is cancelled", async () => {
  await withPipe(async (readEnd, writeEnd) => {
    await using ring = new Ring({ entries: 8 });
    const controller = new AbortController();
    const buf = new Uint8Array(8);
    const read = ring.read(readEnd, buf, -1, { signal: controller.signal });
    await sleep(20);
    assert.equal(ring.pending, 1);
    controller.abort();
    await assert.rejects(deadline(read, 10_000, "aborted read"), isAbortError);
    assert.equal(ring.pending, 0);
    // The cancelled read consumed nothing: the next read gets the data.
    writeFd(writeEnd, pattern(8, 1));
    const next = new Uint8Array(8);
    assert.equal(await ring.read(readEnd, next, -1), 8);
    assert.deepEqual(next, pattern(8, 1));
    assert.deepEqual(buf, new Uint8Array(8));
  });
});

test("abort after completion changes nothing", async () => {
  await withTempFile({ contents: pattern(4096, 2) }, async (fd) => {
    await using ring = new Ring({ entries: 8 });
    const controller = new AbortController();
    const buf = new Uint8Array(4096);
    const read = ring.read(fd, buf, 0, { signal: controller.signal });
    assert.equal(await read, 4096);
    controller.abort();
    assert.equal(await read, 4096);
    assert.deepEqual(buf, pattern(4096, 2));
    // No stray cancel or listener: the ring keeps working.
    assert.equal(
      await ring.nop({ signal: controller.signal }).catch(() => -1),
      -1,
    );
    assert.equal(await ring.nop(), 0);
    assert.equal(ring.pending, 0);
  });
});

test("timeoutMs on a read of an empty pipe rejects with a TimeoutError", async () => {
  await withPipe(async (readEnd, writeEnd) => {
    await using ring = new Ring({ entries: 8 });
    const started = performance.now();
    const error = await deadline(
      ring.read(readEnd, new Uint8Array(8), -1, { timeoutMs: 50 }).then(
        () => null,
        (e) => e,
      ),
      10_000,
      "timed read",
    );
    const elapsed = performance.now() - started;
    assert.ok(error instanceof DOMException, String(error));
    assert.equal(error.name, "TimeoutError");
    assert.ok(elapsed >= 40, `timed out after ${elapsed} ms`);
    // A read that completes in time resolves normally.
    writeFd(writeEnd, pattern(4, 3));
    assert.equal(
      await ring.read(readEnd, new Uint8Array(4), -1, { timeoutMs: 5000 }),
      4,
    );
    assert.equal(ring.pending, 0);
  });
});

test("close() with 500 operations in flight settles every promise", async () => {
  await withPipe(async (readEnd) => {
    await withTempFile({ contents: pattern(1 << 20, 4) }, async (fd) => {
      const ring = new Ring({ entries: 64 });
      const ops: Promise<number>[] = [];
      for (let i = 0; i < 500; i++) {
        ops.push(
          i % 2 === 0
            ? ring.read(readEnd, new Uint8Array(16), -1)
            : ring.read(fd, new Uint8Array(4096), (i * 4096) % (1 << 20)),
        );
      }
      const allSettled = Promise.allSettled(ops);
      await sleep(5); // some are in the kernel, the rest in the backlog
      await deadline(ring.close(), 10_000, "ring close");
      assert.equal(ring.closed, true);
      const settled = await deadline(allSettled, 10_000, "ops");
      assert.equal(settled.length, 500);
      for (const [i, outcome] of settled.entries()) {
        if (outcome.status === "fulfilled") {
          assert.ok(i % 2 === 1, `pipe read ${i} cannot have data`);
          assert.equal(outcome.value, 4096);
        } else {
          assert.ok(
            outcome.reason instanceof RingClosedError ||
              outcome.reason instanceof UringError,
            String(outcome.reason),
          );
        }
      }
      // New requests on a closed ring are refused.
      await assert.rejects(ring.nop(), RingClosedError);
    });
  });
});

/**
 * Reads 4 KiB blocks of `contents` through `fd` from 64 loops until the ring
 * refuses them, checking every block read; `close` ends it mid-stream.
 */
async function closeMidStream(
  fd: number,
  contents: Uint8Array,
  direct: boolean,
  close: (ring: Ring) => Promise<void> | void,
): Promise<void> {
  const ring = new Ring({ entries: 64 });
  const blocks = contents.length / 4096;
  let reads = 0;
  const loop = async (seed: number) => {
    const buf = direct ? alignedBuffer(4096) : new Uint8Array(4096);
    let x = seed;
    for (;;) {
      x = (x * 1103515245 + 12345) >>> 0;
      const at = (x % blocks) * 4096;
      let n: number;
      try {
        n = await ring.read(fd, buf, at);
      } catch (error) {
        // Closing cancels what is in flight and refuses what comes after.
        if (error instanceof RingClosedError) return;
        if (error instanceof UringError && error.code === "ECANCELED") return;
        throw error;
      }
      assert.equal(n, 4096);
      assert.deepEqual(buf, contents.subarray(at, at + 4096));
      reads++;
    }
  };
  const loops = Promise.all(Array.from({ length: 64 }, (_, i) => loop(i + 1)));
  // Close once the stream is going, not after a fixed time: under an
  // emulated CPU (TCG) 200 ms were not always enough for 64 reads.
  const until = Date.now() + 10_000;
  do await sleep(20); while (reads <= 64 && Date.now() < until);
  await deadline(Promise.resolve(close(ring)), 10_000, "close");
  assert.equal(ring.closed, true);
  await deadline(loops, 10_000, "read loops");
  assert.ok(reads > 64, `only ${reads} reads before the close`);
}

test("close() in the middle of a full-speed read loop settles every read", async () => {
  const contents = pattern(1 << 22, 12);
  await withTempFile(
    { contents },
    (fd) => closeMidStream(fd, contents, false, (ring) => ring.close()),
  );
});

test("Symbol.dispose in the middle of a full-speed read loop settles every read", async () => {
  const contents = pattern(1 << 22, 13);
  await withTempFile(
    { contents },
    (fd) =>
      closeMidStream(fd, contents, false, (ring) => ring[Symbol.dispose]()),
  );
});

const DIRECT_DIR = directIoDir();
test(
  "close() in the middle of an O_DIRECT read loop (chunked submits, early submits) settles every read",
  skipUnless(
    "close() mid O_DIRECT read loop",
    DIRECT_DIR === null && "no file system here accepts O_DIRECT opens",
  ),
  async () => {
    const contents = pattern(1 << 22, 14);
    await withTempFile(
      { dir: DIRECT_DIR!, contents, flags: O_DIRECT },
      (fd) => closeMidStream(fd, contents, true, (ring) => ring.close()),
    );
  },
);

test("Symbol.dispose with requests in flight blocks until the kernel is done", async () => {
  await withPipe(async (readEnd) => {
    const ring = new Ring({ entries: 16 });
    const ops = Array.from(
      { length: 40 },
      () => ring.read(readEnd, new Uint8Array(16), -1),
    );
    const allSettled = Promise.allSettled(ops);
    await sleep(5);
    ring[Symbol.dispose]();
    assert.equal(ring.closed, true);
    const settled = await deadline(allSettled, 10_000, "ops");
    assert.ok(settled.every((s) => s.status === "rejected"));
  });
});

const UNAWAITED = `
import process from "node:process";
import { closeFd, pipeFds, Ring, UringError } from "__MOD__";
const seen = [];
process.on("unhandledRejection", (reason) => seen.push(reason));
const ring = new Ring({ entries: 8 });
const [r, w] = pipeFds();
// Nobody awaits these: a kernel error, an abort and a timeout.
ring.read(w, new Uint8Array(8), -1);
const c = new AbortController();
ring.read(r, new Uint8Array(8), -1, { signal: c.signal });
ring.read(r, new Uint8Array(8), -1, { timeoutMs: 20 });
setTimeout(() => c.abort(), 10);
// All three rejections, however slow the machine (an emulated CPU needs
// more than a fixed 200 ms); a lost one still fails after 10 s.
for (let t = 0; t < 200 && seen.length < 3; t++) {
  await new Promise((res) => setTimeout(res, 50));
}
(globalThis.Bun?.gc ?? globalThis.gc ?? (() => {}))(true);
const n = await ring.nop();
await ring.close();
closeFd(r); closeFd(w);
console.log("alive", n, seen.length, seen.some((e) => e instanceof UringError));
`;

test("unawaited rejected promises do not crash the process", () => {
  const result = runScript(UNAWAITED);
  assert.equal(result.signal, null, `child died: ${result.stderr}`);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /alive 0 3 true/);
});

const UNHANDLED = `
import { Ring } from "__MOD__";
const ring = new Ring({ entries: 8 });
ring.read(12345, new Uint8Array(8), 0); // EBADF, never awaited, no handler
await new Promise((res) => setTimeout(res, 100));
console.log("still running");
`;

test("without a handler, an unawaited rejection is the runtime's ordinary report, not a crash", () => {
  const result = runScript(UNHANDLED);
  // The runtime's own unhandled-rejection policy decides the exit code;
  // what matters is an orderly exit (no signal) that names the error.
  assert.equal(result.signal, null, `child died: ${result.stderr}`);
  assert.match(result.stdout + result.stderr, /EBADF/);
});

test("user_data: a slot's generations stay small integers, and a stale one matches no request", () => {
  const requests = new PendingRequests(() => Promise.resolve(0), () => {});
  const request = () =>
    ({
      spec: OPS.nop,
      memory: null,
      state: 0,
      base: 0,
      keep: null,
      transform: null,
      signal: undefined,
      onAbort: undefined,
      deadline: undefined,
      timeoutMs: 0,
      resolve: () => {},
      reject: () => {},
    }) as unknown as PendingOp;
  const seen = new Set<number>();
  let previous = -1;
  // At depth 1 every request goes through slot 0: past 2^15 generations a
  // 16-bit generation made user_data a double (the slow first ring on
  // Deno, docs/perf.md), so this goes round the 14-bit generation twice.
  for (let i = 0; i < 40000; i++) {
    const op = request();
    requests.add(op);
    const userData = requests.reserveSlot();
    assert.equal(userData & 0xffff, 0);
    assert.ok(Number.isInteger(userData) && userData >= 0);
    assert.ok(
      userData < 2 ** 30,
      `user_data ${userData} is not a small integer`,
    );
    if (i < 16384) {
      assert.ok(
        !seen.has(userData),
        "a generation repeats within 16384 reuses",
      );
      seen.add(userData);
    }
    requests.track(op, userData);
    if (previous >= 0) {
      // The previous request's user_data (a late CQE) finds no request.
      assert.equal(requests.complete(previous, 0), undefined);
    }
    assert.equal(requests.complete(userData, 0), op);
    previous = userData;
  }
  assert.equal(requests.count, 0);
});
