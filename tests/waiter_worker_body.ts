/**
 * Worker body for tests/waiter_worker_child.ts: four rings, each with a
 * read in flight on its own pipe, then the pipes' write ends go to the
 * parent, which writes to them once this Worker is terminated.
 *
 * @module
 */
import { pipeFds, Ring } from "../raw.ts";

const rings: Ring[] = [];
const writeEnds: number[] = [];
for (let i = 0; i < 4; i++) {
  const ring = new Ring({ entries: 8 });
  const [readEnd, writeEnd] = pipeFds();
  ring.read(readEnd, new Uint8Array(16), -1).catch(() => {});
  rings.push(ring);
  writeEnds.push(writeEnd);
}
// A macrotask later every read has been submitted and every waiter armed.
setTimeout(() => {
  // deno-lint-ignore no-explicit-any
  (globalThis as any).postMessage(writeEnds);
}, 50);
