/**
 * The README's examples run as written: each runtime runs its own example
 * as a child process and the output is checked.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const isDeno = "Deno" in globalThis;

test("the README example for this runtime runs as written", () => {
  const args = isDeno ? ["run", "-A", "examples/deno.ts"] : ["examples/bun.ts"];
  const child = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /wrote 4096 bytes/);
  assert.match(child.stdout, /integrity ok: false bad: \[ "guard@1" \]/);
  assert.match(child.stdout, /size from statx: 4096/);
});
