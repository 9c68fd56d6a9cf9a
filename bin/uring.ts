#!/usr/bin/env bun
/**
 * The `uring` command of the npm package (`bunx uring probe`): Bun runs
 * this file through its shebang. On Deno, run `cli.ts` (or the `./cli`
 * export) with `deno run --allow-ffi`.
 *
 * @module
 */
import "../cli.ts";
