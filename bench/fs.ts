/**
 * The everyday file API against each runtime's own, in one process per
 * runtime (run both with `bash bench/fs.sh`):
 *
 * - `readFile` of 4 KiB, 1 MiB and 256 MiB files vs `Deno.readFile` or
 *   `Bun.file().bytes()`, and `node:fs/promises.readFile`;
 * - `writeFile` of 256 MiB vs `Deno.writeFile` or `Bun.write`, and
 *   `node:fs/promises.writeFile`;
 * - streaming 256 MiB through `file.readable` vs `FsFile.readable` or
 *   `Bun.file().stream()`, and `file.readable` of the file opened O_DIRECT
 *   (from the disk, not the cache: the one case here where O_DIRECT applies);
 * - `copyFile` of 256 MiB vs `node:fs/promises.copyFile` (and
 *   `Deno.copyFile` on Deno), which use copy_file_range in the kernel.
 *
 * - beside each readFile and writeFile, a floor: the same work as plain
 *   synchronous system calls on the JS thread (open, statx, read(2) into
 *   fresh memory, close; open, write(2) of the caller's bytes, close),
 *   which no async API can beat by much: it tells how close the runtime's
 *   own calls already are to the kernel's cost.
 *
 * Files live on the disk file system (a directory under /var/tmp by
 * default, never /dev/shm) and are read while in the page cache: each case
 * reads its file once before timing. Contenders alternate round by round so
 * drifting load hits all alike; the median round counts. Ratios are
 * baseline time / uring time: above 1 means uring is faster.
 *
 *     deno run -A bench/fs.ts [--dir /var/tmp] [--rounds 7] [--json]
 *     bun bench/fs.ts [--dir /var/tmp] [--rounds 7] [--json]
 *
 * @module
 */
import * as nodeFs from "node:fs/promises";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  copyFile,
  defaultRing,
  openFile,
  readFile,
  writeFile,
} from "../mod.ts";
import { runtimeName } from "../raw.ts";
import { addressNumber, libc } from "../ffi/mod.ts";
import { closeFd, openFd } from "../sys/fd.ts";
import { typeAndSize } from "../sys/cached.ts";

type Op = () => Promise<unknown>;

interface Row {
  case: string;
  contender: string;
  medianMs: number;
  mibPerSec: number;
  ratio: number;
}

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const MiB = 1 << 20;
const rounds = Number(flag("--rounds", "7"));
const json = process.argv.includes("--json");
/** `--only read,write,stream,copy` runs a subset. */
const only = new Set(flag("--only", "read,write,stream,copy").split(","));
const dir = mkdtempSync(join(flag("--dir", "/var/tmp"), "uring-bench-fs-"));

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const isDeno = runtimeName === "deno";

/** The runtime's own calls, by what they do. */
const own = {
  readName: isDeno ? "Deno.readFile" : "Bun.file().bytes()",
  read: (path: string): Promise<Uint8Array> =>
    isDeno ? g.Deno.readFile(path) : g.Bun.file(path).bytes(),
  writeName: isDeno ? "Deno.writeFile" : "Bun.write",
  write: (path: string, data: Uint8Array): Promise<unknown> =>
    isDeno ? g.Deno.writeFile(path, data) : g.Bun.write(path, data),
  streamName: isDeno ? "FsFile.readable" : "Bun.file().stream()",
  stream: async (path: string): Promise<ReadableStream<Uint8Array>> =>
    isDeno ? (await g.Deno.open(path)).readable : g.Bun.file(path).stream(),
};

/**
 * The floors: what any readFile / writeFile must do, done synchronously on
 * the JS thread with nothing else (no event loop, no threads, no staging):
 * open, statx, read(2) into fresh memory, close; and open, write(2) of the
 * caller's bytes (the one copy into the page cache), close. They block the
 * thread, so they are references, not contenders for an async API.
 */
const floor = {
  read: (path: string): Uint8Array => {
    const fd = openFd(path, 0);
    try {
      const out = new Uint8Array(typeAndSize(fd).size);
      const at = addressNumber(out);
      for (let done = 0; done < out.byteLength;) {
        const n = Number(libc().read(fd, at + done, out.byteLength - done));
        if (n <= 0) break;
        done += n;
      }
      return out;
    } finally {
      closeFd(fd);
    }
  },
  write: (path: string, data: Uint8Array): void => {
    const fd = openFd(path, 0o101); // O_WRONLY | O_CREAT: over the file in place
    try {
      const at = addressNumber(data);
      for (let done = 0; done < data.byteLength;) {
        const n = Number(
          libc().write(fd, at + done, Math.min(MiB, data.byteLength - done)),
        );
        if (n <= 0) throw new Error(`write(2) returned ${n}`);
        done += n;
      }
    } finally {
      closeFd(fd);
    }
  },
};

async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
}

/** Timed runs of each op per round, interleaved; the median per contender. */
async function measure(
  name: string,
  bytes: number,
  reps: number,
  contenders: [string, Op][],
): Promise<Row[]> {
  const times = contenders.map(() => [] as number[]);
  for (const [, op] of contenders) await op(); // warm: page cache, JIT
  for (let r = 0; r < rounds; r++) {
    for (let c = 0; c < contenders.length; c++) {
      const op = contenders[c][1];
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) await op();
      times[c].push((performance.now() - t0) / reps);
    }
  }
  const medians = times.map((t) => t.sort((a, b) => a - b)[t.length >> 1]);
  return contenders.map(([contender], c) => ({
    case: name,
    contender,
    medianMs: medians[c],
    mibPerSec: bytes / MiB / (medians[c] / 1000),
    ratio: medians[c] / medians[0],
  }));
}

function fill(size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  }
  return data;
}

const rows: Row[] = [];
try {
  for (
    const [label, size, reps] of !only.has("read")
      ? []
      : [["4 KiB", 4096, 500], ["1 MiB", MiB, 50], [
        "256 MiB",
        256 * MiB,
        1,
      ]] as const
  ) {
    const path = join(dir, `read-${size}`);
    await nodeFs.writeFile(path, fill(size));
    rows.push(
      ...await measure(`readFile ${label}`, size, reps, [
        ["uring readFile", () => readFile(path)],
        [own.readName, () => own.read(path)],
        ["node:fs readFile", () => nodeFs.readFile(path)],
        ["floor: sync read(2)", () => Promise.resolve(floor.read(path))],
      ]),
    );
  }

  const big = fill(256 * MiB);
  const out = join(dir, "write");
  if (only.has("write")) {
    rows.push(
      ...await measure("writeFile 256 MiB", big.byteLength, 1, [
        ["uring writeFile", () => writeFile(out, big)],
        [own.writeName, () => own.write(out, big)],
        ["node:fs writeFile", () => nodeFs.writeFile(out, big)],
        [
          "floor: sync write(2)",
          () => Promise.resolve(floor.write(out, big)),
        ],
      ]),
    );
  }

  const src = join(dir, "read-268435456");
  if (!only.has("read")) await nodeFs.writeFile(src, big);
  if (only.has("stream")) {
    rows.push(
      ...await measure("stream 256 MiB", 256 * MiB, 1, [
        [
          "uring file.readable",
          async () => drain((await openFile(src)).readable),
        ],
        [own.streamName, async () => drain(await own.stream(src))],
        [
          "uring readable O_DIRECT",
          async () => drain((await openFile(src, { direct: true })).readable),
        ],
      ]),
    );
  }

  const dst = join(dir, "copy");
  const copies: [string, Op][] = [
    ["uring copyFile", () => copyFile(src, dst)],
    ["node:fs copyFile", () => nodeFs.copyFile(src, dst)],
  ];
  if (isDeno) copies.push(["Deno.copyFile", () => g.Deno.copyFile(src, dst)]);
  if (only.has("copy")) {
    rows.push(...await measure("copyFile 256 MiB", 256 * MiB, 1, copies));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await defaultRing().close();
}

if (json) {
  console.log(JSON.stringify({ runtime: runtimeName, rows }));
} else {
  console.log(`\n${runtimeName}: median of ${rounds} rounds, ${dir}`);
  console.log(
    "case                 contender               median ms     MiB/s   baseline/uring",
  );
  for (const row of rows) {
    const speedup = row.contender.startsWith("uring")
      ? ""
      : `${row.ratio.toFixed(2)}x`;
    console.log(
      `${row.case.padEnd(20)} ${row.contender.padEnd(22)} ${
        row.medianMs.toFixed(3).padStart(10)
      } ${row.mibPerSec.toFixed(0).padStart(9)}   ${speedup.padStart(8)}`,
    );
  }
}
