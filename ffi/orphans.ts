/**
 * Rings left behind by a terminated Worker. No runtime runs any code of a
 * Worker it terminates, so the Worker's rings cannot close themselves:
 * their fds, mappings and queued requests would stay until the process
 * exits. Each ring fd (and each waiter eventfd) is tagged when its waiter
 * starts: the fd's owner becomes the thread that owns it (fcntl F_SETOWN_EX
 * F_OWNER_TID) and its signal a marker (F_SETSIG); both only matter for
 * O_ASYNC signals, which these fds never enable. A sweep, from any thread
 * still alive, closes the tagged fds whose thread is gone (the kernel then
 * reports no owner) and unmaps their rings; the kernel then cancels what
 * was in flight and frees the ring. /proc is read through libc
 * (procfs.ts), so a sweep needs no permission but FFI.
 *
 * @module
 */
import type { ProcReader } from "./procfs.ts";

const F_SETSIG = 10;
const F_GETSIG = 11;
const F_SETOWN_EX = 15;
const F_GETOWN_EX = 16;
const F_OWNER_TID = 0;
/** The F_SETSIG value that marks an fd as tagged by this library (SIGRTMAX). */
const TAG_SIGNAL = 64;

/** The libc calls a sweep makes. */
export interface OrphanLibc {
  fcntl(fd: number, cmd: number, arg: number): number;
  close(fd: number): number;
  write(fd: number, address: number, length: number): number;
  munmap(address: number, length: number): number;
  gettid(): number;
  addressOf(view: ArrayBufferView): number;
  /** /proc, read through libc. */
  proc: ProcReader;
}

// struct f_owner_ex { int type; pid_t pid; }
const owner = new Int32Array(2);
const one = new BigUint64Array([1n]);

/**
 * Marks `fd` as owned by the calling thread.
 *
 * @example
 * ```ts
 * import { tagOwner } from "./orphans.ts";
 * declare const libc: import("./orphans.ts").OrphanLibc;
 * tagOwner(libc, 5);
 * ```
 */
export function tagOwner(libc: OrphanLibc, fd: number): void {
  owner[0] = F_OWNER_TID;
  owner[1] = libc.gettid();
  if (libc.fcntl(fd, F_SETOWN_EX, libc.addressOf(owner)) === 0) {
    libc.fcntl(fd, F_SETSIG, TAG_SIGNAL);
  }
}

/** Whether `fd` was tagged by this library and its thread is gone. */
function orphaned(libc: OrphanLibc, fd: number): boolean {
  if (libc.fcntl(fd, F_GETSIG, 0) !== TAG_SIGNAL) return false;
  owner[0] = -1;
  owner[1] = 0;
  if (libc.fcntl(fd, F_GETOWN_EX, libc.addressOf(owner)) !== 0) return false;
  if (owner[0] !== F_OWNER_TID) return false;
  // A thread that has exited is reported as owner 0.
  return owner[1] === 0 ||
    libc.proc.inode(`/proc/self/task/${owner[1]}`) === undefined;
}

/** Mappings of io_uring files: [start, length, inode]. */
function ringMappings(proc: ProcReader): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (const line of proc.readText("/proc/self/maps").split("\n")) {
    if (!line.includes("io_uring")) continue;
    const range = line.slice(0, line.indexOf(" "));
    const [start, end] = range.split("-").map((hex) => parseInt(hex, 16));
    // undefined: unmapped meanwhile, or map_files not readable here.
    const inode = proc.inode(`/proc/self/map_files/${range}`);
    if (inode !== undefined) out.push([start, end - start, inode]);
  }
  return out;
}

/**
 * Closes the rings (and waiter eventfds) of threads that are gone, such as
 * a terminated Worker's, and unmaps the rings. Returns how many fds were
 * released. Safe to call at any time: only fds tagged by this library with
 * a thread that no longer exists are touched.
 *
 * @example
 * ```ts
 * import { releaseOrphans } from "./orphans.ts";
 * declare const libc: import("./orphans.ts").OrphanLibc;
 * releaseOrphans(libc); // 0 when no Worker left rings behind
 * ```
 */
export function releaseOrphans(libc: OrphanLibc): number {
  let released = 0;
  const proc = libc.proc;
  const rings: { fd: number; orphan: boolean }[] = [];
  for (const name of proc.listDir("/proc/self/fd")) {
    const fd = Number(name);
    const target = proc.readLink(`/proc/self/fd/${name}`);
    if (target === "anon_inode:[io_uring]") {
      rings.push({ fd, orphan: orphaned(libc, fd) });
    } else if (target === "anon_inode:[eventfd]" && orphaned(libc, fd)) {
      // A dead realm's waiter may sleep in poll on this eventfd, holding
      // its rings: wake it so it lets go of them.
      libc.write(fd, libc.addressOf(one), 8);
      libc.close(fd);
      released++;
    }
  }
  if (!rings.some((ring) => ring.orphan)) return released;
  const inodeOf = (fd: number) => proc.inode(`/proc/self/fd/${fd}`);
  // Kernels that give every anonymous file one shared inode make the
  // mappings of live rings look like the orphan's: those are never unmapped.
  const live = new Set(
    rings.filter((r) => !r.orphan).map((r) => inodeOf(r.fd)),
  );
  const mappings = ringMappings(proc);
  for (const { fd, orphan } of rings) {
    if (!orphan) continue;
    const inode = inodeOf(fd);
    if (inode === undefined) continue;
    if (!live.has(inode)) {
      // The mappings hold the ring too: without unmapping, closing the fd
      // would free nothing and cancel nothing.
      for (const [start, length, ino] of mappings) {
        if (ino === inode) libc.munmap(start, length);
      }
    }
    libc.close(fd);
    released++;
  }
  return released;
}
