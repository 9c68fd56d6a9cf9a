// Ring setup options, the opcode probe, and close semantics.
import { test } from "node:test";
import { release } from "node:os";
import assert from "node:assert/strict";
import {
  closeFd,
  Cqe32View,
  describeSetupFlags,
  EINVAL,
  fileStatusFlags,
  IORING_FEAT_NODROP,
  IORING_FEAT_SINGLE_MMAP,
  IORING_OP_NOP,
  IORING_OP_READ,
  IORING_OP_WRITE,
  IORING_SETUP_ATTACH_WQ,
  IORING_SETUP_CLAMP,
  IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_CQE32,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_SQARRAY,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQE128,
  IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_TASKRUN_FLAG,
  IoUringUnavailableError,
  kernelRelease,
  OPCODES,
  pipeFds,
  releaseAtLeast,
  Ring,
  RingClosedError,
  RingCore,
  type RingOptions,
  UringError,
} from "../raw.ts";
import { collect, pattern, withRing, withTempFile } from "./helpers.ts";

/** A NOP and a 4 KiB write + read on a tmpfs file, through `ring`. */
function exercise(ring: RingCore): void {
  ring.prepNop().userData = 1;
  assert.equal(collect(ring, 1).get(1), 0);
  withTempFile({ size: 8192 }, (fd) => {
    const data = pattern(4096, ring.flags);
    const back = new Uint8Array(4096);
    ring.prepWrite(fd, data, 4096).userData = 2;
    assert.equal(collect(ring, 1).get(2), 4096);
    ring.prepRead(fd, back, 4096).userData = 3;
    assert.equal(collect(ring, 1).get(3), 4096);
    assert.deepEqual(back, data);
  });
}

test("default ring: 64 entries, CQ twice as big, NODROP and single mmap", () => {
  withRing({}, (ring) => {
    assert.equal(ring.sqEntries, 64);
    assert.equal(ring.cqEntries, 128);
    assert.ok(ring.features & IORING_FEAT_NODROP);
    assert.ok(ring.features & IORING_FEAT_SINGLE_MMAP);
    assert.ok(ring.fd >= 0);
    assert.equal(ring.closed, false);
    exercise(ring);
  });
});

test("entries are rounded up to a power of two", () => {
  withRing({ entries: 5 }, (ring) => {
    assert.equal(ring.sqEntries, 8);
    assert.equal(ring.cqEntries, 16);
  });
});

// One test per boolean/valued option: the ring gets the flag and works.
const FLAG_CASES: Array<[string, RingOptions, number]> = [
  ["cqEntries", { entries: 4, cqEntries: 64 }, IORING_SETUP_CQSIZE],
  [
    "clamp",
    { entries: 32768, cqEntries: 65536, clamp: true },
    IORING_SETUP_CLAMP,
  ],
  ["singleIssuer", { singleIssuer: true }, IORING_SETUP_SINGLE_ISSUER],
  ["coopTaskrun", { coopTaskrun: true }, IORING_SETUP_COOP_TASKRUN],
  [
    "taskrunFlag",
    { coopTaskrun: true, taskrunFlag: true },
    IORING_SETUP_TASKRUN_FLAG,
  ],
  [
    "deferTaskrun",
    { singleIssuer: true, deferTaskrun: true },
    IORING_SETUP_DEFER_TASKRUN,
  ],
  [
    "deferTaskrun + taskrunFlag",
    { singleIssuer: true, deferTaskrun: true, taskrunFlag: true },
    IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
  ],
  ["sqe128", { sqe128: true }, IORING_SETUP_SQE128],
  ["cqe32", { cqe32: true }, IORING_SETUP_CQE32],
  ["submitAll", { submitAll: true }, IORING_SETUP_SUBMIT_ALL],
  ["noSqArray: true", { noSqArray: true }, IORING_SETUP_NO_SQARRAY],
];

// Flags some supported kernels lack: there, asking for one must fail with
// an error naming the flag and the release that added it.
const FLAG_SINCE: Record<string, [number, number, string]> = {
  "noSqArray: true": [6, 6, "IORING_SETUP_NO_SQARRAY"],
};
const RELEASE = kernelRelease();

for (const [name, options, bits] of FLAG_CASES) {
  test(`setup option ${name} sets its flag and the ring does I/O`, () => {
    const since = FLAG_SINCE[name];
    if (since && !releaseAtLeast(RELEASE, since[0], since[1])) {
      assert.throws(
        () => new RingCore(options),
        (e: unknown) =>
          e instanceof IoUringUnavailableError &&
          e.message.includes(`${since[2]} (Linux ${since[0]}.${since[1]})`),
      );
      return;
    }
    withRing(options, (ring) => {
      assert.equal(ring.flags & bits, bits);
      if (options.cqEntries) assert.equal(ring.cqEntries, options.cqEntries);
      exercise(ring);
    });
  });
}

test("noSqArray: false uses the SQ index array, 'auto' drops it on 6.6+", () => {
  withRing({ noSqArray: false }, (ring) => {
    assert.equal(ring.flags & IORING_SETUP_NO_SQARRAY, 0);
    exercise(ring);
    // Many cycles so every slot of the index array is used more than once.
    for (let i = 0; i < 200; i++) {
      ring.prepNop().userData = i;
      assert.equal(collect(ring, 1).get(i), 0);
    }
  });
  withRing({ noSqArray: "auto" }, (ring) => {
    // "auto" takes the flag from 6.6 on and falls back to the index array
    // before (the 6.1 guest of scripts/test_vm.sh).
    assert.equal(
      ring.flags & IORING_SETUP_NO_SQARRAY,
      releaseAtLeast(RELEASE, 6, 6) ? IORING_SETUP_NO_SQARRAY : 0,
    );
    exercise(ring);
  });
});

test("attachWq shares the worker pool of another ring", () => {
  withRing({ entries: 4 }, (first) => {
    withRing({ entries: 4, attachWq: first }, (second) => {
      assert.ok(second.flags & IORING_SETUP_ATTACH_WQ);
      exercise(second);
      exercise(first);
    });
  });
  assert.throws(
    () => new RingCore({ attachWq: {} as unknown as RingCore }),
    TypeError,
  );
});

test("iopoll rings set up (NOPs complete on them)", () => {
  withRing({ entries: 4, iopoll: true }, (ring) => {
    assert.ok(ring.flags & IORING_SETUP_IOPOLL);
    ring.prepNop().userData = 5;
    assert.equal(collect(ring, 1).get(5), 0);
  });
});

test("sqpoll option forms are accepted and checked", () => {
  withRing({ entries: 4, sqpoll: { idleMs: 5 } }, (ring) => exercise(ring));
  assert.throws(
    () => new RingCore({ sqpoll: { idle: 5 } as never }),
    TypeError,
  );
  assert.throws(() => new RingCore({ sqpoll: 5 as never }), TypeError);
});

test("unknown option names and wrong option types are TypeErrors", () => {
  assert.throws(
    () => new RingCore({ entires: 8 } as unknown as RingOptions),
    (e: unknown) => e instanceof TypeError && /entires/.test(e.message),
  );
  assert.throws(() => new RingCore({ sqPoll: true } as never), TypeError);
  assert.throws(() => new RingCore({ clamp: 1 } as never), TypeError);
  assert.throws(() => new RingCore({ noSqArray: "yes" } as never), TypeError);
  assert.throws(() => new RingCore("8" as never), TypeError);
  assert.throws(() => new RingCore({ entries: "8" } as never), TypeError);
});

test("bad entries are RangeErrors", () => {
  for (const entries of [0, -1, 32769, 2 ** 40]) {
    assert.throws(() => new RingCore({ entries }), RangeError, String(entries));
  }
  assert.throws(() => new RingCore({ entries: 4, cqEntries: 0 }), RangeError);
  assert.throws(
    () => new RingCore({ entries: 4, cqEntries: 65537 }),
    RangeError,
  );
});

test("setup refused by the kernel is a UringError naming io_uring_setup", () => {
  // A CQ smaller than the SQ is refused without CLAMP.
  assert.throws(
    () => new RingCore({ entries: 8, cqEntries: 2 }),
    (e: unknown) =>
      e instanceof UringError && e.errno === EINVAL &&
      e.op === "io_uring_setup",
  );
  // TASKRUN_FLAG without COOP_TASKRUN/DEFER_TASKRUN: the message names flags.
  assert.throws(
    () => new RingCore({ taskrunFlag: true }),
    (e: unknown) =>
      e instanceof UringError && e.errno === EINVAL &&
      /IORING_SETUP_TASKRUN_FLAG \(Linux 5\.19\)/.test(e.message),
  );
});

test("describeSetupFlags names flags with the kernel that added them", () => {
  assert.deepEqual(describeSetupFlags(IORING_SETUP_DEFER_TASKRUN), [
    "IORING_SETUP_DEFER_TASKRUN (Linux 6.1)",
  ]);
  assert.deepEqual(describeSetupFlags(0), []);
  assert.equal(
    describeSetupFlags(IORING_SETUP_NO_SQARRAY | IORING_SETUP_CQSIZE).length,
    2,
  );
});

test("probe lists the ops the kernel has, including every op the library issues", () => {
  withRing({ entries: 2 }, (ring) => {
    const probe = ring.probe();
    assert.ok(probe.lastOp >= IORING_OP_WRITE);
    assert.ok(probe.ops.includes(IORING_OP_NOP));
    assert.ok(probe.supported.has("READ"));
    assert.ok(probe.supported.has("WRITE"));
    assert.ok(probe.supported.has("NOP"));
    // An op newer than the running kernel (ftruncate on 6.1) is one the
    // library refuses with its release; every other one must be there.
    const [major, minor] = release().split(".").map(Number);
    for (const spec of Object.values(OPCODES)) {
      const [sinceMajor, sinceMinor] = spec.since.split(".").map(Number);
      if (sinceMajor > major || (sinceMajor === major && sinceMinor > minor)) {
        console.log(`${spec.name}: Linux ${spec.since}+, not on ${release()}`);
        continue;
      }
      assert.ok(probe.ops.includes(spec.opcode), spec.name);
    }
    assert.ok(probe.ops.every((op) => op <= probe.lastOp));
  });
});

test("probe agrees with the kernel: supported ops run, an op past lastOp is EINVAL", () => {
  withRing({ entries: 4 }, (ring) => {
    const { lastOp, ops } = ring.probe();
    assert.ok(ops.includes(IORING_OP_NOP) && ops.includes(IORING_OP_READ));
    ring.prepNop().userData = 1;
    const sqe = ring.getSqe()!;
    sqe.opcode = lastOp + 1;
    sqe.fd = -1;
    sqe.userData = 2;
    const results = collect(ring, 2);
    assert.equal(results.get(1), 0);
    assert.equal(results.get(2), -EINVAL);
    withTempFile({ contents: pattern(16, 1) }, (fd) => {
      const buf = new Uint8Array(16);
      ring.prepRead(fd, buf, 0).userData = 3;
      assert.equal(collect(ring, 1).get(3), 16);
      assert.deepEqual(buf, pattern(16, 1));
    });
  });
});

test("close with unreaped completions and in-flight requests", () => {
  const [r, w] = pipeFds();
  try {
    const ring = new RingCore({ entries: 8 });
    const fd = ring.fd;
    for (let i = 0; i < 4; i++) ring.prepNop().userData = i;
    ring.prepRead(r, new Uint8Array(8), -1).userData = 99; // never completes
    ring.submitAndWait(4);
    const cqe = ring.peekCqe()!;
    assert.equal(cqe.res, 0);
    assert.equal(ring.cqReady(), 4);
    ring.close();
    assert.equal(ring.closed, true);
    // The ring fd is gone; a stale CQE view reads zeros instead of faulting.
    assert.throws(() => fileStatusFlags(fd), UringError);
    assert.equal(cqe.userData, 0n);
    assert.equal(cqe.res, 0);
  } finally {
    closeFd(r);
    closeFd(w);
  }
});

test("use after close is a RingClosedError, for every entry point", () => {
  const ring = new RingCore({ entries: 4 });
  ring.close();
  const calls: Array<[string, () => unknown]> = [
    ["getSqe", () => ring.getSqe()],
    ["prepNop", () => ring.prepNop()],
    ["prepRaw", () => ring.prepRaw(0, -1, 0, 0, 0, 1)],
    ["prepRead", () => ring.prepRead(0, new Uint8Array(1), 0)],
    ["submit", () => ring.submit()],
    ["submitAndWait", () => ring.submitAndWait(1)],
    ["peekCqe", () => ring.peekCqe()],
    ["waitCqe", () => ring.waitCqe()],
    ["cqReady", () => ring.cqReady()],
    ["cqAdvance", () => ring.cqAdvance(1)],
    ["reap", () => ring.reap(() => {})],
    ["probe", () => ring.probe()],
    ["registerFiles", () => ring.registerFiles([0])],
    ["registerBuffers", () => ring.registerBuffers([new Uint8Array(8)])],
    ["enter", () => ring.enter(0, 0, 0)],
  ];
  for (const [name, call] of calls) {
    assert.throws(call, RingClosedError, name);
  }
});

test("close twice is a RingClosedError; dispose after close is quiet", () => {
  const ring = new RingCore({ entries: 2 });
  ring.close();
  assert.throws(() => ring.close(), RingClosedError);
  ring[Symbol.dispose]();
  const other = new RingCore({ entries: 2 });
  other[Symbol.dispose]();
  assert.equal(other.closed, true);
  assert.throws(() => other.close(), RingClosedError);
});

test("many rings opened and closed do not leak descriptors or mappings", () => {
  const before = new RingCore({ entries: 2 });
  const firstFd = before.fd;
  before.close();
  for (let i = 0; i < 200; i++) new RingCore({ entries: 64 }).close();
  const after = new RingCore({ entries: 2 });
  // The lowest free descriptor is reused: nothing stayed open.
  assert.equal(after.fd, firstFd);
  after.close();
});

test("Ring (the Promise class) holds a RingCore that drives the same low-level API, and disposes synchronously", () => {
  const promiseRing = new Ring({ entries: 8 });
  const ring = promiseRing.core;
  try {
    assert.ok(ring instanceof RingCore);
    exercise(ring);
    const sqe = ring.getSqe()!;
    sqe.opcode = IORING_OP_NOP;
    sqe.userData = 77n;
    ring.submitAndWait(1);
    const cqe = ring.waitCqe();
    assert.equal(cqe.userData, 77n);
    assert.equal(cqe.res, 0);
    ring.cqAdvance(1);
  } finally {
    promiseRing[Symbol.dispose]();
  }
  assert.equal(promiseRing.closed, true);
  assert.equal(ring.closed, true);
});

test("a CQE32 ring hands out 32-byte Cqe32View completions", () => {
  withRing({ entries: 4, cqe32: true }, (ring) => {
    ring.prepNop().userData = 3;
    ring.submitAndWait(1);
    const cqe = ring.peekCqe()!;
    assert.ok(cqe instanceof Cqe32View);
    assert.equal(cqe.userData, 3n);
    assert.equal(cqe.bigCqe0, 0n);
    assert.equal(cqe.bigCqe1, 0n);
    ring.cqAdvance(1);
  });
});
