/**
 * Registration of buffers, files and eventfds with a ring
 * (io_uring_register(2)), and the opcode probe. `RingCore` holds one and
 * delegates to it; every caller array is read once, through a snapshot.
 *
 * @module
 */
import { addressNumber, liburing } from "../ffi/mod.ts";
import { UringError } from "./errors.ts";
import { buildIovecs, snapshotBuffers } from "./ops.ts";
import {
  checkFd,
  checkInteger,
  checkOptions,
  snapshotArray,
} from "./validate.ts";
import { memlockError, pinnedBytes } from "./memlock.ts";
import { openFileLimit } from "./io_uring_environment.ts";
import { RsrcRegisterView, RsrcUpdateView } from "../structs/rsrc.ts";
import { probeSize, ProbeView } from "../structs/probe.ts";
import { EINTR, EMFILE, ENOMEM } from "../structs/errno.ts";
import {
  IORING_OP_LAST,
  IORING_REGISTER_BUFFERS,
  IORING_REGISTER_EVENTFD,
  IORING_REGISTER_EVENTFD_ASYNC,
  IORING_REGISTER_FILES,
  IORING_REGISTER_FILES2,
  IORING_REGISTER_FILES_UPDATE,
  IORING_REGISTER_PROBE,
  IORING_RSRC_REGISTER_SPARSE,
  IORING_UNREGISTER_BUFFERS,
  IORING_UNREGISTER_EVENTFD,
  IORING_UNREGISTER_FILES,
  OPCODE_NAMES,
} from "../structs/constants.ts";

/**
 * One registered-buffer set: the views the kernel pinned, kept reachable.
 *
 * @example
 * ```ts
 * import type { PinnedBuffers } from "./registration.ts";
 * const buffers: PinnedBuffers = [new Uint8Array(4096)];
 * ```
 */
export type PinnedBuffers = readonly ArrayBufferView[];

/**
 * What a ring registers with the kernel. Methods are documented where
 * users call them, on `RingCore`.
 *
 * @example
 * ```ts
 * import { RingCore } from "./core.ts";
 * using ring = new RingCore({ entries: 2 });
 * ring.registerBuffers([new Uint8Array(4096)]); // delegates to its Registration
 * ```
 */
export class Registration {
  readonly #ringFd: number;
  readonly #assertOpen: (op: string) => void;
  #pinnedBuffers: PinnedBuffers | null = null;
  #registeredFiles = false;

  /** For the ring `ringFd`; `assertOpen` throws once it is closed. */
  constructor(ringFd: number, assertOpen: (op: string) => void) {
    this.#ringFd = ringFd;
    this.#assertOpen = assertOpen;
  }

  #register(opcode: number, arg: number, nrArgs: number, op: string): number {
    this.#assertOpen(op);
    const register = liburing().io_uring_register;
    for (;;) {
      const result = register(this.#ringFd, opcode, arg, nrArgs);
      if (result >= 0) return result;
      if (result === -EINTR) continue;
      throw UringError.from(result, { op, fd: this.#ringFd });
    }
  }

  /**
   * Registers `buffers` as fixed buffers (IORING_REGISTER_BUFFERS) for
   * `prepReadFixed`/`prepWriteFixed`; buffer i is `bufIndex` i. The ring
   * keeps the views reachable until {@linkcode unregisterBuffers} or close.
   */
  registerBuffers(buffers: readonly ArrayBufferView[]): void {
    // One snapshot sizes the iovec array, gives the count and is kept.
    const list = snapshotBuffers(buffers, "buffers");
    const iovecs = buildIovecs(list, "buffers");
    try {
      this.#register(
        IORING_REGISTER_BUFFERS,
        addressNumber(iovecs),
        list.length,
        "register_buffers",
      );
    } catch (error) {
      // Pinned pages are charged to RLIMIT_MEMLOCK: say so, with numbers.
      if (error instanceof UringError && error.errno === ENOMEM) {
        throw memlockError(pinnedBytes(list, addressNumber));
      }
      throw error;
    }
    this.#pinnedBuffers = list;
  }

  /** Drops the fixed buffers. */
  unregisterBuffers(): void {
    this.#register(IORING_UNREGISTER_BUFFERS, 0, 0, "unregister_buffers");
    this.#pinnedBuffers = null;
  }

  /** The registered buffers, or null. */
  get registeredBuffers(): PinnedBuffers | null {
    return this.#pinnedBuffers;
  }

  /**
   * Registers `fds` as fixed files (IORING_REGISTER_FILES); -1 leaves a
   * slot empty. Use the index as fd with IOSQE_FIXED_FILE.
   */
  registerFiles(fds: readonly number[]): void {
    const table = fdTable(fds);
    this.#register(
      IORING_REGISTER_FILES,
      addressNumber(table),
      table.length,
      "register_files",
    );
    this.#registeredFiles = true;
  }

  /** Registers an empty fixed-file table of `count` slots (IORING_RSRC_REGISTER_SPARSE). */
  registerFilesSparse(count: number): void {
    checkInteger(count, "count", 1, 1 << 20);
    const arg = new RsrcRegisterView(new Uint8Array(32));
    arg.nr = count;
    arg.flags = IORING_RSRC_REGISTER_SPARSE;
    try {
      this.#register(
        IORING_REGISTER_FILES2,
        addressNumber(arg.bytes),
        32,
        "register_files_sparse",
      );
    } catch (error) {
      // The kernel caps a file table at the open-file limit: name it.
      if (error instanceof UringError && error.errno === EMFILE) {
        const { soft, hard } = openFileLimit();
        throw new UringError(EMFILE, {
          op: "register_files_sparse",
          fd: this.#ringFd,
          detail: `${count} slots exceed RLIMIT_NOFILE (soft limit ${soft}, ` +
            `hard ${hard}): a fixed-file table may not be larger than the ` +
            "open-file limit; raise it (ulimit -n) or register fewer slots",
        });
      }
      throw error;
    }
    this.#registeredFiles = true;
  }

  /**
   * Replaces fixed-file slots from `offset` on with `fds` (-1 clears a slot,
   * IORING_REGISTER_FILES_SKIP leaves it). Returns how many were updated.
   */
  registerFilesUpdate(offset: number, fds: readonly number[]): number {
    checkInteger(offset, "offset");
    const table = fdTable(fds, true);
    const arg = new RsrcUpdateView(new Uint8Array(16));
    arg.offset = offset;
    arg.data = addressNumber(table);
    return this.#register(
      IORING_REGISTER_FILES_UPDATE,
      addressNumber(arg.bytes),
      table.length,
      "register_files_update",
    );
  }

  /** Drops the fixed-file table. */
  unregisterFiles(): void {
    this.#register(IORING_UNREGISTER_FILES, 0, 0, "unregister_files");
    this.#registeredFiles = false;
  }

  /** Whether a fixed-file table is registered. */
  get hasRegisteredFiles(): boolean {
    return this.#registeredFiles;
  }

  /**
   * Registers an eventfd the kernel signals on each completion
   * (`async: true` signals only for completions that went async).
   */
  registerEventfd(eventfd: number, options: { async?: boolean } = {}): void {
    checkFd(eventfd, "eventfd");
    checkOptions(options, ["async"], "registerEventfd options");
    const value = new Int32Array([eventfd]);
    this.#register(
      options.async ? IORING_REGISTER_EVENTFD_ASYNC : IORING_REGISTER_EVENTFD,
      addressNumber(value),
      1,
      "register_eventfd",
    );
  }

  /** Unregisters the eventfd. */
  unregisterEventfd(): void {
    this.#register(IORING_UNREGISTER_EVENTFD, 0, 0, "unregister_eventfd");
  }

  /**
   * Asks the kernel which opcodes it supports (IORING_REGISTER_PROBE).
   *
   * @example
   * ```ts
   * import { RingCore } from "./core.ts";
   * using ring = new RingCore({ entries: 2 });
   * ring.probe().supported.has("READ"); // true
   * ```
   */
  probe(): { lastOp: number; ops: number[]; supported: Set<string> } {
    const bytes = new Uint8Array(probeSize(256));
    this.#register(
      IORING_REGISTER_PROBE,
      addressNumber(bytes),
      256,
      "register_probe",
    );
    const view = new ProbeView(bytes);
    const ops: number[] = [];
    for (let op = 0; op <= view.lastOp; op++) {
      if (view.supported(op)) ops.push(op);
    }
    return {
      lastOp: view.lastOp,
      ops,
      supported: new Set(
        ops.map((op) => op < IORING_OP_LAST ? OPCODE_NAMES[op] : `OP_${op}`),
      ),
    };
  }

  /** Forgets the pinned buffers (the ring is closing). */
  forget(): void {
    this.#pinnedBuffers = null;
  }
}

function fdTable(fds: readonly number[], allowSkip = false): Int32Array {
  // One snapshot gives the table its size and its contents.
  const list = snapshotArray(fds, "fds", 0, 1 << 20, "file descriptors");
  if (list.length === 0) {
    throw new TypeError("fds must be a non-empty array of file descriptors");
  }
  const table = new Int32Array(list.length);
  list.forEach((fd, i) => {
    if (fd === -1 || (allowSkip && fd === -2)) table[i] = fd;
    else {
      checkFd(fd, `fds[${i}]`);
      table[i] = fd;
    }
  });
  return table;
}
