/**
 * Child of tests/waiter_test.ts: starts a Worker that opens rings with reads
 * in flight on pipes, terminates it, completes two of the reads, releases
 * the orphaned rings, and reports on stdout (one JSON line) whether this
 * process is still alive and which io_uring fds and mappings it holds.
 * Run as a separate process so a crash cannot take the test runner along.
 *
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
// libc only: liburing must not be loaded by this thread, or the Worker's
// copy would never be unmapped and the crash could not show.
import { writeFd } from "../sys/fd.ts";
import { releaseOrphanedRings } from "../ffi/mod.ts";

/** Open fds of this process whose link is `target`. */
function fdsOf(target: string): number {
  let n = 0;
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`) === target) n++;
    } catch {
      // the fd readdir itself used, already closed
    }
  }
  return n;
}

const ringFds = () => fdsOf("anon_inode:[io_uring]");
const eventFds = () => fdsOf("anon_inode:[eventfd]");

const before = ringFds();
const eventsBefore = eventFds();
const worker = new Worker(
  new URL("./waiter_worker_body.ts", import.meta.url).href,
  { type: "module" },
);
const writeEnds = await new Promise<number[]>((resolve, reject) => {
  worker.onmessage = (event) => resolve(event.data);
  worker.onerror = (event) => reject(new Error(event.message));
});
const during = ringFds();
worker.terminate();
await new Promise((resolve) => setTimeout(resolve, 100));
// Two reads complete now: a waiter thread asleep in the Worker's unloaded
// library returned into unmapped code here (SIGSEGV). Two stay queued.
for (const fd of writeEnds.slice(0, 2)) writeFd(fd, new Uint8Array([120]));
// Long enough for a crash to happen (it did at once) and the thread to end.
await new Promise((resolve) => setTimeout(resolve, 300));
const released = releaseOrphanedRings();
console.log(JSON.stringify({
  alive: true,
  before,
  during,
  after: ringFds(),
  released,
  eventfdsLeft: eventFds() - eventsBefore,
  ringMappings: readFileSync("/proc/self/maps", "utf8").split("\n")
    .filter((line) => line.includes("io_uring")).length,
}));
