/**
 * The shape every command module exports: its declaration (for parsing and
 * `--help`) and the function that runs it and returns the exit code.
 *
 * @module
 */
import type { CommandSpec, ParsedArgs } from "./args.ts";

/**
 * A runnable command.
 *
 * @example
 * ```ts
 * import type { Command } from "./command.ts";
 * const hello: Command = {
 *   spec: { name: "hello", summary: "says hello", positionals: [], options: {} },
 *   run: async () => 0,
 * };
 * ```
 */
export interface Command {
  readonly spec: CommandSpec;
  /** Runs with parsed arguments; resolves to the exit code. */
  run(args: ParsedArgs): Promise<number>;
}
