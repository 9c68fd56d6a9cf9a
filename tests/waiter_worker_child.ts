/**
 * Child of tests/waiter_test.ts: starts a Worker that opens rings with reads
 * in flight on pipes, terminates it, and reports on stdout (one JSON line)
 * whether this process is still alive and how many io_uring fds it holds.
 * Run as a separate process so a crash cannot take the test runner along.
 *
 * @module
 */
import { readdirSync, readlinkSync } from "node:fs";
// libc only: liburing must not be loaded by this thread, or the Worker's
// copy would never be unmapped and the crash could not show.
import { writeFd } from "../sys/fd.ts";

/** Open io_uring fds of this process. */
function ringFds(): number {
  let n = 0;
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`) === "anon_inode:[io_uring]") {
        n++;
      }
    } catch {
      // the fd readdir itself used, already closed
    }
  }
  return n;
}

const before = ringFds();
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
// The reads complete now: a waiter thread asleep in the Worker's unloaded
// library returned into unmapped code here (SIGSEGV).
for (const fd of writeEnds) writeFd(fd, new Uint8Array([120]));
// Long enough for a crash to happen (it did at once) and for fds to go.
await new Promise((resolve) => setTimeout(resolve, 300));
console.log(JSON.stringify({ alive: true, before, during, after: ringFds() }));
