/**
 * The `uring` command line: `deno run -A cli.ts COMMAND ...` or
 * `bun cli.ts COMMAND ...` (also `deno task uring`, `bun run uring`).
 * Parsing and dispatch live in `cli/main.ts`, one module per command.
 *
 * @example
 * ```sh
 * deno run -A cli.ts probe /dev/shm
 * bun cli.ts pi gen data.bin && bun cli.ts pi verify data.bin
 * ```
 *
 * @module
 */
import process from "node:process";
import { main } from "./cli/main.ts";

process.exit(await main(process.argv.slice(2)));
