// Commands that write never destroy what they read or what they did not
// create: an output that resolves to an input (however spelled) is
// refused; pi gen replaces an existing sidecar only with --force, writes
// through an unpredictable temporary file, and on a full disk exits 2 with
// one line and leaves nothing behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";
import {
  removeStaleTemporaries,
  temporaryNameFor,
} from "../cli/atomic_output.ts";
import { oneErrorLine, runCli, tempDir } from "./cli_helpers.ts";

function randomBytes(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(data.subarray(at, Math.min(size, at + 65536)));
  }
  return data;
}

test("pi gen refuses an --out that is FILE: ./FILE, absolute, hard link, symlink", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    const data = randomBytes(3 * 4096 + 7);
    writeFileSync(file, data);
    linkSync(file, `${dir}/hard`);
    symlinkSync(file, `${dir}/soft`);
    const spellings = [
      `${dir}/./data.bin`,
      `${dir}/../${dir.split("/").pop()}/data.bin`,
      `${dir}/hard`,
      `${dir}/soft`,
    ];
    for (const out of spellings) {
      const r = runCli(["pi", "gen", file, "--out", out, "--force"]);
      assert.equal(r.status, 2, `${out}: ${r.stdout}${r.stderr}`);
      assert.match(
        oneErrorLine(r),
        /--out .* is the same file as FILE .*data\.bin \(inode \d+ on device \d+:\d+\)/,
      );
      assert.deepEqual(readFileSync(file), Buffer.from(data), out);
    }
    // Relative to the working directory, as typed: `pi gen FILE --out ./FILE`.
    const r = runCli(
      ["pi", "gen", "data.bin", "--out", "./data.bin"],
      undefined,
      {
        cwd: dir,
      },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.deepEqual(readFileSync(file), Buffer.from(data));
  } finally {
    remove();
  }
});

test("pi read refuses --to/--pi-out that resolve to DEV or to each other, before any I/O", () => {
  const [dir, remove] = tempDir();
  try {
    const dev = `${dir}/dev`;
    writeFileSync(dev, "precious");
    symlinkSync(dev, `${dir}/dev-link`);
    writeFileSync(`${dir}/copy`, "old");
    symlinkSync(`${dir}/copy`, `${dir}/copy-link`);
    const cases: [string[], RegExp][] = [
      [["--to", `${dir}/dev-link`], /--to .*dev-link is the same file as DEV/],
      [
        ["--to", `${dir}/copy`, "--pi-out", `${dir}/copy-link`],
        /--pi-out .*copy-link is the same file as --to .*copy .*two outputs/,
      ],
    ];
    for (const [extra, message] of cases) {
      const r = runCli(["pi", "read", dev, ...extra]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(oneErrorLine(r), message);
    }
    assert.equal(readFileSync(dev, "utf8"), "precious");
    assert.equal(readFileSync(`${dir}/copy`, "utf8"), "old");
  } finally {
    remove();
  }
});

test("pi gen over an existing sidecar refuses without --force and says why", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, randomBytes(8192));
    assert.equal(runCli(["pi", "gen", file]).status, 0);
    const before = readFileSync(`${file}.pi`);
    writeFileSync(file, randomBytes(8192)); // "corrupted" since
    const r = runCli(["pi", "gen", file]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      oneErrorLine(r),
      /data\.bin\.pi already exists: .*hiding any corruption.*"pi verify .*--force/,
    );
    assert.deepEqual(readFileSync(`${file}.pi`), before);
    const forced = runCli(["pi", "gen", file, "--force"]);
    assert.equal(forced.status, 0, forced.stderr);
    assert.notDeepEqual(readFileSync(`${file}.pi`), before);
    assert.equal(runCli(["pi", "verify", file]).status, 0);
  } finally {
    remove();
  }
});

test("pi gen: temporary names are unpredictable; only proven leftovers are cleaned up", () => {
  const a = temporaryNameFor("/x/data.pi");
  const b = temporaryNameFor("/x/data.pi");
  assert.notEqual(a, b);
  assert.match(
    a,
    new RegExp(`^/x/data\\.pi\\.uring-tmp-${process.pid}-[0-9a-f]{16}$`),
  );
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, randomBytes(4096));
    // No process has a pid this large (pid_max is at most 2^22).
    const dead = `${file}.pi.uring-tmp-2147483000`;
    const leftovers = {
      empty: `${dead}-0000000000000001`,
      sidecar: `${dead}-0000000000000002`,
      foreign: `${dead}-0000000000000003`,
      link: `${dead}-0000000000000004`,
      alive: `${file}.pi.uring-tmp-${process.pid}-0000000000000005`,
      otherName: `${dir}/other.pi.uring-tmp-2147483000-0000000000000006`,
    };
    writeFileSync(leftovers.empty, "");
    writeFileSync(leftovers.sidecar, "uring-pi and the rest");
    writeFileSync(leftovers.foreign, "somebody's data");
    writeFileSync(leftovers.alive, "");
    writeFileSync(leftovers.otherName, "");
    writeFileSync(`${dir}/victim`, "");
    symlinkSync(`${dir}/victim`, leftovers.link);
    const r = runCli(["pi", "gen", file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(existsSync(leftovers.empty), false);
    assert.equal(existsSync(leftovers.sidecar), false);
    for (const kept of ["foreign", "link", "alive", "otherName"] as const) {
      assert.equal(existsSync(leftovers[kept]), true, kept);
    }
    assert.equal(existsSync(`${dir}/victim`), true);
    assert.deepEqual(
      removeStaleTemporaries(
        `${file}.pi`,
        new TextEncoder().encode("uring-pi"),
      ),
      [],
    );
  } finally {
    remove();
  }
});

test("a bad --out directory is named in the error, not a temporary name", () => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, randomBytes(4096));
    const r = runCli(["pi", "gen", file, "--out", `${dir}/nodir/x.pi`]);
    assert.equal(r.status, 2);
    const line = oneErrorLine(r);
    assert.match(
      line,
      /cannot create .*nodir\/x\.pi: directory .*nodir: no such file or directory \(ENOENT\)$/,
    );
    assert.doesNotMatch(line, /tmp/);
  } finally {
    remove();
  }
});

/** Mounts a tmpfs of `kib` KiB on a fresh directory; the returned function unmounts and removes it. */
function smallTmpfs(kib: number): [string, () => void] | string {
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
  const [dir, remove] = tempDir();
  const mnt = `${dir}/mnt`;
  mkdirSync(mnt);
  const m = spawnSync("mount", [
    "-t",
    "tmpfs",
    "-o",
    `size=${kib}k`,
    "uring-test",
    mnt,
  ], {
    encoding: "utf8",
  });
  if (m.status !== 0) {
    remove();
    return `cannot mount a tmpfs: ${(m.stderr || String(m.error)).trim()}`;
  }
  return [mnt, () => {
    const u = spawnSync("umount", [mnt]);
    if (u.status !== 0) spawnSync("umount", ["-l", mnt]);
    try {
      rmdirSync(mnt);
    } finally {
      remove();
    }
  }];
}

test("pi gen on a full disk: exit 2, one line with path and offset, no temporary file left", (t) => {
  const mounted = smallTmpfs(256);
  if (typeof mounted === "string") return t.skip(mounted);
  const [mnt, unmount] = mounted;
  const [dir, remove] = tempDir();
  try {
    writeFileSync(`${mnt}/filler`, new Uint8Array(200_000));
    const file = `${dir}/data.bin`;
    // 16 MiB at 512-byte intervals: a 256 KiB sidecar cannot fit.
    writeFileSync(file, randomBytes(16 << 20));
    const r = runCli([
      "pi",
      "gen",
      file,
      "--interval",
      "512",
      "--out",
      `${mnt}/data.pi`,
    ]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      oneErrorLine(r),
      /^uring pi gen: .*mnt\/data\.pi: no space left on device \(ENOSPC\) \(writing at byte \d+\)$/,
    );
    assert.deepEqual(readdirSync(mnt), ["filler"]);
  } finally {
    remove();
    unmount();
  }
});
