// What people see around the results: option mistakes say what is wrong,
// --json failures are JSON too, probe names directories, the verify title
// comes before the progress line, no ANSI escapes where they do not
// belong (NO_COLOR, pipes), and setup waits for a busy dpkg lock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import process from "node:process";
import {
  CURRENT_RUNTIME,
  oneErrorLine,
  REPO_ROOT,
  runCli,
  tempDir,
} from "./cli_helpers.ts";

test("a negative count says it must be positive (or not negative), not 'an integer'", () => {
  const cases: [string[], RegExp][] = [
    [["pi", "gen", "x", "--depth", "-3"], /--depth must be positive, got "-3"/],
    [["bench", "nop", "--qd=-1"], /--qd must be positive, got "-1"/],
    [["pi", "gen", "x", "--seed", "-5"], /--seed must not be negative/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(args);
    assert.equal(r.status, 2, args.join(" "));
    assert.match(oneErrorLine(r), message);
  }
});

test("with --json a failure is also a JSON document on stdout", () => {
  const [dir, remove] = tempDir();
  try {
    const cases: [string[], string, RegExp][] = [
      [
        ["pi", "gen", `${dir}/missing`, "--json"],
        "environment",
        /missing: no such file or directory \(ENOENT\)/,
      ],
      [
        ["pi", "verify", "x", "--depth", "0", "--json"],
        "usage",
        /--depth must be positive/,
      ],
      [["probe", "/no/such/path", "--json"], "environment", /ENOENT/],
    ];
    for (const [args, kind, message] of cases) {
      const r = runCli(args);
      assert.equal(r.status, 2);
      assert.match(oneErrorLine(r), message); // stderr keeps its line
      const { error } = JSON.parse(r.stdout);
      assert.equal(error.kind, kind);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, message);
      assert.equal(
        error.command,
        args[0] === "probe" ? "probe" : `pi ${args[1]}`,
      );
    }
    // Without --json stdout stays empty.
    assert.equal(runCli(["pi", "gen", `${dir}/missing`]).stdout, "");
  } finally {
    remove();
  }
});

test("probe of a directory says directory", () => {
  const text = runCli(["probe", "/dev/shm"]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^ {2}kind: +directory$/m);
  const json = JSON.parse(runCli(["probe", "/dev/shm", "--json"]).stdout);
  assert.equal(json.target.kind, "directory");
  const [dir, remove] = tempDir();
  try {
    writeFileSync(`${dir}/f`, "x");
    const file = JSON.parse(runCli(["probe", `${dir}/f`, "--json"]).stdout);
    assert.equal(file.target.kind, "file");
  } finally {
    remove();
  }
});

/** Runs the CLI on a pseudo-terminal (util-linux `script`): what a person sees. */
function onTerminal(
  args: string[],
  env: Record<string, string | undefined>,
): string | undefined {
  if (spawnSync("script", ["--version"]).error) return undefined;
  const runtime = CURRENT_RUNTIME === "deno"
    ? `${process.execPath} run -A`
    : process.execPath;
  const command = `${runtime} ${REPO_ROOT}cli.ts ${args.join(" ")}`;
  const r = spawnSync("script", ["-qec", command, "/dev/null"], {
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout;
}

test("on a terminal: the verify title comes before the progress line, and no ANSI escapes", (t) => {
  const [dir, remove] = tempDir();
  try {
    const file = `${dir}/data.bin`;
    writeFileSync(file, new Uint8Array(4 << 20).map((_, i) => i * 7));
    assert.equal(runCli(["pi", "gen", file]).status, 0);
    // The progress line shows from the start (not after 1 s) so a short
    // run draws it; NO_COLOR is unset, so only the code decides.
    const seen = onTerminal(["pi", "verify", file, "--block-size", "64k"], {
      NO_COLOR: undefined,
      URING_PROGRESS_AFTER_MS: "0",
      URING_NO_PROGRESS: undefined,
    });
    if (seen === undefined) return t.skip("util-linux script is not installed");
    const title = seen.indexOf(`${file} against ${file}.pi:`);
    const progress = seen.indexOf(`\rpi verify ${file}:`);
    assert.ok(title >= 0, seen);
    assert.ok(
      progress >= 0,
      `no progress line drawn:\n${JSON.stringify(seen)}`,
    );
    assert.ok(title < progress, JSON.stringify(seen));
    assert.match(seen, /OK: all 1024 intervals match/);
    assert.equal(seen.includes("\x1b"), false, JSON.stringify(seen));
  } finally {
    remove();
  }
});

test("make demo piped: plain text, no ANSI escapes", () => {
  const r = spawnSync("bash", [`${REPO_ROOT}scripts/demo.sh`, "1"], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: undefined },
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^== 1\. What can this machine do\?$/m);
  assert.match(r.stdout, /kind: +directory/);
  assert.equal(r.stdout.includes("\x1b"), false, JSON.stringify(r.stdout));
});

test("setup waits for the dpkg lock (apt-get DPkg::Lock::Timeout) and says so, and never reinstalls a shared node_modules", () => {
  const [dir, remove] = tempDir();
  try {
    // A copy of the script in an empty tree, with the programs it runs
    // replaced by recorders: nothing is installed, nothing in the
    // repository is touched.
    mkdirSync(`${dir}/scripts`);
    copyFileSync(`${REPO_ROOT}scripts/setup.sh`, `${dir}/scripts/setup.sh`);
    const bin = `${dir}/bin`;
    mkdirSync(bin);
    const stub = (name: string, body: string) => {
      writeFileSync(`${bin}/${name}`, `#!/bin/sh\n${body}\n`);
      chmodSync(`${bin}/${name}`, 0o755);
    };
    stub("ldconfig", "exit 0"); // no libraries: apt-get must run
    stub("apt-get", `echo "apt-get $*" >>"${dir}/calls"`);
    stub("npm", `echo "npm $*" >>"${dir}/calls"`);
    stub("sudo", `exec "$@"`);
    const run = (aptRunning: boolean, npm = true) => {
      stub("pgrep", aptRunning ? "exit 0" : "exit 1");
      writeFileSync(`${dir}/calls`, "");
      const r = spawnSync("bash", [`${dir}/scripts/setup.sh`], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        timeout: 30_000,
      });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      const calls = readFileSync(`${dir}/calls`, "utf8").trim().split("\n");
      const apt = calls.filter((c) => c.startsWith("apt-get"));
      assert.equal(apt.length, 2, calls.join("\n"));
      assert.equal(
        calls.some((c) => c.startsWith("npm")),
        npm,
        calls.join("\n"),
      );
      for (const call of apt) {
        assert.match(call, /-o DPkg::Lock::Timeout=300 /, call);
      }
      return r.stdout;
    };
    assert.match(
      run(true),
      /another apt\/dpkg is running; waiting for the dpkg lock \(up to 5 minutes\)/,
    );
    assert.doesNotMatch(run(false), /waiting/);
    // A node_modules shared through a symlink, older than the lock file:
    // setup must not run npm ci through it (that empties the shared one).
    const shared = `${dir}/shared-node-modules`;
    mkdirSync(`${shared}/.bin`, { recursive: true });
    writeFileSync(`${shared}/.package-lock.json`, "{}");
    writeFileSync(`${shared}/marker`, "still here");
    for (const tool of ["deno", "bun"]) {
      writeFileSync(`${shared}/.bin/${tool}`, "");
      chmodSync(`${shared}/.bin/${tool}`, 0o755);
    }
    const old = new Date(Date.now() - 3600_000);
    utimesSync(`${shared}/.package-lock.json`, old, old);
    writeFileSync(`${dir}/package-lock.json`, "{}");
    symlinkSync(shared, `${dir}/node_modules`);
    const out = run(false, false);
    assert.match(out, /node_modules is a symlink .*not reinstalling it/);
    assert.equal(readFileSync(`${shared}/marker`, "utf8"), "still here");
  } finally {
    remove();
  }
});
