/**
 * The file a read/write benchmark runs on: the user's (`--file`), or a
 * temporary one filled with data through the ring and removed afterwards
 * (on /dev/shm for memory speed; on /var/tmp with `--direct`, since tmpfs
 * has no O_DIRECT).
 *
 * @module
 */
import { existsSync, rmSync } from "node:fs";
import process from "node:process";
import {
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_NOFOLLOW,
  O_WRONLY,
} from "../structs/constants.ts";
import { alignedBuffer } from "../sys/memory.ts";
import { writeFull } from "../ring/full_io.ts";
import { failureNaming, openThroughRing, requireRegularFile } from "./files.ts";
import { Progress } from "./progress.ts";
import { withRing } from "./ring_scope.ts";

/**
 * A benchmark file and how to get rid of it.
 *
 * @example
 * ```ts
 * import type { BenchFile } from "./bench_file.ts";
 * const use = (f: BenchFile) => `${f.path}: ${f.size} bytes`;
 * ```
 */
export interface BenchFile {
  readonly path: string;
  readonly size: number;
  /** Removes the file if this run created it. */
  cleanup(): void;
}

/** Fills buffers with pseudo-random bytes (compressing or deduplicating storage would flatter zeros). */
function fillRandom(buf: Uint8Array, seed: number): void {
  const words = new Uint32Array(
    buf.buffer,
    buf.byteOffset,
    buf.byteLength >>> 2,
  );
  let x = seed | 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
}

/**
 * Writes `size` bytes of pseudo-random data to a new file `path` through
 * the ring. The file is created with O_EXCL|O_NOFOLLOW: benchmark files
 * live in shared directories (/dev/shm, /var/tmp), where a name planted in
 * advance (a symlink to someone's file) must fail the run, not be written
 * through.
 *
 * @example
 * ```ts
 * import { writeTestFile } from "./bench_file.ts";
 * await writeTestFile("/dev/shm/uring-example-data", 1 << 20);
 * ```
 */
export async function writeTestFile(
  path: string,
  size: number,
  seed = 1,
): Promise<void> {
  const blockSize = 1 << 20;
  await withRing(async (ring) => {
    const fd = await openThroughRing(
      ring,
      path,
      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
    );
    try {
      const progress = new Progress(`writing ${path}`, size);
      const buffers = [alignedBuffer(blockSize), alignedBuffer(blockSize)];
      for (let offset = 0, i = 0; offset < size; offset += blockSize, i++) {
        const buf = buffers[i & 1];
        fillRandom(buf, seed + i);
        await writeFull(
          ring,
          fd,
          buf.subarray(0, Math.min(blockSize, size - offset)),
          offset,
          undefined,
          failureNaming(path, "writing"),
        );
        progress.update(offset);
      }
      progress.done();
    } finally {
      await ring.closeFd(fd);
    }
  });
}

/**
 * `prefix-PID-RANDOM`: a file name in a shared directory nobody can guess
 * ahead of the run.
 *
 * @example
 * ```ts
 * import { uniqueName } from "./bench_file.ts";
 * uniqueName("uring-bench"); // "uring-bench-4242-9f1c03aa"
 * ```
 */
export function uniqueName(prefix: string): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0];
  return `${prefix}-${process.pid}-${random.toString(16).padStart(8, "0")}`;
}

/**
 * The file to benchmark on: `requested` if given (created with `size`
 * bytes when missing), else a fresh temporary file.
 *
 * @example
 * ```ts
 * import { benchFile } from "./bench_file.ts";
 * const file = await benchFile(undefined, 1 << 24, false);
 * file.cleanup();
 * ```
 */
export async function benchFile(
  requested: string | undefined,
  size: number,
  direct: boolean,
): Promise<BenchFile> {
  if (requested !== undefined && existsSync(requested)) {
    const st = requireRegularFile(requested, "--file");
    return { path: requested, size: st.size, cleanup() {} };
  }
  const path = requested ??
    `${direct ? "/var/tmp" : "/dev/shm"}/${uniqueName("uring-bench")}`;
  await writeTestFile(path, size);
  return { path, size, cleanup: () => rmSync(path, { force: true }) };
}
