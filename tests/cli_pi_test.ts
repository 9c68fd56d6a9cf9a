// `uring pi gen` / `pi verify`: round trips for every guard and ref-tag
// type, sidecars crossing between Deno and Bun, corruption found at the
// right interval, size changes reported, broken inputs refused with exit 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  readFileSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";
import { crc16T10Dif, crc32c } from "../pi/mod.ts";
import {
  CURRENT_RUNTIME,
  oneErrorLine,
  OTHER_RUNTIME,
  runCli,
  tempDir,
} from "./cli_helpers.ts";

/** Deterministic, non-repeating test data (interval contents must differ). */
function testData(size: number, seed = 7): Uint8Array {
  const data = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

const GUARDS = ["crc16-t10dif", "crc64-nvme", "crc32c", "ip"];

test("gen + verify round trip for every guard and ref-tag type (with a partial last interval)", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, testData(5 * 512 + 100));
    for (const guard of GUARDS) {
      for (const refType of ["1", "2", "3"]) {
        const out = `${dir}/${guard}-${refType}.pi`;
        const gen = runCli([
          "pi",
          "gen",
          file,
          "--guard",
          guard,
          "--interval",
          "512",
          "--ref-type",
          refType,
          "--seed",
          "1000",
          "--app-tag",
          "0x1234",
          "--out",
          out,
          "--json",
        ]);
        assert.equal(gen.status, 0, gen.stderr);
        const report = JSON.parse(gen.stdout);
        assert.equal(report.tuples, 6);
        const tuple = guard === "crc16-t10dif" || guard === "ip" ? 8 : 16;
        assert.equal(readFileSync(out).length, 64 + 6 * tuple);
        const verify = runCli(["pi", "verify", file, "--pi", out, "--json"]);
        assert.equal(
          verify.status,
          0,
          `${guard} type ${refType}: ${verify.stdout}${verify.stderr}`,
        );
        const v = JSON.parse(verify.stdout);
        assert.equal(v.ok, true);
        assert.equal(v.intervals, 6);
        assert.deepEqual(v.format, {
          guard,
          interval: 512,
          refType: Number(refType),
          seed: 1000,
          appTag: 0x1234,
        });
      }
    }
  } finally {
    remove();
  }
});

test("the sidecar holds the tuples exactly as a device stores them", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    const data = testData(1024);
    writeFileSync(file, data);
    const gen = runCli([
      "pi",
      "gen",
      file,
      "--interval",
      "512",
      "--seed",
      "2048",
      "--app-tag",
      "7",
    ]);
    assert.equal(gen.status, 0, gen.stderr);
    const sidecar = readFileSync(`${file}.pi`);
    assert.equal(new TextDecoder().decode(sidecar.subarray(0, 8)), "uring-pi");
    const header = new DataView(sidecar.buffer, sidecar.byteOffset, 64);
    assert.equal(header.getUint32(60, true), crc32c(sidecar.subarray(0, 60)));
    assert.equal(header.getBigUint64(32, true), 1024n); // file size
    const tuples = new DataView(sidecar.buffer, sidecar.byteOffset + 64, 16);
    for (let i = 0; i < 2; i++) {
      // T10-DIF: be16 guard, be16 app tag, be32 ref tag (Type 1: seed + i).
      assert.equal(
        tuples.getUint16(i * 8),
        crc16T10Dif(data.subarray(i * 512, (i + 1) * 512)),
      );
      assert.equal(tuples.getUint16(i * 8 + 2), 7);
      assert.equal(tuples.getUint32(i * 8 + 4), 2048 + i);
    }
  } finally {
    remove();
  }
});

test(`cross-runtime: a sidecar made on ${CURRENT_RUNTIME} verifies on ${OTHER_RUNTIME} and the other way round`, () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, testData(3 << 20));
    for (const guard of ["crc16-t10dif", "crc64-nvme", "crc32c"]) {
      const here = `${dir}/${guard}.here.pi`;
      const there = `${dir}/${guard}.there.pi`;
      assert.equal(
        runCli(["pi", "gen", file, "--guard", guard, "--out", here]).status,
        0,
      );
      const made = runCli(
        ["pi", "gen", file, "--guard", guard, "--out", there],
        OTHER_RUNTIME,
      );
      assert.equal(made.status, 0, made.stderr);
      assert.deepEqual(
        readFileSync(here),
        readFileSync(there),
        `${guard}: identical sidecars`,
      );
      const a = runCli(["pi", "verify", file, "--pi", here], OTHER_RUNTIME);
      assert.equal(a.status, 0, a.stdout + a.stderr);
      const b = runCli(["pi", "verify", file, "--pi", there]);
      assert.equal(b.status, 0, b.stdout + b.stderr);
    }
  } finally {
    remove();
  }
});

test("one corrupted byte: exit 1, the right interval, offset and field", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    const data = testData(4 << 20);
    writeFileSync(file, data);
    assert.equal(runCli(["pi", "gen", file]).status, 0);
    const at = 3_000_123;
    data[at] ^= 0x40;
    writeFileSync(file, data);
    const r = runCli(["pi", "verify", file, "--json"]);
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.badIntervals, 1);
    assert.equal(report.badFields, 1);
    const index = Math.floor(at / 4096);
    assert.equal(report.bad[0].index, index);
    assert.equal(report.bad[0].offset, index * 4096);
    assert.equal(report.bad[0].field, "guard");
    assert.notEqual(report.bad[0].expected, report.bad[0].actual);
    const text = runCli(["pi", "verify", file]);
    assert.equal(text.status, 1);
    assert.match(text.stdout, /BAD: 1 of 1024 intervals/);
    assert.match(
      text.stdout,
      new RegExp(`^${index} +${index * 4096} +guard`, "m"),
    );
  } finally {
    remove();
  }
});

test("a corrupted tuple (ref tag, app tag, escape value) is reported as that field", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, testData(8192));
    assert.equal(runCli(["pi", "gen", file, "--interval", "512"]).status, 0);
    const sidecar = readFileSync(`${file}.pi`);
    sidecar[64 + 3 * 8 + 7] ^= 1; // interval 3 ref tag
    sidecar[64 + 5 * 8 + 2] = 0xff; // interval 5 app tag := 0xFFFF (would hide it)
    sidecar[64 + 5 * 8 + 3] = 0xff;
    writeFileSync(`${file}.pi`, sidecar);
    const r = runCli(["pi", "verify", file, "--json"]);
    assert.equal(r.status, 1, r.stderr);
    const bad = JSON.parse(r.stdout).bad.map((
      b: { index: number; field: string },
    ) => [b.index, b.field]);
    assert.deepEqual(bad, [[3, "refTag"], [5, "appTag"]]);
  } finally {
    remove();
  }
});

test("more than 1,000 bad intervals: the list is capped and the total counted", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, testData(1500 * 512));
    assert.equal(runCli(["pi", "gen", file, "--interval", "512"]).status, 0);
    writeFileSync(file, testData(1500 * 512, 99));
    const r = runCli(["pi", "verify", file, "--json"]);
    assert.equal(r.status, 1);
    const report = JSON.parse(r.stdout);
    assert.equal(report.bad.length, 1000);
    assert.equal(report.badIntervals, 1500);
    assert.equal(report.listTruncated, true);
  } finally {
    remove();
  }
});

test("truncated and appended files are reported (exit 1), not crashed on", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, testData(10 * 4096));
    assert.equal(runCli(["pi", "gen", file]).status, 0);

    appendFileSync(file, "more");
    let r = runCli(["pi", "verify", file, "--json"]);
    assert.equal(r.status, 1, r.stderr);
    let report = JSON.parse(r.stdout);
    assert.deepEqual(report.sizeChange, {
      expected: 40960,
      actual: 40964,
      missingIntervals: 0,
      extraBytes: 4,
    });
    assert.equal(report.badFields, 0, "the original bytes are intact");
    assert.match(
      runCli(["pi", "verify", file]).stdout,
      /4 bytes added at the end/,
    );

    truncateSync(file, 3 * 4096 + 10);
    r = runCli(["pi", "verify", file, "--json"]);
    assert.equal(r.status, 1, r.stderr);
    report = JSON.parse(r.stdout);
    assert.equal(report.sizeChange.missingIntervals, 6);
    assert.deepEqual(report.bad.map((b: { index: number }) => b.index), [3]);
    assert.match(
      runCli(["pi", "verify", file]).stdout,
      /cut off, 6 interval\(s\) gone/,
    );

    truncateSync(file, 0);
    r = runCli(["pi", "verify", file]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /10 interval\(s\) gone/);
  } finally {
    remove();
  }
});

test("wrong or damaged sidecars exit 2 with one clear line", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, testData(8192));
    assert.equal(runCli(["pi", "gen", file]).status, 0);
    const good = readFileSync(`${file}.pi`);
    const cases: [string, Uint8Array, RegExp][] = [
      [
        "not.pi",
        new TextEncoder().encode(
          "hello, this is not a sidecar at all, but long enough to be read in full",
        ),
        /is not a uring PI sidecar \(it does not start with "uring-pi"\)/,
      ],
      ["short.pi", good.subarray(0, 10), /is not a uring PI sidecar: 10 bytes/],
      [
        "header.pi",
        (() => {
          const b = Uint8Array.from(good);
          b[16] ^= 1;
          return b;
        })(),
        /sidecar header is damaged \(header checksum/,
      ],
      [
        "cut.pi",
        good.subarray(0, good.length - 3),
        /the sidecar was truncated or extended/,
      ],
      [
        "future.pi",
        (() => {
          const b = Uint8Array.from(good);
          b[8] = 9;
          new DataView(b.buffer).setUint32(60, crc32c(b.subarray(0, 60)), true);
          return b;
        })(),
        /sidecar format version 9; this uring reads version 1/,
      ],
    ];
    for (const [name, bytes, message] of cases) {
      writeFileSync(`${dir}/${name}`, bytes);
      const r = runCli(["pi", "verify", file, "--pi", `${dir}/${name}`]);
      assert.equal(r.status, 2, `${name}: ${r.stdout}${r.stderr}`);
      assert.match(oneErrorLine(r), message, name);
      assert.equal(r.stdout, "");
    }
  } finally {
    remove();
  }
});

test("missing, directory and unreadable inputs exit 2 with one clear line", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, testData(4096));
    mkdirSync(`${dir}/sub`);
    const cases: [string[], RegExp][] = [
      [
        ["pi", "gen", `${dir}/missing`],
        /missing: no such file or directory \(ENOENT\)$/,
      ],
      [
        ["pi", "verify", `${dir}/missing`],
        /missing: no such file or directory \(ENOENT\)$/,
      ],
      [
        ["pi", "verify", file],
        /data\.bin\.pi: no such file or directory \(ENOENT\)$/,
      ],
      [["pi", "gen", `${dir}/sub`], /sub is a directory; FILE must be a file$/],
      [
        ["pi", "verify", file, "--pi", `${dir}/sub`],
        /sub is a directory; the sidecar must be a file$/,
      ],
      [["pi", "gen", "/dev/null"], /\/dev\/null is not a regular file/],
      [
        ["pi", "gen", file, "--out", `${dir}/nodir/x.pi`],
        /no such file or directory/,
      ],
      [["pi", "gen", `${file}/x`], /not a directory \(ENOTDIR\)$/],
    ];
    // Root reads through any permission bits, so unreadability is only
    // testable when the tests run as another user.
    if (process.getuid?.() !== 0) {
      writeFileSync(`${dir}/secret`, "x");
      chmodSync(`${dir}/secret`, 0);
      cases.push([
        ["pi", "gen", `${dir}/secret`],
        /permission denied \(EACCES\)$/,
      ]);
    }
    for (const [args, message] of cases) {
      const r = runCli(args);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(oneErrorLine(r), message, args.join(" "));
    }
  } finally {
    remove();
  }
});
