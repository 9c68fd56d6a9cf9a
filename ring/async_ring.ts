/**
 * `AsyncRing`: the Promise API both backends share. Each method is one
 * line over the operation table (ops.ts): the row checks and encodes the
 * arguments, this class checks the per-request options, and the backend
 * (`Ring` on io_uring, `FallbackRing` on a thread pool) submits the
 * encoded request. Methods never throw: every failure, a bad argument
 * included, rejects the returned promise.
 *
 * @module
 */
import { type OpRequest, type OpRow, OPS } from "./ops.ts";
import { checkOptions, OP_OPTION_NAMES } from "./validate.ts";
import { attributeNames } from "./attributes.ts";
import type { PiOptions } from "./pi_attribute.ts";
import type { Statx } from "../structs/statx.ts";
import { AT_FDCWD, O_CLOEXEC } from "../structs/constants.ts";
import { statxArguments } from "./validate.ts";
import { StatxView } from "../structs/statx.ts";

/**
 * Options every Promise method takes.
 *
 * @example
 * ```ts
 * import type { OpOptions } from "./async_ring.ts";
 * const opts: OpOptions = { signal: AbortSignal.timeout(1000), timeoutMs: 50 };
 * ```
 */
export interface OpOptions {
  /** Aborting cancels the request and rejects with the signal's reason. */
  signal?: AbortSignal;
  /** The request is cancelled and rejects with a `TimeoutError` after this many ms. */
  timeoutMs?: number;
}

/**
 * Options of the data operations (read, write, readv, writev, readFixed,
 * writeFixed): {@linkcode OpOptions} plus read/write attributes (Linux
 * 6.14), today `pi`: Protection Information checked by the device.
 *
 * @example
 * ```ts
 * import type { DataOpOptions } from "./async_ring.ts";
 * const meta = new Uint8Array(64); // 8 intervals × 8-byte tuples, from generatePi
 * const opts: DataOpOptions = {
 *   pi: { meta, check: { guard: true, reftag: true }, seed: 2048 },
 * };
 * ```
 */
export interface DataOpOptions extends OpOptions {
  /** Protection Information for this request (needs O_DIRECT and a PI-formatted device). */
  pi?: PiOptions;
}

export { OP_OPTION_NAMES } from "./validate.ts";

const DATA_OPTION_NAMES: readonly string[] = [
  ...OP_OPTION_NAMES,
  ...attributeNames(),
];
const OPENAT_OPTION_NAMES: readonly string[] = [...OP_OPTION_NAMES, "dirfd"];
const STATX_OPTION_NAMES: readonly string[] = [
  ...OP_OPTION_NAMES,
  "flags",
  "mask",
];

/**
 * The Promise API of a ring, whichever backend serves it: `Ring`
 * (io_uring) or `FallbackRing` (a thread pool making the blocking calls).
 * `Ring.open()` returns one or the other.
 *
 * @example
 * ```ts
 * import { type AsyncRing, Ring } from "../mod.ts";
 * await using ring: AsyncRing = Ring.open({ fallback: true });
 * await ring.nop();
 * ```
 */
export abstract class AsyncRing {
  /** Which engine serves the requests. */
  abstract readonly backend: "io_uring" | "fallback";
  /** Requests submitted or queued and not yet settled. */
  abstract get pending(): number;
  /** Whether the ring is closed (or closing). */
  abstract get closed(): boolean;
  /**
   * Registers `buffers` for `readFixed`/`writeFixed`: buffer i is
   * `bufIndex` i. The ring keeps them reachable until unregistered.
   */
  abstract registerBuffers(buffers: readonly ArrayBufferView[]): void;
  /** Drops the registered buffers. */
  abstract unregisterBuffers(): void;
  /** The registered buffers, or null. */
  abstract get registeredBuffers(): readonly ArrayBufferView[] | null;
  /**
   * A zero-filled, library-owned (zero-copy) buffer of `size` bytes; with
   * the `registeredBuffers` option on io_uring, one of the ring's
   * registered buffers when one is free (its reads and writes are then
   * READ_FIXED / WRITE_FIXED). Give it back with `releaseBuffer(buf)`.
   */
  abstract buffer(size?: number): Uint8Array;
  /**
   * The fixed-buffer index `view` is submitted with (a registered buffer
   * from {@linkcode buffer}), or -1.
   */
  abstract fixedBufferIndex(view: ArrayBufferView): number;
  /** Closes the ring at once (`using`), cancelling what is in flight. */
  abstract [Symbol.dispose](): void;

  /**
   * Submits one checked request; the backend's whole job.
   *
   * @ignore
   */
  protected abstract submitRequest(
    req: OpRequest,
    options: OpOptions | undefined,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<unknown>;

  /** Closes the ring itself: see {@linkcode close}. */
  protected abstract closeRing(): Promise<void>;

  /**
   * Reads into `buf` from `offset` (-1: the current file position).
   * Resolves to the number of bytes read.
   *
   * @example
   * ```ts
   * import { O_RDONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const fd = openFd("/etc/hostname", O_RDONLY);
   * const n = await ring.read(fd, new Uint8Array(64), 0);
   * ```
   */
  read(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    options?: DataOpOptions,
  ): Promise<number> {
    if (options === undefined) {
      const done = this.readAtOnce(fd, buf, offset);
      if (done !== undefined) return done;
    }
    return this.#submit(OPS.read, [fd, buf, offset], options);
  }

  /**
   * A read without options that the backend carried out at once, or
   * undefined to take the request the usual way (`Ring`: small reads of
   * tmpfs and page-cached data, sys/read_now.ts).
   *
   * @ignore
   */
  protected readAtOnce(
    _fd: number,
    _buf: ArrayBufferView,
    _offset: number | bigint,
  ): Promise<number> | undefined {
    return undefined;
  }

  /**
   * Writes `buf` at `offset` (-1: the current file position). Resolves to
   * the number of bytes written.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_WRONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const fd = openFd("/dev/shm/uring-write", O_WRONLY | O_CREAT);
   * await ring.write(fd, new Uint8Array([1, 2, 3]), 0);
   * ```
   *
   * With Protection Information (`deno run -A pi.ts /dev/nvme0n1`): the
   * device checks every interval against the tuples the application
   * computed, end to end. The layout comes from `probe()`.
   * ```ts
   * import {
   *   alignedBuffer, generatePi, IntegrityError, O_DIRECT, O_RDWR, openFd,
   *   piFormatOf, probe, Ring,
   * } from "../mod.ts";
   * const device = Deno.args[0];
   * const target = probe(device).target!;
   * if (!target.integrity) throw new Error(`no PI: ${target.reason}`);
   * const offset = 2048 * target.interval; // keep away from LBA 0
   * const format = piFormatOf(target, offset); // guard, interval, ref tag seed
   * const data = alignedBuffer(8 * target.interval);
   * crypto.getRandomValues(data);
   * const meta = new Uint8Array((data.length / target.interval) * target.metadataSize);
   * generatePi(data, meta, { ...format, appTag: 0x1234 });
   * await using ring = new Ring();
   * const fd = openFd(device, O_RDWR | O_DIRECT);
   * try {
   *   await ring.write(fd, data, offset, {
   *     pi: { meta, appTag: 0x1234, check: { guard: true, apptag: true, reftag: target.refTagChecked } },
   *   });
   * } catch (e) {
   *   if (e instanceof IntegrityError) console.error(e.intervals); // which interval, which field
   *   throw e;
   * }
   * ```
   */
  write(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#submit(OPS.write, [fd, buf, offset], options);
  }

  /**
   * Scatter read into `buffers` from `offset`. Resolves to the total bytes read.
   *
   * @example
   * ```ts
   * import { O_RDONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const fd = openFd("/etc/hostname", O_RDONLY);
   * await ring.readv(fd, [new Uint8Array(2), new Uint8Array(30)], 0);
   * ```
   */
  readv(
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#submit(OPS.readv, [fd, buffers, offset], options);
  }

  /**
   * Gather write of `buffers` at `offset`. Resolves to the total bytes written.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_WRONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const fd = openFd("/dev/shm/uring-writev", O_WRONLY | O_CREAT);
   * await ring.writev(fd, [new Uint8Array([1]), new Uint8Array([2, 3])], 0);
   * ```
   */
  writev(
    fd: number,
    buffers: readonly ArrayBufferView[],
    offset: number | bigint,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#submit(OPS.writev, [fd, buffers, offset], options);
  }

  /**
   * Reads into `buf`, which lies inside registered buffer `bufIndex`
   * (see `registerBuffers`).
   *
   * @example
   * ```ts
   * import { O_RDONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const pool = new Uint8Array(65536);
   * ring.registerBuffers([pool]);
   * await ring.readFixed(openFd("/etc/hostname", O_RDONLY), pool.subarray(0, 4096), 0, 0);
   * ```
   */
  readFixed(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#submit(OPS.readFixed, [fd, buf, offset, bufIndex], options);
  }

  /**
   * Writes `buf`, which lies inside registered buffer `bufIndex`.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_WRONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const pool = new Uint8Array(65536);
   * ring.registerBuffers([pool]);
   * const fd = openFd("/dev/shm/uring-wf", O_WRONLY | O_CREAT);
   * await ring.writeFixed(fd, pool.subarray(0, 4096), 0, 0);
   * ```
   */
  writeFixed(
    fd: number,
    buf: ArrayBufferView,
    offset: number | bigint,
    bufIndex: number,
    options?: DataOpOptions,
  ): Promise<number> {
    return this.#submit(OPS.writeFixed, [fd, buf, offset, bufIndex], options);
  }

  /**
   * fsync(2) through the ring.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_WRONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * await ring.fsync(openFd("/dev/shm/uring-sync", O_WRONLY | O_CREAT));
   * ```
   */
  fsync(fd: number, options?: OpOptions): Promise<number> {
    return this.#submit(OPS.fsync, [fd, false], options);
  }

  /**
   * fdatasync(2) through the ring.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_WRONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * await ring.fdatasync(openFd("/dev/shm/uring-dsync", O_WRONLY | O_CREAT));
   * ```
   */
  fdatasync(fd: number, options?: OpOptions): Promise<number> {
    return this.#submit(OPS.fsync, [fd, true], options);
  }

  /**
   * openat(2) through the ring: resolves to a real OS file descriptor.
   * O_CLOEXEC is always added. A failure names the path.
   *
   * @example
   * ```ts
   * import { O_RDONLY, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const fd = await ring.openat("/etc/hostname", O_RDONLY);
   * await ring.closeFd(fd);
   * ```
   */
  openat(
    path: string,
    flags: number,
    mode: number = 0o644,
    options?: OpOptions & { dirfd?: number },
  ): Promise<number> {
    const dirfd = options?.dirfd ?? AT_FDCWD;
    // O_CLOEXEC is added only to flags the row will accept anyway, so a
    // bad value is still reported as it was given.
    const valid = Number.isInteger(flags) && flags >= 0 && flags <= 0x7fffffff;
    const args: [number, string, number, number] = [
      dirfd,
      path,
      valid ? flags | O_CLOEXEC : flags,
      mode,
    ];
    return this.#submit(OPS.openat, args, options, OPENAT_OPTION_NAMES);
  }

  /**
   * close(2) of `fd` through the ring; resolves to 0. (The ring itself is
   * closed by {@linkcode close}.)
   *
   * @example
   * ```ts
   * import { O_RDONLY, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * await ring.closeFd(openFd("/etc/hostname", O_RDONLY));
   * ```
   */
  closeFd(fd: number, options?: OpOptions): Promise<number> {
    return this.#submit(OPS.close, [fd], options);
  }

  /**
   * statx(2) through the ring, of a path or of an open fd. Resolves to a
   * {@linkcode Statx} object.
   *
   * @example
   * ```ts
   * import { Ring } from "../mod.ts";
   * await using ring = new Ring();
   * const st = await ring.statx("/etc/hostname");
   * console.log(st.size);
   * ```
   */
  statx(
    target: string | number,
    options?: OpOptions & { flags?: number; mask?: number },
  ): Promise<Statx> {
    try {
      const { dirfd, path, flags, mask } = statxArguments(target, options);
      const out = new Uint8Array(StatxView.SIZE);
      const args: [number, string, number, number, Uint8Array] = [
        dirfd,
        path,
        flags,
        mask,
        out,
      ];
      return this.#submit(OPS.statx, args, options, STATX_OPTION_NAMES);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * fallocate(2) through the ring.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_RDWR, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * await ring.fallocate(openFd("/dev/shm/uring-falloc", O_RDWR | O_CREAT), 0, 0, 1 << 20);
   * ```
   */
  fallocate(
    fd: number,
    mode: number,
    offset: number | bigint,
    length: number | bigint,
    options?: OpOptions,
  ): Promise<number> {
    return this.#submit(OPS.fallocate, [fd, mode, offset, length], options);
  }

  /**
   * ftruncate(2) through the ring (IORING_OP_FTRUNCATE, Linux 6.9): sets
   * the size of `fd` to `length` bytes. Resolves to 0.
   *
   * @example
   * ```ts
   * import { O_CREAT, O_RDWR, openFd, Ring } from "../mod.ts";
   * await using ring = new Ring();
   * await ring.ftruncate(openFd("/dev/shm/uring-trunc", O_RDWR | O_CREAT), 4096);
   * ```
   */
  ftruncate(
    fd: number,
    length: number | bigint,
    options?: OpOptions,
  ): Promise<number> {
    return this.#submit(OPS.ftruncate, [fd, length], options);
  }

  /**
   * A no-op round trip through the kernel. Resolves to 0.
   *
   * @example
   * ```ts
   * import { Ring } from "../mod.ts";
   * await using ring = new Ring();
   * await ring.nop();
   * ```
   */
  nop(options?: OpOptions): Promise<number> {
    return this.#submit(OPS.nop, [], options);
  }

  /**
   * Closes the ring: requests not yet settled are cancelled (they reject
   * with `RingClosedError`) and the promise resolves once the kernel has
   * given their memory back. Takes no argument: an fd is closed with
   * {@linkcode closeFd}, and `close(fd)` is refused so that mistake
   * cannot close the ring.
   *
   * @example
   * ```ts
   * import { Ring } from "../mod.ts";
   * const ring = new Ring();
   * await ring.nop();
   * await ring.close();
   * ```
   */
  close(...args: never[]): Promise<void> {
    if (args.length > 0) {
      return Promise.reject(
        new TypeError(
          "close() closes the ring and takes no argument: close a file " +
            "descriptor with ring.closeFd(fd)",
        ),
      );
    }
    return this.closeRing();
  }

  /** `await using ring = ...` drains and closes it at scope end. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.closed) await this.closeRing();
  }

  /**
   * Encodes a request from its row (checking every argument), checks the
   * per-request options, and hands it to the backend. Never throws.
   */
  #submit<Args extends unknown[], T = number>(
    row: OpRow<Args>,
    args: Args,
    options: OpOptions | undefined,
    known: readonly string[] = row.attributes
      ? DATA_OPTION_NAMES
      : OP_OPTION_NAMES,
  ): Promise<T> {
    try {
      const req = row.encode(...args);
      let signal: AbortSignal | undefined;
      let timeoutMs = 0;
      if (options !== undefined) {
        checkOptions(options, known, `${row.name} options`);
        signal = options.signal;
        if (signal !== undefined && !(signal instanceof AbortSignal)) {
          throw new TypeError("signal must be an AbortSignal");
        }
        if (options.timeoutMs !== undefined) {
          const t = options.timeoutMs;
          if (typeof t !== "number" || !Number.isFinite(t) || t <= 0) {
            throw new RangeError(
              `timeoutMs must be a positive number, got ${t}`,
            );
          }
          timeoutMs = t;
        }
      }
      return this.submitRequest(req, options, signal, timeoutMs) as Promise<T>;
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
