/**
 * Fuzzing the public functions with fast-check: random argument values
 * (valid, nearly valid and absurd) go into every Promise and prep method of
 * Ring / RingCore / FallbackRing and into openFd, openFile, alignedBuffer,
 * generatePi and verifyPi. The only errors allowed back are the typed ones
 * (TypeError, RangeError, UringError and its subclasses, RingClosedError,
 * SubmissionQueueFullError, a TimeoutError), and the process stays healthy:
 * a NOP round trip works after every function's runs.
 *
 * Safety: descriptors are drawn from /dev/null (opened here), a number that
 * is never open, and invalid values, so the fuzzer never touches the test
 * runner's own fds; paths are limited to ones that cannot create files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import process from "node:process";
import {
  alignedBuffer,
  closeFd,
  generatePi,
  O_RDWR,
  openFd,
  openFile,
  Ring,
  RingClosedError,
  RingCore,
  SubmissionQueueFullError,
  UringError,
  verifyPi,
} from "../raw.ts";
import { FallbackRing } from "../ring/fallback.ts";
import type { AsyncRing } from "../ring/async_ring.ts";
import { pattern, withTempFile } from "./helpers.ts";

const RUNS = 200;
const NEVER_OPEN = 1_000_000; // above any RLIMIT_NOFILE: always EBADF

const detached = new Uint8Array(8);
structuredClone(detached.buffer, { transfer: [detached.buffer] });

/** An array whose length reads differently on every access. */
function shiftingArray(): unknown[] {
  let reads = 0;
  return new Proxy([new Uint8Array(8), new Uint8Array(8)], {
    get(target, key, receiver) {
      if (key === "length") return [2, 1024, 0, 1][reads++ % 4];
      return Reflect.get(target, key, receiver);
    },
  });
}

/** Options whose getters answer differently each time they are read. */
function shiftingOptions(): object {
  let reads = 0;
  return {
    get timeoutMs() {
      return [5, -1, undefined, NaN][reads++ % 4];
    },
    get signal() {
      return reads++ % 2 ? undefined : "not a signal";
    },
  };
}

const weird = fc.oneof(
  fc.anything(),
  fc.constantFrom(
    -1,
    -0,
    0.5,
    NaN,
    Infinity,
    -Infinity,
    2 ** 31,
    2 ** 53,
    2 ** 63,
    2 ** 64,
  ),
  fc.bigInt(),
  fc.string({ maxLength: 8 }),
  fc.constant(detached),
  fc.constant(new ArrayBuffer(8)),
  fc.constant(new DataView(new ArrayBuffer(8))),
  // Proxies and getters that change their answers between reads.
  fc.constant(0).map(() => shiftingArray()),
  fc.constant(0).map(() => shiftingOptions()),
  // Huge lengths and counts.
  fc.constantFrom(2 ** 32, 2 ** 53 - 1, Number.MAX_VALUE, 1n << 64n),
  fc.constant(0).map(() => new Array(1025).fill(new Uint8Array(1))),
);

function fdArb(devNull: number, allowOpen = true) {
  return fc.oneof(
    fc.constantFrom(...(allowOpen ? [devNull, NEVER_OPEN] : [NEVER_OPEN])),
    fc.integer({ min: -1000, max: -1 }),
    weird,
  );
}
/**
 * Descriptors for calls that change a file (close, ftruncate): /dev/null,
 * a never-open number and invalid values only, never an arbitrary small
 * integer that could be one of the test runner's own fds.
 */
function safeFdArb(devNull: number) {
  return fc.oneof(
    fc.constantFrom(devNull, NEVER_OPEN, -0, -1, 0.5, 2 ** 31, NaN, 2 ** 53),
    fc.integer({ min: -1000, max: -1 }),
    fc.bigInt(),
    fc.string({ maxLength: 4 }),
    fc.constant(undefined),
  );
}
const bufArb = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.int32Array({ maxLength: 8 }),
  weird,
);
const buffersArb = fc.oneof(fc.array(bufArb, { maxLength: 4 }), weird);
const offsetArb = fc.oneof(
  fc.integer({ min: -2, max: 1 << 20 }),
  fc.bigInt({ min: -2n, max: 2n ** 64n }),
  weird,
);
const intArb = fc.oneof(fc.integer(), fc.integer({ min: 0, max: 300 }), weird);
const optsArb = fc.oneof(
  fc.constant(undefined),
  fc.record(
    {
      timeoutMs: fc.oneof(fc.integer({ min: -5, max: 50 }), weird),
      signal: fc.oneof(
        fc.constant(AbortSignal.abort()),
        fc.constant(new AbortController().signal),
        weird,
      ),
      dirfd: fc.oneof(fc.constant(-100), weird),
      mask: intArb,
      flags: intArb,
      pi: weird,
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.anything(), { maxKeys: 3 }),
  weird,
);
// Paths that can never create a file, whatever the flags.
const pathArb = fc.oneof(
  fc.constantFrom(
    "",
    "/dev/null",
    "/nonexistent-uring-fuzz/x",
    "a\0b",
    "/proc/self/status",
  ),
  weird,
);

function typed(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError ||
    error instanceof UringError || error instanceof RingClosedError ||
    error instanceof SubmissionQueueFullError ||
    (error instanceof DOMException &&
      (error.name === "TimeoutError" || error.name === "AbortError"));
}

/** Calls `fn`, awaiting a promise; fails on any untyped error. */
async function call(fn: () => unknown): Promise<void> {
  try {
    const value = fn();
    if (value instanceof Promise) await value;
  } catch (error) {
    if (!typed(error)) {
      throw new Error(
        `untyped error: ${
          error instanceof Error
            ? `${error.name}: ${error.message}`
            : String(error)
        }`,
      );
    }
  }
}

type Case = [string, fc.Arbitrary<unknown[]>, (args: unknown[]) => unknown];

// deno-lint-ignore no-explicit-any
type AnyFn = (...args: any[]) => unknown;

function promiseCases(
  label: string,
  ring: AsyncRing,
  devNull: number,
  opened: number[],
): Case[] {
  const r = ring as unknown as Record<string, AnyFn>;
  const fd = fdArb(devNull);
  return [
    [
      `${label}.read`,
      fc.tuple(fd, bufArb, offsetArb, optsArb),
      (a) => r.read(...a),
    ],
    [
      `${label}.write`,
      fc.tuple(fd, bufArb, offsetArb, optsArb),
      (a) => r.write(...a),
    ],
    [
      `${label}.readv`,
      fc.tuple(fd, buffersArb, offsetArb, optsArb),
      (a) => r.readv(...a),
    ],
    [
      `${label}.writev`,
      fc.tuple(fd, buffersArb, offsetArb, optsArb),
      (a) => r.writev(...a),
    ],
    [
      `${label}.readFixed`,
      fc.tuple(fd, bufArb, offsetArb, intArb, optsArb),
      (a) => r.readFixed(...a),
    ],
    [
      `${label}.writeFixed`,
      fc.tuple(fd, bufArb, offsetArb, intArb, optsArb),
      (a) => r.writeFixed(...a),
    ],
    [`${label}.fsync`, fc.tuple(fd, optsArb), (a) => r.fsync(...a)],
    [`${label}.fdatasync`, fc.tuple(fd, optsArb), (a) => r.fdatasync(...a)],
    [
      `${label}.openat`,
      fc.tuple(pathArb, intArb, intArb, optsArb),
      async (a) => {
        // It may succeed on /dev/null: only what openat itself returned is closed.
        opened.push(await (r.openat(...a) as Promise<number>));
      },
    ],
    [
      `${label}.closeFd`,
      fc.tuple(safeFdArb(NEVER_OPEN), optsArb),
      (a) => r.closeFd(...a),
    ],
    [
      `${label}.close(fd) is refused`,
      fc.tuple(safeFdArb(NEVER_OPEN)),
      async (a) => {
        await assert.rejects(r.close(...a) as Promise<unknown>, TypeError);
      },
    ],
    [
      `${label}.ftruncate`,
      fc.tuple(safeFdArb(devNull), offsetArb, optsArb),
      (a) => r.ftruncate(...a),
    ],
    [
      `${label}.statx`,
      fc.tuple(fc.oneof(pathArb, fd), optsArb),
      (a) => r.statx(...a),
    ],
    [
      `${label}.fallocate`,
      fc.tuple(fd, intArb, offsetArb, offsetArb, optsArb),
      (a) => r.fallocate(...a),
    ],
    [`${label}.nop`, fc.tuple(optsArb), (a) => r.nop(...a)],
    [
      `${label}.registerBuffers`,
      fc.tuple(buffersArb),
      (a) => r.registerBuffers(...a),
    ],
  ];
}

function coreCases(core: RingCore, devNull: number): Case[] {
  const c = core as unknown as Record<string, AnyFn>;
  const fd = fdArb(devNull);
  const prepPath = fc.oneof(
    fc.constantFrom("", "/nonexistent-uring-fuzz/x", "a\0b"),
    weird,
  );
  return [
    [
      "new RingCore",
      fc.tuple(optsArb),
      (a) => new RingCore(...(a as [])).close(),
    ],
    [
      "new RingCore(record)",
      fc.tuple(
        fc.record({
          entries: intArb,
          cqEntries: intArb,
          flags: intArb,
          sqpoll: weird,
          clamp: weird,
        }, { requiredKeys: [] }),
      ),
      (a) => new RingCore(...(a as [])).close(),
    ],
    ["prepRead", fc.tuple(fd, bufArb, offsetArb), (a) => c.prepRead(...a)],
    ["prepWrite", fc.tuple(fd, bufArb, offsetArb), (a) => c.prepWrite(...a)],
    [
      "prepReadv",
      fc.tuple(fd, buffersArb, offsetArb),
      (a) => c.prepReadv(...a),
    ],
    [
      "prepWritev",
      fc.tuple(fd, buffersArb, offsetArb),
      (a) => c.prepWritev(...a),
    ],
    [
      "prepReadFixed",
      fc.tuple(fd, bufArb, offsetArb, intArb),
      (a) => c.prepReadFixed(...a),
    ],
    [
      "prepWriteFixed",
      fc.tuple(fd, bufArb, offsetArb, intArb),
      (a) => c.prepWriteFixed(...a),
    ],
    ["prepFsync", fc.tuple(fd, optsArb), (a) => c.prepFsync(...a)],
    [
      "prepOpenat",
      fc.tuple(prepPath, intArb, intArb, fc.oneof(fc.constant(-100), weird)),
      (a) => c.prepOpenat(...a),
    ],
    ["prepClose", fc.tuple(fdArb(devNull, false)), (a) => c.prepClose(...a)],
    [
      "prepFtruncate",
      fc.tuple(safeFdArb(devNull), offsetArb),
      (a) => c.prepFtruncate(...a),
    ],
    [
      "prepStatx",
      fc.tuple(
        fc.oneof(fc.constant(-100), fd),
        prepPath,
        intArb,
        intArb,
        bufArb,
      ),
      (a) => c.prepStatx(...a),
    ],
    [
      "prepFallocate",
      fc.tuple(fd, intArb, offsetArb, offsetArb),
      (a) => c.prepFallocate(...a),
    ],
    [
      "prepTimeout",
      fc.tuple(
        fc.oneof(fc.integer({ min: -5, max: 20 }), weird),
        intArb,
        intArb,
      ),
      (a) => c.prepTimeout(...a),
    ],
    [
      "prepLinkTimeout",
      fc.tuple(fc.oneof(fc.integer({ min: -5, max: 20 }), weird), intArb),
      (a) => c.prepLinkTimeout(...a),
    ],
    [
      "prepCancel",
      fc.tuple(
        fc.oneof(
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          fc.integer({ min: 0 }),
        ),
        intArb,
      ),
      (a) => c.prepCancel(...a),
    ],
    // Any valid count above what is in flight would (rightly) wait for ever.
    [
      "submitAndWait",
      fc.tuple(
        fc.constantFrom(0, -1, 0.5, NaN, Infinity, 2 ** 32, "1", null, 1n, {}),
      ),
      (a) => c.submitAndWait(...a),
    ],
    [
      "registerFiles",
      fc.tuple(fc.oneof(fc.array(fdArb(devNull), { maxLength: 3 }), weird)),
      (a) => {
        c.registerFiles(...a);
        c.unregisterFiles();
      },
    ],
    [
      "registerEventfd",
      fc.tuple(fc.oneof(fc.constant(NEVER_OPEN), weird), optsArb),
      (a) => c.registerEventfd(...a),
    ],
  ];
}

const LIBRARY_CASES: Case[] = [
  ["openFd", fc.tuple(pathArb, intArb, intArb), (a) => {
    const fd = (openFd as AnyFn)(...a) as number;
    closeFd(fd);
  }],
  ["openFile", fc.tuple(pathArb, optsArb), async (a) => {
    const file = await (openFile as AnyFn)(...a) as { close(): Promise<void> };
    await file.close();
  }],
  [
    "alignedBuffer",
    fc.tuple(
      fc.oneof(fc.integer({ min: -5, max: 1 << 16 }), weird),
      fc.oneof(fc.constantFrom(1, 2, 3, 512, 4096), weird),
    ),
    (a) => (alignedBuffer as AnyFn)(...a),
  ],
  [
    "generatePi",
    fc.tuple(
      bufArb,
      bufArb,
      fc.oneof(
        fc.record({
          guard: fc.constantFrom(
            "crc16-t10dif",
            "crc64-nvme",
            "crc32c",
            "ip",
            "x",
          ),
          interval: fc.oneof(fc.constantFrom(0, 8, 16, 512), weird),
          appTag: intArb,
        }, { requiredKeys: ["guard", "interval"] }),
        weird,
      ),
    ),
    (a) => (generatePi as AnyFn)(...a),
  ],
  [
    "verifyPi",
    fc.tuple(
      bufArb,
      bufArb,
      fc.oneof(
        fc.record({
          guard: fc.constantFrom(
            "crc16-t10dif",
            "crc64-nvme",
            "crc32c",
            "ip",
            "x",
          ),
          interval: fc.oneof(fc.constantFrom(0, 8, 16, 512), weird),
          refTag: weird,
          check: weird,
        }, { requiredKeys: ["guard", "interval"] }),
        weird,
      ),
    ),
    (a) => (verifyPi as AnyFn)(...a),
  ],
];

async function fuzz(
  cases: Case[],
  afterEach: () => Promise<void>,
): Promise<void> {
  for (const [name, args, run] of cases) {
    if (process.env.FUZZ_DEBUG) console.log(`fuzzing ${name}`);
    try {
      await fc.assert(
        fc.asyncProperty(args, async (values) => {
          await call(() => run(values));
        }),
        { numRuns: RUNS, seed: 42 ^ name.length },
      );
    } catch (error) {
      throw new Error(`${name}: ${(error as Error).message}`);
    }
    await afterEach();
  }
}

/** Contents of the file a healthy ring must still read back correctly. */
const KNOWN = pattern(8192, 77);

/**
 * After a batch: nothing is left pending, a NOP round trip works and a
 * read returns the right bytes (the process is alive to answer at all).
 */
async function healthy(ring: AsyncRing, knownFd: number): Promise<void> {
  assert.equal(ring.pending, 0, "requests left pending after a batch");
  assert.equal(await ring.nop(), 0);
  const back = new Uint8Array(512);
  assert.equal(await ring.read(knownFd, back, 4096), 512);
  assert.deepEqual(back, KNOWN.subarray(4096, 4608));
}

function closeOpened(opened: number[]): void {
  for (const fd of opened.splice(0)) {
    try {
      closeFd(fd);
    } catch {
      // Closed by the fuzzed code already.
    }
  }
}

test("fuzz: Ring Promise API → only typed errors, NOP round trip afterwards", async () => {
  const devNull = openFd("/dev/null", O_RDWR);
  const opened: number[] = [];
  await using ring = new Ring({ entries: 32 });
  try {
    await withTempFile({ contents: KNOWN }, async (known) => {
      await fuzz(promiseCases("Ring", ring, devNull, opened), async () => {
        await healthy(ring, known);
        if (ring.registeredBuffers) ring.unregisterBuffers();
        closeOpened(opened);
      });
    });
  } finally {
    closeOpened(opened);
    closeFd(devNull);
  }
});

test("fuzz: FallbackRing Promise API → only typed errors, NOP afterwards", async () => {
  const devNull = openFd("/dev/null", O_RDWR);
  const opened: number[] = [];
  await using ring = new FallbackRing();
  try {
    await withTempFile({ contents: KNOWN }, async (known) => {
      await fuzz(
        promiseCases("FallbackRing", ring, devNull, opened),
        async () => {
          await healthy(ring, known);
          if (ring.registeredBuffers) ring.unregisterBuffers();
          closeOpened(opened);
        },
      );
    });
  } finally {
    closeOpened(opened);
    closeFd(devNull);
  }
});

test("fuzz: RingCore setup and prep helpers → only typed errors, NOP round trip afterwards", async () => {
  const devNull = openFd("/dev/null", O_RDWR);
  const core = new RingCore({ entries: 256 });
  const drain = () => {
    // Publish what was prepared; completions are read and dropped.
    core.submit();
    core.reap(() => {});
  };
  try {
    const cases = coreCases(core, devNull).map(([name, args, run]): Case => [
      name,
      args,
      (a) => {
        if (core.sqSpaceLeft() < 8) drain();
        return run(a);
      },
    ]);
    await fuzz(cases, async () => {
      drain();
      core.prepNop().userData = 77;
      core.submitAndWait(1);
      let seen = false;
      core.reap((id, res) => {
        if (id === 77 && res === 0) seen = true;
      });
      for (let i = 0; i < 100 && !seen; i++) {
        await new Promise((r) => setTimeout(r, 1));
        core.submitAndWait(0);
        core.reap((id, res) => {
          if (id === 77 && res === 0) seen = true;
        });
      }
      assert.ok(seen, "NOP round trip failed");
    });
  } finally {
    core.close();
    closeFd(devNull);
  }
});

test("fuzz: openFd, openFile, alignedBuffer, generatePi, verifyPi → only typed errors", async () => {
  await fuzz(LIBRARY_CASES, async () => {
    await using ring = new Ring({ entries: 2 });
    assert.equal(await ring.nop(), 0);
  });
});
