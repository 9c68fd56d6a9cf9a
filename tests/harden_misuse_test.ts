/**
 * Misuse is refused before anything reaches the kernel: one table row per
 * bad argument of every public Promise and prep method of Ring / RingCore,
 * of FallbackRing, and of openFd, openFile, alignedBuffer, generatePi and
 * verifyPi. Each row names the error type and the argument the message
 * must name. Afterwards the rings still work (nothing half-prepared).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  alignedBuffer,
  closeFd,
  generatePi,
  openFd,
  openFile,
  Ring,
  RingCore,
  verifyPi,
} from "../raw.ts";
import { FallbackRing } from "../ring/fallback.ts";
import type { AsyncRing } from "../ring/async_ring.ts";

type Thrower = () => unknown;
type Row = [
  name: string,
  call: Thrower,
  type: typeof TypeError | typeof RangeError,
  names: RegExp,
];

const buf = new Uint8Array(16);
const resizable = new Uint8Array(
  new (ArrayBuffer as unknown as new (n: number, o: object) => ArrayBuffer)(8, {
    maxByteLength: 16,
  }),
);
const detached = new Uint8Array(8);
structuredClone(detached.buffer, { transfer: [detached.buffer] });
// deno-lint-ignore no-explicit-any
const any = (value: unknown): any => value;

/** Rows shared by Ring and FallbackRing: the Promise API. */
function promiseRows(label: string, r: AsyncRing): Row[] {
  return [
    [`${label}.read fd -1`, () => r.read(-1, buf, 0), RangeError, /fd/],
    [`${label}.read fd 1.5`, () => r.read(1.5, buf, 0), TypeError, /fd/],
    [`${label}.read fd "3"`, () => r.read(any("3"), buf, 0), TypeError, /fd/],
    [`${label}.read fd 2^31`, () => r.read(2 ** 31, buf, 0), RangeError, /fd/],
    [
      `${label}.read buf string`,
      () => r.read(0, any("x"), 0),
      TypeError,
      /buf/,
    ],
    [
      `${label}.read buf ArrayBuffer`,
      () => r.read(0, any(new ArrayBuffer(8)), 0),
      TypeError,
      /buf/,
    ],
    [
      `${label}.read buf array`,
      () => r.read(0, any([1, 2]), 0),
      TypeError,
      /buf/,
    ],
    [
      `${label}.read buf resizable`,
      () => r.read(0, resizable, 0),
      TypeError,
      /buf.*resizable/,
    ],
    [
      `${label}.read buf detached`,
      () => r.read(0, detached, 0),
      TypeError,
      /buf.*detached/,
    ],
    [`${label}.read offset -2`, () => r.read(0, buf, -2), RangeError, /offset/],
    [
      `${label}.read offset 0.5`,
      () => r.read(0, buf, 0.5),
      TypeError,
      /offset/,
    ],
    [
      `${label}.read offset NaN`,
      () => r.read(0, buf, NaN),
      TypeError,
      /offset/,
    ],
    [
      `${label}.read offset 2^63`,
      () => r.read(0, buf, 2 ** 63),
      RangeError,
      /offset/,
    ],
    [
      `${label}.read offset 2n^63n`,
      () => r.read(0, buf, 2n ** 63n),
      RangeError,
      /offset/,
    ],
    [
      `${label}.read offset -5n`,
      () => r.read(0, buf, -5n),
      RangeError,
      /offset/,
    ],
    [
      `${label}.read offset "0"`,
      () => r.read(0, buf, any("0")),
      TypeError,
      /offset/,
    ],
    [
      `${label}.read option typo`,
      () => r.read(0, buf, 0, any({ timeOut: 5 })),
      TypeError,
      /timeOut/,
    ],
    [
      `${label}.read options not object`,
      () => r.read(0, buf, 0, any(5)),
      TypeError,
      /options/,
    ],
    [
      `${label}.read signal not AbortSignal`,
      () => r.read(0, buf, 0, any({ signal: {} })),
      TypeError,
      /signal/,
    ],
    [
      `${label}.read timeoutMs -1`,
      () => r.read(0, buf, 0, { timeoutMs: -1 }),
      RangeError,
      /timeoutMs/,
    ],
    [
      `${label}.read timeoutMs Infinity`,
      () => r.read(0, buf, 0, { timeoutMs: Infinity }),
      RangeError,
      /timeoutMs/,
    ],
    [`${label}.write fd -1`, () => r.write(-1, buf, 0), RangeError, /fd/],
    [
      `${label}.write buf null`,
      () => r.write(0, any(null), 0),
      TypeError,
      /buf/,
    ],
    [
      `${label}.write offset 2^64`,
      () => r.write(0, buf, 2 ** 64),
      RangeError,
      /offset/,
    ],
    [
      `${label}.readv buffers not array`,
      () => r.readv(0, any(buf), 0),
      TypeError,
      /buffers/,
    ],
    [
      `${label}.readv buffers empty`,
      () => r.readv(0, [], 0),
      RangeError,
      /buffers/,
    ],
    [
      `${label}.readv buffers > UIO_MAXIOV`,
      () => r.readv(0, new Array(1025).fill(buf), 0),
      RangeError,
      /buffers/,
    ],
    [
      `${label}.readv bad entry`,
      () => r.readv(0, any([buf, null]), 0),
      TypeError,
      /buffers\[1\]/,
    ],
    [
      `${label}.readv entry number`,
      () => r.readv(0, any([buf, 7]), 0),
      TypeError,
      /buffers\[1\]/,
    ],
    [
      `${label}.readv offset -3`,
      () => r.readv(0, [buf], -3),
      RangeError,
      /offset/,
    ],
    [
      `${label}.writev bad entry`,
      () => r.writev(0, any(["x"]), 0),
      TypeError,
      /buffers\[0\]/,
    ],
    [
      `${label}.writev detached entry`,
      () => r.writev(0, [detached], 0),
      TypeError,
      /buffers\[0\].*detached/,
    ],
    [
      `${label}.readFixed bufIndex -1`,
      () => r.readFixed(0, buf, 0, -1),
      RangeError,
      /bufIndex/,
    ],
    [
      `${label}.readFixed bufIndex 1.5`,
      () => r.readFixed(0, buf, 0, 1.5),
      TypeError,
      /bufIndex/,
    ],
    [
      `${label}.readFixed bufIndex 65536`,
      () => r.readFixed(0, buf, 0, 65536),
      RangeError,
      /bufIndex/,
    ],
    [
      `${label}.writeFixed fd 0.1`,
      () => r.writeFixed(0.1, buf, 0, 0),
      TypeError,
      /fd/,
    ],
    [`${label}.fsync fd -1`, () => r.fsync(-1), RangeError, /fd/],
    [
      `${label}.fsync option typo`,
      () => r.fsync(0, any({ datasync: true })),
      TypeError,
      /datasync/,
    ],
    [`${label}.fdatasync fd NaN`, () => r.fdatasync(NaN), TypeError, /fd/],
    [`${label}.openat path empty`, () => r.openat("", 0), TypeError, /path/],
    [
      `${label}.openat path number`,
      () => r.openat(any(5), 0),
      TypeError,
      /path/,
    ],
    [`${label}.openat path NUL`, () => r.openat("a\0b", 0), TypeError, /path/],
    [`${label}.openat flags -1`, () => r.openat("/x", -1), RangeError, /flags/],
    [
      `${label}.openat flags 0.5`,
      () => r.openat("/x", 0.5),
      TypeError,
      /flags/,
    ],
    [
      `${label}.openat mode 0o10000`,
      () => r.openat("/x", 0, 0o10000),
      RangeError,
      /mode/,
    ],
    [
      `${label}.openat dirfd -5`,
      () => r.openat("/x", 0, 0o644, { dirfd: -5 }),
      RangeError,
      /dirfd/,
    ],
    [
      `${label}.openat option typo`,
      () => r.openat("/x", 0, 0o644, any({ dirFd: 3 })),
      TypeError,
      /dirFd/,
    ],
    [`${label}.closeFd fd -1`, () => r.closeFd(-1), RangeError, /fd/],
    [`${label}.closeFd fd 1.5`, () => r.closeFd(1.5), TypeError, /fd/],
    [
      `${label}.close(undefined) is not "close the ring"`,
      () => (r.close as (fd: unknown) => Promise<void>)(undefined),
      TypeError,
      /closeFd/,
    ],
    [
      `${label}.statx target empty`,
      () => r.statx(""),
      TypeError,
      /statx target/,
    ],
    [
      `${label}.statx target object`,
      () => r.statx(any({})),
      TypeError,
      /statx target/,
    ],
    [`${label}.statx fd -1`, () => r.statx(-1), RangeError, /fd/],
    [
      `${label}.statx mask -1`,
      () => r.statx("/", { mask: -1 }),
      RangeError,
      /mask/,
    ],
    [
      `${label}.statx flags 1.5`,
      () => r.statx("/", { flags: 1.5 }),
      TypeError,
      /flags/,
    ],
    [
      `${label}.statx option typo`,
      () => r.statx("/", any({ flag: 1 })),
      TypeError,
      /flag/,
    ],
    [
      `${label}.fallocate mode 256`,
      () => r.fallocate(0, 256, 0, 1),
      RangeError,
      /mode/,
    ],
    [
      `${label}.fallocate offset -1`,
      () => r.fallocate(0, 0, -1, 1),
      RangeError,
      /offset/,
    ],
    [
      `${label}.fallocate length -1`,
      () => r.fallocate(0, 0, 0, -1),
      RangeError,
      /length/,
    ],
    [
      `${label}.fallocate length 2^63`,
      () => r.fallocate(0, 0, 0, 2 ** 63),
      RangeError,
      /length/,
    ],
    [
      `${label}.nop option typo`,
      () => r.nop(any({ sig: 1 })),
      TypeError,
      /sig/,
    ],
    [
      `${label}.registerBuffers not array`,
      () => r.registerBuffers(any(buf)),
      TypeError,
      /buffers/,
    ],
    [
      `${label}.registerBuffers empty`,
      () => r.registerBuffers([]),
      RangeError,
      /buffers/,
    ],
    [
      `${label}.registerBuffers bad entry`,
      () => r.registerBuffers(any([5])),
      TypeError,
      /buffers\[0\]/,
    ],
  ];
}

function coreRows(c: RingCore): Row[] {
  const statxBuf = new Uint8Array(256);
  return [
    [
      "RingCore options typo",
      () => new RingCore(any({ entires: 8 })),
      TypeError,
      /entires/,
    ],
    [
      "RingCore options not object",
      () => new RingCore(any("big")),
      TypeError,
      /options/,
    ],
    [
      "RingCore entries 0",
      () => new RingCore({ entries: 0 }),
      RangeError,
      /entries/,
    ],
    [
      "RingCore entries 1.5",
      () => new RingCore({ entries: 1.5 }),
      TypeError,
      /entries/,
    ],
    [
      "RingCore entries 2^20",
      () => new RingCore({ entries: 2 ** 20 }),
      RangeError,
      /entries/,
    ],
    [
      "RingCore cqEntries -1",
      () => new RingCore({ cqEntries: -1 }),
      RangeError,
      /cqEntries/,
    ],
    [
      "RingCore flags -1",
      () => new RingCore({ flags: -1 }),
      RangeError,
      /flags/,
    ],
    [
      "RingCore sqpoll string",
      () => new RingCore(any({ sqpoll: "yes" })),
      TypeError,
      /sqpoll/,
    ],
    [
      "RingCore sqpoll typo",
      () => new RingCore(any({ sqpoll: { idle: 1 } })),
      TypeError,
      /idle/,
    ],
    [
      "RingCore sqpoll.cpu -1",
      () => new RingCore({ sqpoll: { cpu: -1 } }),
      RangeError,
      /sqpoll\.cpu/,
    ],
    [
      "RingCore clamp 1",
      () => new RingCore(any({ clamp: 1 })),
      TypeError,
      /clamp/,
    ],
    [
      "RingCore attachWq fd",
      () => new RingCore(any({ attachWq: 3 })),
      TypeError,
      /attachWq/,
    ],
    [
      "RingCore noSqArray string",
      () => new RingCore(any({ noSqArray: "yes" })),
      TypeError,
      /noSqArray/,
    ],
    [
      "Ring options typo",
      () => new Ring(any({ entires: 8 })),
      TypeError,
      /entires/,
    ],
    ["prepRead fd -1", () => c.prepRead(-1, buf, 0), RangeError, /fd/],
    ["prepRead buf number", () => c.prepRead(0, any(1), 0), TypeError, /buf/],
    [
      "prepRead offset 2^63",
      () => c.prepRead(0, buf, 2 ** 63),
      RangeError,
      /offset/,
    ],
    [
      "prepWrite offset 0.5",
      () => c.prepWrite(0, buf, 0.5),
      TypeError,
      /offset/,
    ],
    [
      "prepReadv bad entry",
      () => c.prepReadv(0, any([{}]), 0),
      TypeError,
      /buffers\[0\]/,
    ],
    ["prepWritev empty", () => c.prepWritev(0, [], 0), RangeError, /buffers/],
    [
      "prepReadFixed bufIndex -1",
      () => c.prepReadFixed(0, buf, 0, -1),
      RangeError,
      /bufIndex/,
    ],
    [
      "prepWriteFixed bufIndex 2^16",
      () => c.prepWriteFixed(0, buf, 0, 65536),
      RangeError,
      /bufIndex/,
    ],
    [
      "prepFsync option typo",
      () => c.prepFsync(0, any({ dataSync: true })),
      TypeError,
      /dataSync/,
    ],
    [
      "prepFsync length -1",
      () => c.prepFsync(0, { length: -1 }),
      RangeError,
      /length/,
    ],
    [
      "prepFsync offset -1",
      () => c.prepFsync(0, { offset: -1 }),
      RangeError,
      /offset/,
    ],
    ["prepOpenat path empty", () => c.prepOpenat("", 0), TypeError, /path/],
    ["prepOpenat flags -1", () => c.prepOpenat("/x", -1), RangeError, /flags/],
    [
      "prepOpenat dirfd -7",
      () => c.prepOpenat("/x", 0, 0o644, -7),
      RangeError,
      /dirfd/,
    ],
    ["prepClose fd 1.5", () => c.prepClose(1.5), TypeError, /fd/],
    [
      "prepStatx dirfd -7",
      () => c.prepStatx(-7, "/", 0, 0, statxBuf),
      RangeError,
      /dirfd/,
    ],
    [
      "prepStatx path number",
      () => c.prepStatx(-100, any(5), 0, 0, statxBuf),
      TypeError,
      /path/,
    ],
    [
      "prepStatx statxBuf short",
      () => c.prepStatx(-100, "/", 0, 0, new Uint8Array(100)),
      RangeError,
      /statxBuf/,
    ],
    [
      "prepStatx statxBuf string",
      () => c.prepStatx(-100, "/", 0, 0, any("x")),
      TypeError,
      /statxBuf/,
    ],
    [
      "prepFallocate length -1",
      () => c.prepFallocate(0, 0, 0, -1),
      RangeError,
      /length/,
    ],
    ["prepTimeout ms -1", () => c.prepTimeout(-1), RangeError, /timeout/],
    ["prepTimeout ms NaN", () => c.prepTimeout(NaN), RangeError, /timeout/],
    ["prepTimeout count -1", () => c.prepTimeout(1, -1), RangeError, /count/],
    [
      "prepLinkTimeout ms Infinity",
      () => c.prepLinkTimeout(Infinity),
      RangeError,
      /timeout/,
    ],
    ["prepCancel flags -1", () => c.prepCancel(1, -1), RangeError, /flags/],
    [
      "submitAndWait waitNr -1",
      () => c.submitAndWait(-1),
      RangeError,
      /waitNr/,
    ],
    ["registerFiles empty", () => c.registerFiles([]), TypeError, /fds/],
    [
      "registerFiles bad fd",
      () => c.registerFiles([0, -5]),
      RangeError,
      /fds\[1\]/,
    ],
    [
      "registerFilesSparse 0",
      () => c.registerFilesSparse(0),
      RangeError,
      /count/,
    ],
    [
      "registerFilesUpdate offset -1",
      () => c.registerFilesUpdate(-1, [0]),
      RangeError,
      /offset/,
    ],
    ["registerEventfd -1", () => c.registerEventfd(-1), RangeError, /eventfd/],
    [
      "registerEventfd option typo",
      () => c.registerEventfd(0, any({ asynch: true })),
      TypeError,
      /asynch/,
    ],
  ];
}

const pi = { guard: "crc16-t10dif", interval: 512 } as const;
const LIBRARY_ROWS: Row[] = [
  ["openFd path number", () => openFd(any(5), 0), TypeError, /path/],
  ["openFd path NUL", () => openFd("/a\0b", 0), TypeError, /path/],
  ["openFd flags -1", () => openFd("/x", -1), RangeError, /flags/],
  ["openFd flags 1.5", () => openFd("/x", 1.5), RangeError, /flags/],
  ["openFd mode 0o10000", () => openFd("/x", 0, 0o10000), RangeError, /mode/],
  ["closeFd -1", () => closeFd(-1), RangeError, /fd/],
  ["closeFd 1.5", () => closeFd(1.5), TypeError, /fd/],
  [
    "openFile option typo",
    () => openFile("/x", any({ writ: true })),
    TypeError,
    /writ/,
  ],
  [
    "openFile option not boolean",
    () => openFile("/x", any({ write: "yes" })),
    TypeError,
    /write/,
  ],
  [
    "openFile ring not a Ring",
    () => openFile("/x", any({ ring: {} })),
    TypeError,
    /ring/,
  ],
  [
    "openFile options not object",
    () => openFile("/x", any(7)),
    TypeError,
    /options/,
  ],
  ["alignedBuffer size -1", () => alignedBuffer(-1), RangeError, /size/],
  ["alignedBuffer size 1.5", () => alignedBuffer(1.5), RangeError, /size/],
  [
    "alignedBuffer alignment 3",
    () => alignedBuffer(8, 3),
    RangeError,
    /alignment/,
  ],
  [
    "alignedBuffer alignment 0",
    () => alignedBuffer(8, 0),
    RangeError,
    /alignment/,
  ],
  [
    "generatePi data not multiple",
    () => generatePi(new Uint8Array(100), new Uint8Array(8), pi),
    RangeError,
    /data|interval/,
  ],
  [
    "generatePi meta short",
    () => generatePi(new Uint8Array(1024), new Uint8Array(8), pi),
    RangeError,
    /meta/,
  ],
  [
    "generatePi interval 0",
    () =>
      generatePi(new Uint8Array(512), new Uint8Array(8), {
        ...pi,
        interval: 0,
      }),
    RangeError,
    /interval/,
  ],
  [
    "generatePi guard unknown",
    () =>
      generatePi(
        new Uint8Array(512),
        new Uint8Array(8),
        any({ ...pi, guard: "crc8" }),
      ),
    RangeError,
    /guard/,
  ],
  [
    "generatePi appTag 2^16",
    () =>
      generatePi(new Uint8Array(512), new Uint8Array(8), {
        ...pi,
        appTag: 65536,
      }),
    RangeError,
    /appTag/,
  ],
  [
    "generatePi data string",
    () => generatePi(any("x"), new Uint8Array(8), pi),
    TypeError,
    /data/,
  ],
  [
    "verifyPi meta array",
    () => verifyPi(new Uint8Array(512), any([0, 0, 0, 0, 0, 0, 0, 0]), pi),
    TypeError,
    /meta/,
  ],
  [
    "verifyPi meta short",
    () => verifyPi(new Uint8Array(1024), new Uint8Array(8), pi),
    RangeError,
    /meta/,
  ],
  [
    "verifyPi reftag on type 3",
    () =>
      verifyPi(new Uint8Array(512), new Uint8Array(8), {
        ...pi,
        refTag: { type: 3 },
        check: { refTag: true },
      }),
    RangeError,
    /Type 3|ref/,
  ],
];

async function outcome(call: Thrower): Promise<unknown> {
  try {
    const value = call();
    if (value instanceof Promise) await value;
    return undefined;
  } catch (error) {
    return error;
  }
}

async function runRows(rows: Row[]): Promise<void> {
  const wrong: string[] = [];
  for (const [name, call, type, names] of rows) {
    const error = await outcome(call);
    if (!(error instanceof type) || !names.test((error as Error).message)) {
      wrong.push(
        `${name}: expected ${type.name} naming ${names}, got ${
          error instanceof Error
            ? `${error.name}: ${error.message}`
            : String(error)
        }`,
      );
    }
  }
  assert.deepEqual(wrong, [], `\n${wrong.join("\n")}`);
}

test("Ring Promise API: every bad argument → TypeError/RangeError naming it", async () => {
  await using ring = new Ring({ entries: 8 });
  await runRows(promiseRows("Ring", ring));
  assert.equal(ring.pending, 0);
  assert.equal(await ring.nop(), 0);
});

test("FallbackRing Promise API: the same rows, the same errors", async () => {
  await using ring = new FallbackRing();
  await runRows(promiseRows("FallbackRing", ring));
  assert.equal(await ring.nop(), 0);
});

test("RingCore setup options and prep helpers: every bad argument refused, no SQE taken", async () => {
  const core = new RingCore({ entries: 4 });
  try {
    await runRows(coreRows(core));
    assert.equal(core.sqReady(), 0);
    core.prepNop().userData = 5;
    core.submitAndWait(1);
    assert.equal(core.peekCqe()?.res, 0);
  } finally {
    core.close();
  }
});

test("openFd, closeFd, openFile, alignedBuffer, generatePi, verifyPi: bad arguments refused", async () => {
  await runRows(LIBRARY_ROWS);
});
