/**
 * The command table and the one place errors become exit codes: every
 * failure ends as one line on stderr and exit code 2, never a stack trace
 * (set URING_DEBUG=1 to see one); with `--json` the failure is also printed
 * on stdout as `{ "error": { command, kind, message, exitCode } }`.
 *
 * @module
 */
import process from "node:process";
import { helpText, parseArgs } from "./args.ts";
import { benchCommand } from "./bench.ts";
import type { Command } from "./command.ts";
import { EXIT_ERROR, EXIT_OK, oneLine, UsageError } from "./errors.ts";
import { toJson, writeErr, writeOut } from "./output.ts";
import { piGenCommand } from "./pi_gen.ts";
import { piReadCommand } from "./pi_read.ts";
import { piWriteCommand } from "./pi_write.ts";
import { scrubCommand } from "./scrub.ts";
import { piVerifyCommand } from "./pi_verify.ts";
import { probeCommand } from "./probe.ts";

/** Every command, by the words that select it. */
export const COMMANDS: readonly Command[] = [
  probeCommand,
  piGenCommand,
  piVerifyCommand,
  piWriteCommand,
  piReadCommand,
  scrubCommand,
  benchCommand,
];

/**
 * The top-level help, or a group's (`uring pi --help`).
 *
 * @example
 * ```ts
 * import { overview } from "./main.ts";
 * console.log(overview("pi"));
 * ```
 */
export function overview(group = ""): string {
  const shown = COMMANDS.filter((c) =>
    group === "" || c.spec.name.startsWith(group + " ")
  );
  const width = Math.max(...shown.map((c) => c.spec.name.length));
  const lines = [
    `Usage: uring ${group ? group + " " : ""}COMMAND [options]`,
    "",
    group === ""
      ? "io_uring storage tools: probe the kernel and disks, protect files with PI sidecars,\nread/write/scrub PI devices, and benchmark against fio, C liburing and the runtime's fs."
      : "Protection Information (PI) commands.",
    "",
    "Commands:",
    ...shown.map((c) => `  ${c.spec.name.padEnd(width)}  ${c.spec.summary}`),
    "",
    `"uring COMMAND --help" shows a command's options.`,
    "Exit codes: 0 ok, 1 integrity problems found, 2 usage or environment error.",
  ];
  return lines.join("\n") + "\n";
}

/** `--json` among the options (not after `--`, where it would be a name). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

/** Finds the command named by the first one or two words of `argv`. */
function lookup(
  argv: readonly string[],
): { command?: Command; rest: readonly string[] } {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(" ");
    const command = COMMANDS.find((c) => c.spec.name === name);
    if (command) return { command, rest: argv.slice(words) };
  }
  return { rest: argv };
}

/**
 * Runs the CLI on `argv` (the words after `cli.ts`) and resolves to the
 * exit code; output is written before it resolves.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["probe", "--json"]);
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  let name = "";
  try {
    const first = argv[0];
    if (
      first === undefined || first === "--help" || first === "-h" ||
      first === "help"
    ) {
      await writeOut(overview());
      return first === undefined ? EXIT_ERROR : EXIT_OK;
    }
    const { command, rest } = lookup(argv);
    if (!command) {
      const group = COMMANDS.some((c) => c.spec.name.startsWith(first + " "));
      if (
        group && (argv.length === 1 || argv[1] === "--help" || argv[1] === "-h")
      ) {
        await writeOut(overview(first));
        return argv.length === 1 ? EXIT_ERROR : EXIT_OK;
      }
      const what = group ? `${first} ${argv[1]}` : first;
      throw new UsageError(`unknown command "${what}"`, group ? first : "");
    }
    name = command.spec.name;
    const parsed = parseArgs(command.spec, rest);
    if (parsed.help) {
      await writeOut(helpText(command.spec));
      return EXIT_OK;
    }
    return await command.run(parsed);
  } catch (error) {
    const where = error instanceof UsageError ? error.command || name : name;
    const prefix = where ? `uring ${where}` : "uring";
    const hint = error instanceof UsageError
      ? ` (see "uring${error.command ? " " + error.command : ""} --help")`
      : "";
    if (process.env.URING_DEBUG && error instanceof Error) {
      await writeErr(`${error.stack}\n`);
    }
    await writeErr(`${prefix}: ${oneLine(error)}${hint}\n`);
    // A script that asked for JSON reads stdout: give it the failure too.
    if (wantsJson(argv)) {
      await writeOut(
        toJson({
          error: {
            command: where || null,
            kind: error instanceof UsageError ? "usage" : "environment",
            message: oneLine(error),
            exitCode: EXIT_ERROR,
          },
        }) + "\n",
      );
    }
    return EXIT_ERROR;
  }
}
