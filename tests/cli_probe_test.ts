// `uring probe` and `--help`: the JSON shape is the probe() object, every
// command documents itself, and usage mistakes exit 2 with one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { oneErrorLine, runCli } from "./cli_helpers.ts";

test("probe --json gives the probe() object: kernel with features, opcodes and rwAttr", () => {
  const r = runCli(["probe", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(result), ["kernel"]);
  const k = result.kernel;
  assert.equal(typeof k.release, "string");
  assert.equal(typeof k.ioUring, "boolean");
  assert.equal(typeof k.rwAttr, "boolean");
  assert.ok(Array.isArray(k.features));
  assert.ok(k.opcodes.includes("NOP"), "NOP is always supported");
  assert.ok(k.opcodes.every((o: unknown) => typeof o === "string"));
});

test("probe PATH --json adds the target profile with the reason it has no PI", () => {
  const r = runCli(["probe", "/dev/shm", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const { target } = JSON.parse(r.stdout);
  assert.equal(target.path, "/dev/shm");
  assert.equal(target.integrity, false);
  assert.match(target.reason, /tmpfs/);
  for (
    const key of [
      "kind",
      "source",
      "interval",
      "metadataSize",
      "guard",
      "logicalBlockSize",
    ]
  ) {
    assert.ok(key in target, `target.${key}`);
  }
});

test("probe prints a readable report", () => {
  const r = runCli(["probe", "/dev/shm"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^kernel: /m);
  assert.match(r.stdout, /rw attributes:/);
  assert.match(r.stdout, /PI: +no: tmpfs/);
});

test("probe of a missing path exits 2 with one line", () => {
  const r = runCli(["probe", "/no/such/path"]);
  assert.equal(r.status, 2);
  assert.match(
    oneErrorLine(r),
    /^uring probe: \/no\/such\/path: no such file or directory \(ENOENT\)$/,
  );
});

const COMMANDS = [
  "probe",
  "pi gen",
  "pi verify",
  "pi write",
  "pi read",
  "scrub",
  "bench",
];

test("--help for every command: usage, options, exit 0", () => {
  for (const command of COMMANDS) {
    const r = runCli([...command.split(" "), "--help"]);
    assert.equal(r.status, 0, `${command}: ${r.stderr}`);
    assert.ok(
      r.stdout.startsWith(`Usage: uring ${command}`),
      `${command}: ${r.stdout}`,
    );
    assert.match(r.stdout, /--help +show this help/);
    assert.equal(r.stderr, "");
  }
  const top = runCli(["--help"]);
  assert.equal(top.status, 0);
  for (const command of COMMANDS) {
    assert.ok(top.stdout.includes(`  ${command} `), command);
  }
  const group = runCli(["pi", "--help"]);
  assert.equal(group.status, 0);
  assert.match(group.stdout, /pi verify/);
});

test("usage mistakes exit 2 with one line naming the problem and --help", () => {
  const cases: [string[], RegExp][] = [
    [[], /^$/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["pi", "frob"], /unknown command "pi frob"/],
    [
      ["pi", "gen"],
      /^uring pi gen: missing FILE \(see "uring pi gen --help"\)$/,
    ],
    [
      ["pi", "gen", "x", "--interval", "1000"],
      /--interval must be a power of two/,
    ],
    [
      ["pi", "gen", "x", "--guard", "md5"],
      /--guard must be one of crc16-t10dif, crc64-nvme, crc32c, ip/,
    ],
    [
      ["pi", "gen", "x", "--app-tag", "0xffff"],
      /--app-tag must be at most 65534/,
    ],
    [["pi", "gen", "x", "--ref-type", "4"], /--ref-type must be at most 3/],
    [["bench", "nop", "--qd", "lots"], /--qd must be an integer/],
    [["bench", "nop", "--bogus"], /unknown option --bogus/],
    [["bench", "fly"], /unknown workload "fly"/],
    [["pi", "write", "/dev/null"], /--from FILE is required/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    if (args.length > 0) assert.match(oneErrorLine(r), message);
  }
});
