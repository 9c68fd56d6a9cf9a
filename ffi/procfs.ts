/**
 * Reading /proc through libc rather than the runtime's file APIs: the
 * orphaned-ring sweep (orphans.ts) runs whenever a ring starts waiting,
 * and the library needs no permission but FFI (`deno run --allow-ffi`),
 * which a `node:fs` call on Deno would turn into a demand for
 * `--allow-read`.
 *
 * @module
 */

/** The libc calls the reader makes (bound in ffi/mod.ts). */
export interface ProcLibc {
  open(path: Uint8Array, flags: number, mode: number): number;
  read(fd: number, address: number, length: number): number;
  close(fd: number): number;
  opendir(path: Uint8Array): number;
  readdir(dir: number): number;
  closedir(dir: number): number;
  readlink(path: Uint8Array, buf: Uint8Array, size: number): number;
  statx(
    dirfd: number,
    path: Uint8Array,
    flags: number,
    mask: number,
    buf: Uint8Array,
  ): number;
  addressOf(view: ArrayBufferView): number;
  memoryAt(address: number, length: number): ArrayBuffer;
  /** A NUL-terminated copy of a path. */
  cString(text: string): Uint8Array;
}

/**
 * What the sweep reads of /proc. Every method answers "not there"
 * (`[]`, `undefined`, `""`) rather than throwing: the sweep is best effort.
 */
export interface ProcReader {
  /** Entry names of a directory, without "." and "..". */
  listDir(path: string): string[];
  /** Target of a symbolic link (/proc/self/fd/N). */
  readLink(path: string): string | undefined;
  /** Inode of the file at `path`, links followed. */
  inode(path: string): number | undefined;
  /** Text of a file whose size stat does not tell (/proc/self/maps). */
  readText(path: string): string;
}

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;
const STATX_INO = 0x100;
/** struct statx: stx_ino. */
const STX_INO_OFFSET = 0x20;
/** struct dirent (64-bit glibc): d_reclen, d_name. */
const D_RECLEN_OFFSET = 16;
const D_NAME_OFFSET = 19;

const decoder = new TextDecoder();

/**
 * A {@linkcode ProcReader} over `libc`.
 *
 * @example
 * ```ts
 * import { procReader, type ProcLibc } from "./procfs.ts";
 * declare const libc: ProcLibc;
 * procReader(libc).listDir("/proc/self/fd"); // ["0", "1", "2", ...]
 * ```
 */
export function procReader(libc: ProcLibc): ProcReader {
  const link = new Uint8Array(4096);
  const stat = new Uint8Array(256);
  return {
    listDir(path) {
      const dir = libc.opendir(libc.cString(path));
      if (dir === 0) return [];
      const names: string[] = [];
      try {
        for (let entry = libc.readdir(dir); entry !== 0;) {
          const head = new DataView(libc.memoryAt(entry, D_NAME_OFFSET));
          const reclen = head.getUint16(D_RECLEN_OFFSET, true);
          const raw = new Uint8Array(
            libc.memoryAt(entry + D_NAME_OFFSET, reclen - D_NAME_OFFSET),
          );
          const end = raw.indexOf(0);
          const name = decoder.decode(raw.subarray(0, end < 0 ? 0 : end));
          if (name !== "." && name !== "..") names.push(name);
          entry = libc.readdir(dir);
        }
      } finally {
        libc.closedir(dir);
      }
      return names;
    },
    readLink(path) {
      const n = libc.readlink(libc.cString(path), link, link.length);
      return n < 0 ? undefined : decoder.decode(link.subarray(0, n));
    },
    inode(path) {
      if (libc.statx(AT_FDCWD, libc.cString(path), 0, STATX_INO, stat) !== 0) {
        return undefined;
      }
      return Number(
        new DataView(stat.buffer).getBigUint64(STX_INO_OFFSET, true),
      );
    },
    readText(path) {
      const fd = libc.open(libc.cString(path), O_RDONLY | O_CLOEXEC, 0);
      if (fd < 0) return "";
      const chunks: Uint8Array[] = [];
      try {
        for (;;) {
          const chunk = new Uint8Array(65536);
          const n = libc.read(fd, libc.addressOf(chunk), chunk.length);
          if (n <= 0) break;
          chunks.push(chunk.subarray(0, n));
        }
      } finally {
        libc.close(fd);
      }
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      return decoder.decode(all);
    },
  };
}
