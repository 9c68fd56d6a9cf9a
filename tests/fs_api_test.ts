/**
 * The everyday file API (`readFile`, `writeFile`, `copyFile`, the File's
 * position, `seek`, `truncate`, `readable`, `writable`, async iteration)
 * against real files on the disk file system, on Deno and Bun alike. Error
 * paths must reject with `UringError` and leave no descriptor open.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { Buffer } from "node:buffer";
import process from "node:process";
import {
  copyFile,
  defaultRing,
  openFile,
  readFile,
  Ring,
  UringError,
  writeFile,
} from "../mod.ts";
import { directIoDir, pattern } from "./helpers.ts";

let dir = "";
before(() => {
  dir = mkdtempSync("/var/tmp/uring-fs-test-");
});
after(() => rmSync(dir, { recursive: true, force: true }));

let serial = 0;
const path = (label: string) => join(dir, `${++serial}-${label}`);

/** `size` bytes of a 1 MiB pattern repeated, each tile's first word its index (fast for 100+ MiB). */
function tiled(size: number, seed: number): Uint8Array {
  const tile = pattern(Math.min(size, 1 << 20), seed);
  const out = new Uint8Array(size);
  for (let at = 0, i = 0; at < size; at += tile.byteLength, i++) {
    out.set(tile.subarray(0, size - at), at);
    if (size - at >= 4) new DataView(out.buffer).setUint32(at, i);
  }
  return out;
}

/**
 * Descriptors of this process open on anything under the test's directory
 * (every file these tests touch, the tmpfs mount included). Counting only
 * those keeps other tests' rings and workers, which may close while these
 * run, out of the count.
 */
function openFds(): number {
  let count = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) count++;
    } catch {
      // Closed between the listing and the readlink: not open.
    }
  }
  return count;
}

/** Runs `body` (which must reject with UringError `code`) and checks no fd leaked. */
async function rejectsWithoutLeak(
  code: string,
  body: () => Promise<unknown>,
): Promise<UringError> {
  await readFile("/etc/hostname"); // the default ring and its waiter exist
  const before = openFds();
  const error = await body().then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UringError, `not a UringError: ${error}`);
  assert.equal(error.code, code, error.message);
  assert.equal(openFds(), before, "a descriptor was left open");
  return error;
}

test("readFile returns the bytes of files from empty to many chunks", async () => {
  // The largest spans two 64 MiB requests, in flight together.
  for (const size of [0, 1, 4096, 1 << 20, (64 << 20) + 5]) {
    const p = path(`read-${size}`);
    const data = tiled(size, size);
    writeFileSync(p, data);
    const got = await readFile(p);
    assert.equal(got.byteLength, size);
    assert.ok(Buffer.from(got).equals(data), `contents of ${size} bytes`);
    rmSync(p);
  }
});

test("readFile reads files whose size statx does not know (procfs)", async () => {
  const text = new TextDecoder().decode(await readFile("/proc/self/status"));
  assert.match(text, /^Name:/);
  assert.match(text, /\nPid:\s+\d+/);
});

test("readFile takes a ring of the caller's", async () => {
  await using ring = new Ring({ entries: 16 });
  const p = path("own-ring");
  writeFileSync(p, "abc");
  assert.equal(new TextDecoder().decode(await readFile(p, { ring })), "abc");
});

test("writeFile replaces, appends, creates with mode, and refuses to create when told", async () => {
  const p = path("write");
  const data = pattern((3 << 20) + 7, 3);
  await writeFile(p, data, { mode: 0o600 });
  assert.deepEqual(new Uint8Array(readFileSync(p)), data);
  assert.equal(statSync(p).mode & 0o777, 0o600);
  // Over a longer file, in place: the tail must go.
  const shorter = pattern((1 << 20) + 3, 4);
  await writeFile(p, shorter);
  assert.deepEqual(new Uint8Array(readFileSync(p)), shorter);
  await writeFile(p, "short");
  assert.equal(readFileSync(p, "utf8"), "short");
  await writeFile("/dev/null", data); // not a regular file: nothing to cut
  await writeFile(p, " and more", { append: true });
  await writeFile(p, new Uint16Array([0x4241]), { append: true });
  assert.equal(readFileSync(p, "utf8"), "short and moreAB");
  await rejectsWithoutLeak(
    "ENOENT",
    () => writeFile(path("absent"), "x", { create: false }),
  );
  await assert.rejects(() => writeFile(p, 5 as never), TypeError);
  await assert.rejects(() => writeFile(p, "x", { mode: 0o10000 }), RangeError);
  await assert.rejects(
    () => writeFile(p, "x", { bogus: 1 } as never),
    TypeError,
  );
});

test("copyFile copies many chunks, and a new file gets the permission bits", async () => {
  const src = path("src");
  const dst = path("dst");
  const data = pattern((9 << 20) + 5, 9);
  writeFileSync(src, data);
  chmodSync(src, 0o640);
  writeFileSync(dst, pattern(20 << 20, 1)); // longer: must be truncated
  await copyFile(src, dst);
  assert.deepEqual(new Uint8Array(readFileSync(dst)), data);
  const fresh = path("fresh");
  await copyFile(src, fresh);
  assert.equal(statSync(fresh).mode & 0o777, 0o640);
  assert.deepEqual(new Uint8Array(readFileSync(fresh)), data);
  // Onto itself (also through a second name): the data must survive.
  await copyFile(src, src);
  assert.deepEqual(new Uint8Array(readFileSync(src)), data);
  const alias = path("alias");
  linkSync(src, alias);
  await copyFile(alias, src);
  assert.deepEqual(new Uint8Array(readFileSync(src)), data);
  const empty = path("empty");
  writeFileSync(empty, "");
  await copyFile(empty, dst);
  assert.equal(statSync(dst).size, 0);
});

test("missing files and directories reject with UringError and leak no fd", async () => {
  const missing = path("missing");
  const e = await rejectsWithoutLeak("ENOENT", () => readFile(missing));
  assert.equal(e.path, missing);
  await rejectsWithoutLeak("ENOENT", () => copyFile(missing, path("x")));
  await rejectsWithoutLeak("ENOENT", () => openFile(missing));
  await rejectsWithoutLeak("EISDIR", () => readFile(dir));
  await rejectsWithoutLeak("EISDIR", () => writeFile(dir, "x"));
  await rejectsWithoutLeak("EISDIR", () => copyFile(dir, path("y")));
  const src = path("src-ok");
  writeFileSync(src, "data");
  await rejectsWithoutLeak("EISDIR", () => copyFile(src, dir));
  await rejectsWithoutLeak(
    "ENOENT",
    () => writeFile(join(dir, "no-such-dir", "f"), "x"),
  );
});

test("an aborted readFile rejects with the reason and closes the file", async () => {
  const p = path("abort");
  writeFileSync(p, pattern(1 << 20, 2));
  await readFile(p);
  const before = openFds();
  const controller = new AbortController();
  controller.abort(new Error("stop"));
  await assert.rejects(
    () => readFile(p, { signal: controller.signal }),
    /stop/,
  );
  assert.equal(openFds(), before);
});

test("a File keeps its position across read, write, seek and truncate", async () => {
  const p = path("position");
  await using f = await openFile(p, {
    write: true,
    create: true,
    truncate: true,
  });
  const enc = new TextEncoder();
  assert.equal(await f.write(enc.encode("hello ")), 6);
  assert.equal(await f.write(enc.encode("world")), 5);
  assert.equal(f.position, 11);
  assert.equal(await f.seek(0), 0);
  const buf = new Uint8Array(5);
  assert.equal(await f.read(buf), 5);
  assert.equal(new TextDecoder().decode(buf), "hello");
  assert.equal(await f.seek(1, "current"), 6);
  assert.equal(await f.read(buf), 5);
  assert.equal(new TextDecoder().decode(buf), "world");
  assert.equal(await f.read(buf), 0); // EOF
  assert.equal(await f.seek(-5, "end"), 6);
  assert.equal(await f.seek(2, 1), 8);
  // Explicit offsets leave the position alone.
  assert.equal(await f.read(buf, 0), 5);
  assert.equal(f.position, 8);
  await f.truncate(5);
  assert.equal((await f.stat()).size, 5);
  assert.equal(f.position, 8);
  await f.truncate(4096);
  assert.equal((await f.stat()).size, 4096);
  await assert.rejects(() => f.seek(-1), RangeError);
  assert.throws(() => f.seek(0, "middle" as never), TypeError);
  assert.throws(() => f.truncate(-1), RangeError);
  // Calls without an offset run in call order even when not awaited.
  await f.seek(0);
  const parts = ["a", "b", "c", "d"].map((s) => f.write(enc.encode(s)));
  await Promise.all(parts);
  await f.seek(0);
  const four = new Uint8Array(4);
  await f.read(four);
  assert.equal(new TextDecoder().decode(four), "abcd");
});

test("truncate on a file open only for reading rejects with UringError", async () => {
  const p = path("ro");
  writeFileSync(p, "abc");
  await using f = await openFile(p);
  await assert.rejects(() => f.truncate(0), (e) => {
    assert.ok(e instanceof UringError);
    assert.equal(e.code, "EINVAL");
    return true;
  });
});

test("an append File writes at the end", async () => {
  const p = path("append");
  writeFileSync(p, "start-");
  await using f = await openFile(p, { append: true });
  await f.write(new TextEncoder().encode("end"));
  assert.equal(readFileSync(p, "utf8"), "start-end");
});

test("file.readable streams the rest of the file and closes it", async () => {
  const p = path("readable");
  const data = pattern((3 << 20) + 99, 4);
  writeFileSync(p, data);
  const before = openFds();
  const f = await openFile(p);
  await f.seek(100);
  const got = new Uint8Array(await new Response(f.readable).arrayBuffer());
  assert.deepEqual(got, data.subarray(100));
  assert.equal(f.closed, true);
  assert.equal(openFds(), before);
});

test("file.readable serves BYOB readers", async () => {
  const p = path("byob");
  const data = pattern((2 << 20) + 1, 5);
  writeFileSync(p, data);
  const f = await openFile(p);
  const reader = f.readable.getReader({ mode: "byob" });
  const out = new Uint8Array(data.byteLength);
  let filled = 0;
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(100_000));
    if (done) break;
    assert.ok(value.byteLength <= 100_000);
    out.set(value, filled);
    filled += value.byteLength;
  }
  assert.equal(filled, data.byteLength);
  assert.deepEqual(out, data);
  assert.equal(f.closed, true);
});

test("cancelling file.readable closes the file", async () => {
  const p = path("cancel");
  writeFileSync(p, pattern(8 << 20, 6));
  const before = openFds();
  const f = await openFile(p);
  const reader = f.readable.getReader();
  const { value } = await reader.read();
  assert.ok(value && value.byteLength > 0);
  await reader.cancel();
  assert.equal(f.closed, true);
  assert.equal(openFds(), before);
});

test("file.writable writes chunks in order and closes the file", async () => {
  const p = path("writable");
  const data = pattern((2 << 20) + 3, 7);
  const f = await openFile(p, { write: true, create: true, truncate: true });
  const writer = f.writable.getWriter();
  for (let at = 0; at < data.byteLength; at += 300_000) {
    await writer.write(data.slice(at, at + 300_000));
  }
  await writer.close();
  assert.equal(f.closed, true);
  assert.deepEqual(new Uint8Array(readFileSync(p)), data);
});

test("readable.pipeTo(writable) copies a file", async () => {
  const src = path("pipe-src");
  const dst = path("pipe-dst");
  const data = pattern((4 << 20) + 11, 8);
  writeFileSync(src, data);
  const before = openFds();
  const from = await openFile(src);
  const to = await openFile(dst, { write: true, create: true, truncate: true });
  await from.readable.pipeTo(to.writable);
  assert.deepEqual(new Uint8Array(readFileSync(dst)), data);
  assert.equal(openFds(), before);
});

test("for await (const chunk of file) yields the file and moves the position", async () => {
  const p = path("iterate");
  const data = pattern((3 << 20) + 17, 9);
  writeFileSync(p, data);
  await using f = await openFile(p);
  const chunks: Uint8Array[] = [];
  for await (const chunk of f) chunks.push(chunk);
  assert.ok(chunks.length > 1);
  const joined = new Uint8Array(data.byteLength);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.byteLength;
  }
  assert.deepEqual(joined, data);
  assert.equal(f.position, data.byteLength);
  // Breaking out early leaves the file open at the consumed position.
  await f.seek(0);
  for await (const chunk of f) {
    assert.ok(chunk.byteLength > 0);
    break;
  }
  assert.ok(f.position > 0 && f.position < data.byteLength);
  assert.equal(f.closed, false);
});

test("an O_DIRECT file streams through readable and for await (aligned reads)", async (t) => {
  const direct = directIoDir();
  if (direct === null) {
    t.skip("no file system here accepts O_DIRECT");
    return;
  }
  const p = join(direct, `uring-fs-direct-${process.pid}-${++serial}`);
  const data = tiled((3 << 20) + 4096 + 100, 11); // ends mid-block
  writeFileSync(p, data);
  try {
    const f = await openFile(p, { direct: true });
    const got = new Uint8Array(await new Response(f.readable).arrayBuffer());
    assert.ok(Buffer.from(got).equals(data));
    assert.equal(f.closed, true);
    await using g = await openFile(p, { direct: true });
    // The kernel refuses unaligned memory on O_DIRECT (EINVAL): that the
    // reads succeed is the alignment check.
    let total = 0;
    for await (const chunk of g) {
      assert.ok(
        Buffer.from(chunk).equals(
          data.subarray(total, total + chunk.byteLength),
        ),
      );
      total += chunk.byteLength;
    }
    assert.equal(total, data.byteLength);
  } finally {
    rmSync(p, { force: true });
  }
});

test("stream and iteration errors reject with UringError and close (or keep) the file", async () => {
  await readFile("/etc/hostname");
  const before = openFds();
  // A directory opens for reading; its reads fail with EISDIR.
  const d = await openFile(dir);
  await assert.rejects(
    () => new Response(d.readable).arrayBuffer(),
    (e) => e instanceof UringError && e.code === "EISDIR",
  );
  assert.equal(d.closed, true);
  assert.equal(openFds(), before);
  const again = await openFile(dir);
  await assert.rejects(
    async () => {
      for await (const _ of again) assert.fail("a directory has no chunks");
    },
    (e) => e instanceof UringError && e.code === "EISDIR",
  );
  assert.equal(again.closed, false); // iteration leaves closing to its owner
  await again.close();
  // A file open only for reading refuses writes through writable.
  const p = path("ro-writable");
  writeFileSync(p, "x");
  const ro = await openFile(p);
  const writer = ro.writable.getWriter();
  await assert.rejects(
    () => writer.write(new Uint8Array(4)),
    (e) => e instanceof UringError && e.code === "EBADF",
  );
  assert.equal(ro.closed, true);
  // A chunk that is not bytes is a TypeError, and the file closes too.
  const rw = await openFile(p, { write: true });
  await assert.rejects(
    () => rw.writable.getWriter().write("text" as never),
    TypeError,
  );
  assert.equal(rw.closed, true);
  assert.equal(openFds(), before);
});

test("a closed File refuses further calls with TypeError", async () => {
  const p = path("closed");
  writeFileSync(p, "x");
  const f = await openFile(p);
  await f.close();
  assert.throws(() => f.read(new Uint8Array(1)), TypeError);
  assert.throws(() => f.seek(0), TypeError);
  assert.throws(() => f.readable, TypeError);
  assert.throws(() => f.close(), TypeError);
});

// ---------------------------------------------------------------- ENOSPC

/** A tmpfs of `size` (256 KiB) of this test's own; the caller must unmount it. */
function mountSmallTmpfs(
  size = "256k",
): { dir: string; unmount: () => void } | string {
  const mnt = path("tmpfs");
  mkdirSync(mnt);
  const r = spawnSync(
    "mount",
    ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt],
    { encoding: "utf8" },
  );
  if (r.status !== 0) {
    return `cannot mount a tmpfs (needs root): ${r.stderr || r.error}`;
  }
  return {
    dir: mnt,
    unmount: () => {
      // Lazily if still busy (a descriptor closing late): detached now,
      // gone with its last user, so no mount outlives the test run.
      if (spawnSync("umount", [mnt]).status !== 0) {
        spawnSync("umount", ["-l", mnt]);
      }
    },
  };
}

test("ENOSPC on a small tmpfs rejects with UringError and leaks no fd", async (t) => {
  const mounted = mountSmallTmpfs();
  if (typeof mounted === "string") {
    t.skip(mounted);
    return;
  }
  try {
    const big = pattern(1 << 20, 10);
    await rejectsWithoutLeak(
      "ENOSPC",
      () => writeFile(join(mounted.dir, "big"), big),
    );
    const src = path("enospc-src");
    writeFileSync(src, big);
    await rejectsWithoutLeak(
      "ENOSPC",
      () => copyFile(src, join(mounted.dir, "copy")),
    );
    const before = openFds();
    const f = await openFile(join(mounted.dir, "stream"), {
      write: true,
      create: true,
    });
    const writer = f.writable.getWriter();
    await assert.rejects(
      async () => {
        for (let i = 0; i < 8; i++) await writer.write(big.slice());
      },
      (e) => e instanceof UringError && e.code === "ENOSPC",
    );
    assert.equal(f.closed, true);
    assert.equal(openFds(), before);
  } finally {
    mounted.unmount();
  }
});

test("copyFile in the kernel: ENOSPC within one tmpfs, and a copy across file systems", async (t) => {
  const mounted = mountSmallTmpfs("3m");
  if (typeof mounted === "string") {
    t.skip(mounted);
    return;
  }
  try {
    // Large enough for copy_file_range, which tmpfs serves within itself
    // until the second copy no longer fits.
    const data = tiled(2 << 20, 11);
    const src = join(mounted.dir, "src");
    writeFileSync(src, data);
    await rejectsWithoutLeak(
      "ENOSPC",
      () => copyFile(src, join(mounted.dir, "c")),
    );
    rmSync(join(mounted.dir, "c"));
    const before = openFds();
    // tmpfs -> ext4 over a longer file that must be cut, then ext4 ->
    // tmpfs: EXDEV on recent kernels, then the ring's loop.
    const back = path("cross-back");
    writeFileSync(back, pattern(5 << 20, 4));
    await copyFile(src, back);
    assert.deepEqual(new Uint8Array(readFileSync(back)), data);
    rmSync(src);
    const into = join(mounted.dir, "cross");
    writeFileSync(into, pattern(64 << 10, 3));
    await copyFile(back, into);
    assert.deepEqual(new Uint8Array(readFileSync(into)), data);
    assert.equal(openFds(), before);
  } finally {
    mounted.unmount();
  }
});

test("an aborted copyFile rejects with the reason and closes both files", async () => {
  const src = path("abort-src");
  writeFileSync(src, tiled(8 << 20, 12));
  const controller = new AbortController();
  const reason = new Error("stop");
  controller.abort(reason);
  const before = openFds();
  await assert.rejects(
    () => copyFile(src, path("abort-dst"), { signal: controller.signal }),
    (e) => e === reason,
  );
  assert.equal(openFds(), before);
});

test("a program that uses the default ring and never closes it exits on its own", () => {
  // examples/fs.ts leaves the default ring open, as programs do.
  const example = new URL("../examples/fs.ts", import.meta.url).pathname;
  const isDeno = "Deno" in globalThis;
  const r = spawnSync(
    process.execPath,
    [...(isDeno ? ["run", "-A"] : []), example, dir],
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(r.signal, null, "killed: the process did not exit by itself");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /after truncate: 0/);
});

test("a program whose copyFile went through copy_file_range exits on its own", () => {
  // Bun makes the call on a pool Worker, Deno on its blocking threads:
  // neither may hold the process open once the copy is done.
  const src = path("exit-src");
  writeFileSync(src, tiled(2 << 20, 13));
  const script = path("exit.ts");
  const mod = new URL("../mod.ts", import.meta.url).pathname;
  writeFileSync(
    script,
    `import { copyFile } from ${JSON.stringify(mod)};\n` +
      `await copyFile(${JSON.stringify(src)}, ${
        JSON.stringify(path("exit-dst"))
      });\nconsole.log("copied");\n`,
  );
  const isDeno = "Deno" in globalThis;
  const r = spawnSync(
    process.execPath,
    [...(isDeno ? ["run", "-A"] : []), script],
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(r.signal, null, "killed: the process did not exit by itself");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /copied/);
});

test("the default ring is one ring, reused", () => {
  assert.equal(defaultRing(), defaultRing());
});

// ---------------------------------------------------------------- EACCES

test("EACCES (root without DAC capabilities) rejects with UringError, leaks no fd, and the default ring lets the process exit", (t) => {
  const drop = "-dac_override,-dac_read_search";
  const probe = spawnSync("setpriv", [
    "--inh-caps=" + drop,
    "--bounding-set=" + drop,
    "true",
  ]);
  if (probe.status !== 0) {
    t.skip("setpriv cannot drop capabilities here (util-linux, root needed)");
    return;
  }
  const file = path("secret");
  writeFileSync(file, "no");
  chmodSync(file, 0o000);
  const locked = path("locked-dir");
  mkdirSync(locked, 0o500);
  const child = new URL("./fs_eacces_child.ts", import.meta.url).pathname;
  const isDeno = "Deno" in globalThis;
  const r = spawnSync(
    "setpriv",
    [
      "--inh-caps=" + drop,
      "--bounding-set=" + drop,
      process.execPath,
      ...(isDeno ? ["run", "-A", child] : [child]),
      file,
      locked,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(r.signal, null, "the child did not exit on its own");
  assert.equal(r.status, 0, r.stderr);
  const results: Record<string, { code: string; leaked: number }> = JSON
    .parse(r.stdout.trim().split("\n").pop()!);
  for (const [name, { code, leaked }] of Object.entries(results)) {
    assert.equal(code, "EACCES", name);
    assert.equal(leaked, 0, `${name} left a descriptor open`);
  }
  assert.equal(Object.keys(results).length, 6);
});
