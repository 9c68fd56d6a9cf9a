/**
 * The README's examples run as written: each runtime runs its own example
 * as a child process and the output is checked.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const isDeno = "Deno" in globalThis;

function run(file: string, created: string): string {
  const args = isDeno ? ["run", "-A", file] : [file];
  const child = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  assert.equal(child.status, 0, child.stderr);
  // Each example names its file after its pid, and removes it.
  const left = `${created}-${child.pid}`;
  assert.equal(existsSync(left), false, `${file} left ${left} behind`);
  return child.stdout;
}

test("the README's Promise-API example (examples/deno.ts) runs as written", () => {
  const out = run("examples/deno.ts", "/dev/shm/uring-example-deno");
  assert.match(out, /wrote 4096 bytes/);
  assert.match(out, /integrity ok: false bad: \[ "guard@1" \]/);
  assert.match(out, /size from statx: 4096/);
});

test("the README's low-level example (examples/bun.ts) runs as written", () => {
  const out = run("examples/bun.ts", "/dev/shm/uring-example-bun");
  assert.match(out, /^1n 5$/m);
  assert.match(out, /^5 hello$/m);
});
