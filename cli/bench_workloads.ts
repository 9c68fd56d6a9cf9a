/**
 * The in-process sides of `uring bench`: NOPs and random reads/writes
 * through the ring's Promise API, and the same reads/writes through the
 * runtime's own `node:fs/promises` FileHandle. Each keeps `qd` requests in
 * flight ("lanes": every completion starts the next request) for a fixed
 * time and measures event-loop lag meanwhile.
 *
 * @module
 */
import { constants as fsConstants, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { Ring } from "../ring/ring.ts";
import { O_DIRECT, O_RDONLY, O_RDWR } from "../structs/constants.ts";
import { alignedBuffer } from "../sys/memory.ts";
import { openThroughRing } from "./files.ts";
import { type LoopLag, measureLoopLag } from "./loop_lag.ts";
import { Progress } from "./progress.ts";

/**
 * One in-process measurement.
 *
 * @example
 * ```ts
 * import type { WorkloadResult } from "./bench_workloads.ts";
 * const r: WorkloadResult = { opsPerSecond: 5e5, bytesPerSecond: 2e9, lag: { meanMs: 0.1, maxMs: 2, samples: 300 } };
 * ```
 */
export interface WorkloadResult {
  readonly opsPerSecond: number;
  readonly bytesPerSecond: number;
  readonly lag: LoopLag;
  /**
   * For a file asked to be opened O_DIRECT: whether the open file really
   * has O_DIRECT (from /proc/self/fdinfo), or undefined when unknown.
   */
  readonly direct?: boolean;
}

/**
 * Whether open file `fd` of this process has O_DIRECT set (its `flags:`
 * line in /proc/self/fdinfo, octal), or undefined when that cannot be read.
 *
 * @example
 * ```ts
 * import { openSync } from "node:fs";
 * import { fdHasDirect } from "./bench_workloads.ts";
 * fdHasDirect(openSync("/etc/hostname", "r")); // false
 * ```
 */
export function fdHasDirect(fd: number): boolean | undefined {
  try {
    const info = readFileSync(`/proc/self/fdinfo/${fd}`, "utf8");
    const flags = /^flags:\s*([0-7]+)$/m.exec(info);
    return flags ? (parseInt(flags[1], 8) & O_DIRECT) !== 0 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a random I/O workload does.
 *
 * @example
 * ```ts
 * import type { IoJob } from "./bench_workloads.ts";
 * const job: IoJob = { file: "/dev/shm/x", size: 1 << 28, write: false, bs: 4096, qd: 64, direct: false, seconds: 3 };
 * ```
 */
export interface IoJob {
  readonly file: string;
  /** File size: offsets are drawn from [0, size - bs], multiples of bs. */
  readonly size: number;
  readonly write: boolean;
  readonly bs: number;
  readonly qd: number;
  readonly direct: boolean;
  readonly seconds: number;
}

/** xorshift32: cheap, deterministic offsets, no allocation. */
function randomOffsets(seed: number, blocks: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % blocks;
  };
}

/** Runs `lanes` loops of `step` until `seconds` pass; returns completed ops. */
async function runLanes(
  lanes: number,
  seconds: number,
  label: string,
  step: (lane: number) => Promise<unknown>,
): Promise<{ ops: number; elapsed: number; lag: LoopLag }> {
  const progress = new Progress(label, 0);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const stopLag = measureLoopLag();
  let ops = 0;
  const lane = async (id: number) => {
    while (performance.now() < deadline) {
      await step(id);
      ops++;
      if ((ops & 0xfff) === 0) {
        progress.tick(
          `${((deadline - performance.now()) / 1000).toFixed(1)}s left`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, (_, id) => lane(id)));
  const elapsed = (performance.now() - start) / 1000;
  const lag = stopLag();
  progress.done();
  return { ops, elapsed, lag };
}

/**
 * NOPs through the Promise API, `qd` in flight.
 *
 * @example
 * ```ts
 * import { uringNop } from "./bench_workloads.ts";
 * const r = await uringNop(64, 1);
 * console.log(r.opsPerSecond);
 * ```
 */
export async function uringNop(
  qd: number,
  seconds: number,
): Promise<WorkloadResult> {
  const ring = new Ring({ entries: Math.max(64, qd * 2) });
  try {
    // A short warm-up so JIT compilation is not in the measurement.
    await runLanes(qd, Math.min(0.3, seconds / 4), "warm-up", () => ring.nop());
    const { ops, elapsed, lag } = await runLanes(
      qd,
      seconds,
      "uring nop",
      () => ring.nop(),
    );
    return { opsPerSecond: ops / elapsed, bytesPerSecond: 0, lag };
  } finally {
    await ring.close();
  }
}

/**
 * Random reads or writes of `bs` bytes through the Promise API.
 *
 * @example
 * ```ts
 * import { uringIo } from "./bench_workloads.ts";
 * const r = await uringIo({ file: "/dev/shm/x", size: 1 << 26, write: false, bs: 4096, qd: 64, direct: false, seconds: 1 });
 * ```
 */
export async function uringIo(job: IoJob): Promise<WorkloadResult> {
  const ring = new Ring({ entries: Math.max(64, job.qd * 2) });
  let fd = -1;
  try {
    fd = await openThroughRing(
      ring,
      job.file,
      (job.write ? O_RDWR : O_RDONLY) | (job.direct ? O_DIRECT : 0),
    );
    const blocks = Math.floor(job.size / job.bs);
    const buffers = Array.from({ length: job.qd }, () => alignedBuffer(job.bs));
    const next = randomOffsets(0x9e3779b9, blocks);
    const step = job.write
      ? (lane: number) => ring.write(fd, buffers[lane], next() * job.bs)
      : (lane: number) => ring.read(fd, buffers[lane], next() * job.bs);
    await runLanes(job.qd, Math.min(0.3, job.seconds / 4), "warm-up", step);
    const { ops, elapsed, lag } = await runLanes(
      job.qd,
      job.seconds,
      `uring ${job.write ? "write" : "read"}`,
      step,
    );
    return {
      opsPerSecond: ops / elapsed,
      bytesPerSecond: (ops * job.bs) / elapsed,
      lag,
    };
  } finally {
    if (fd >= 0) await ring.closeFd(fd);
    await ring.close();
  }
}

/**
 * The same random reads or writes through `node:fs/promises` FileHandle,
 * the runtime's own async file API.
 *
 * @throws when the runtime cannot open the file as asked (e.g. O_DIRECT).
 * @example
 * ```ts
 * import { runtimeFsIo } from "./bench_workloads.ts";
 * const r = await runtimeFsIo({ file: "/dev/shm/x", size: 1 << 26, write: false, bs: 4096, qd: 64, direct: false, seconds: 1 });
 * ```
 */
export async function runtimeFsIo(job: IoJob): Promise<WorkloadResult> {
  let flags = job.write ? fsConstants.O_RDWR : fsConstants.O_RDONLY;
  if (job.direct) {
    if (fsConstants.O_DIRECT === undefined) {
      throw new Error("this runtime's node:fs has no O_DIRECT");
    }
    flags |= fsConstants.O_DIRECT;
  }
  const handle = await open(job.file, flags);
  try {
    const blocks = Math.floor(job.size / job.bs);
    const buffers = Array.from({ length: job.qd }, () => alignedBuffer(job.bs));
    const next = randomOffsets(0x9e3779b9, blocks);
    const step = job.write
      ? (lane: number) =>
        handle.write(buffers[lane], 0, job.bs, next() * job.bs)
      : (lane: number) =>
        handle.read(buffers[lane], 0, job.bs, next() * job.bs);
    await runLanes(job.qd, Math.min(0.3, job.seconds / 4), "warm-up", step);
    const { ops, elapsed, lag } = await runLanes(
      job.qd,
      job.seconds,
      `node:fs ${job.write ? "write" : "read"}`,
      step,
    );
    return {
      opsPerSecond: ops / elapsed,
      bytesPerSecond: (ops * job.bs) / elapsed,
      lag,
      // The runtime may drop or emulate flags: report what the kernel has.
      direct: job.direct ? fdHasDirect(handle.fd) : false,
    };
  } finally {
    await handle.close();
  }
}
