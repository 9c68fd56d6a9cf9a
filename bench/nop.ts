/**
 * NOP submit+reap throughput of the ring core, the TypeScript side of
 * `bench/nop.sh` (which runs it beside the C liburing program
 * `bench/nop_ref.c` and prints the ratios).
 *
 *     deno run -A bench/nop.ts BATCH OPS      bun bench/nop.ts BATCH OPS
 *
 * Prints `ops_per_sec N`, like the C program. Each round prepares BATCH NOPs
 * with `prepRaw` (no object per call), submits them with one
 * `submitAndWait(BATCH)` and reaps them with `reap(handler)`: the same work
 * as liburing's get_sqe + prep_nop, submit_and_wait, for_each_cqe +
 * cq_advance. The ring is set up with the same flags as the C program
 * (none; liburing 2.3 does not know NO_SQARRAY).
 *
 * @module
 */
import process from "node:process";
import { measureNops } from "../cli/nop_loop.ts";

if (import.meta.main) {
  const batch = Number(process.argv[2] ?? 128);
  const ops = Number(process.argv[3] ?? 5_000_000);
  if (!(batch >= 1) || !(ops >= 1)) {
    console.error("usage: nop.ts BATCH OPS");
    process.exit(2);
  }
  console.log(`ops_per_sec ${Math.round(measureNops(batch, ops))}`);
}
