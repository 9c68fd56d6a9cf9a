/**
 * The JS-thread attempts `readFile` makes before the ring (sys/cached.ts):
 * an open that only succeeds from the dentry cache and a read that only
 * takes what is in the page cache. Whatever they cannot do must fall to
 * the ring, with the same results and errors, and no descriptor left open.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { openCachedReadOnly, readCached, typeAndSize } from "../sys/cached.ts";
import { closeFd, fileStatusFlags } from "../sys/fd.ts";
import { O_NONBLOCK, S_IFDIR, S_IFIFO, S_IFREG } from "../structs/constants.ts";
import { openFile, readFile, UringError } from "../mod.ts";
import { isUnpublished } from "../ring/io_buffers.ts";
import { pattern } from "./helpers.ts";

let dir = "";
/** Why cached lookups cannot succeed under `dir`, or "" where they can. */
let noCachedLookups = "";
before(() => {
  dir = mkdtempSync("/var/tmp/uring-cached-test-");
  // A path through a file system that revalidates its dentries (a 9p or
  // network root, as in the test VMs) makes every RESOLVE_CACHED open
  // fail with EAGAIN; readFile then takes the ring, which the tests below still
  // check. Asked with a file just written, twice.
  const probe = join(dir, "probe");
  writeFileSync(probe, "x");
  const opened = [openCachedReadOnly(probe), openCachedReadOnly(probe)];
  for (const fd of opened) if (fd >= 0) closeFd(fd);
  if (opened.every((fd) => fd < 0)) {
    const fs = spawnSync("stat", ["-f", "-c", "%T", dir], {
      encoding: "utf8",
    }).stdout?.trim();
    noCachedLookups = `an open from the dentry cache (RESOLVE_CACHED) of a ` +
      `file just written under ${dir} (${fs || "?"}) never succeeds here: ` +
      `a file system on the path revalidates its dentries`;
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Skips `t`, printing why (Bun's runner shows only the test's name). */
function skipped(t: { name: string; skip(reason: string): void }, why: string) {
  console.log(`SKIP ${t.name}: ${why}`);
  t.skip(why);
}

test("openCachedReadOnly opens a cached path read-only, without O_NONBLOCK left on", (t) => {
  if (noCachedLookups) return skipped(t, noCachedLookups);
  const p = join(dir, "file");
  writeFileSync(p, pattern(10, 1));
  const fd = openCachedReadOnly(p);
  assert.ok(fd >= 0, "a path just written is in the dentry cache");
  try {
    assert.equal(fileStatusFlags(fd) & O_NONBLOCK, 0);
    assert.deepEqual(typeAndSize(fd), { type: S_IFREG, size: 10 });
  } finally {
    closeFd(fd);
  }
  assert.equal(openCachedReadOnly(join(dir, "missing")), -1);
  assert.equal(openCachedReadOnly("a\0b"), -1);
  assert.equal(openCachedReadOnly("/" + "x".repeat(2000)), -1);
});

test("openCachedReadOnly does not wait for a FIFO's writer", (t) => {
  if (noCachedLookups) return skipped(t, noCachedLookups);
  const fifo = join(dir, "fifo");
  if (spawnSync("mkfifo", [fifo]).status !== 0) {
    t.skip("no mkfifo");
    return;
  }
  const fd = openCachedReadOnly(fifo);
  assert.ok(fd >= 0);
  try {
    assert.equal(typeAndSize(fd).type, S_IFIFO);
    assert.equal(fileStatusFlags(fd) & O_NONBLOCK, 0);
  } finally {
    closeFd(fd);
  }
});

test("readCached reads cached data and says when the file goes on", (t) => {
  if (noCachedLookups) return skipped(t, noCachedLookups);
  const p = join(dir, "longer");
  const data = pattern(100, 2);
  writeFileSync(p, data);
  const fd = openCachedReadOnly(p);
  assert.ok(fd >= 0);
  try {
    const whole = new Uint8Array(100);
    assert.equal(readCached(fd, whole), 100);
    assert.deepEqual(whole, data);
    const part = new Uint8Array(60);
    assert.equal(readCached(fd, part), 61); // the probe byte: there is more
    assert.deepEqual(part, data.subarray(0, 60));
    assert.equal(readCached(fd, new Uint8Array(200)), 100);
  } finally {
    closeFd(fd);
  }
  const d = openCachedReadOnly(dir);
  assert.ok(d >= 0);
  try {
    assert.equal(typeAndSize(d).type, S_IFDIR);
    assert.equal(readCached(d, new Uint8Array(8)), -1); // EISDIR: the ring's to report
  } finally {
    closeFd(d);
  }
});

test("readFile of small files, through the cached path and from a tmpfs", async () => {
  for (const size of [1, 4096, 65537, 1 << 20, (1 << 20) + 1]) {
    const p = join(dir, `small-${size}`);
    const data = pattern(size, size);
    writeFileSync(p, data);
    assert.deepEqual(await readFile(p), data);
  }
  // tmpfs: RWF_NOWAIT may be refused there; the ring reads it then.
  const shm = join("/dev/shm", `uring-cached-${process.pid}`);
  try {
    writeFileSync(shm, pattern(5000, 5));
    assert.deepEqual(await readFile(shm), pattern(5000, 5));
  } finally {
    rmSync(shm, { force: true });
  }
  const e = await readFile(join(dir, "none")).catch((e) => e);
  assert.ok(e instanceof UringError && e.code === "ENOENT");
});

test("readFile results and stream chunks reach the caller published (staged from then on, like any caller memory)", async () => {
  for (const size of [100, 3 << 20]) {
    const p = join(dir, `published-${size}`);
    const data = pattern(size, 7);
    writeFileSync(p, data);
    const bytes = await readFile(p);
    assert.deepEqual(bytes, data);
    assert.equal(isUnpublished(bytes), false);
    const f = await openFile(p);
    let total = 0;
    for await (const chunk of f.readable) {
      assert.equal(isUnpublished(chunk), false);
      total += chunk.byteLength;
    }
    assert.equal(total, size);
  }
});
