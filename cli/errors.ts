/**
 * The two ways a command fails before it can report: a usage mistake or an
 * environment problem (missing file, no PI device, a tool not installed).
 * Both end the process with exit code 2 and one line on stderr.
 *
 * @module
 */

/** Exit code: everything checked out. */
export const EXIT_OK = 0;
/** Exit code: integrity problems were found (bad intervals, size changes). */
export const EXIT_INTEGRITY = 1;
/** Exit code: usage or environment error; nothing was checked. */
export const EXIT_ERROR = 2;

/**
 * A mistake in the command line: printed with a pointer to `--help`.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * throw new UsageError("--qd must be a positive integer, got 0", "bench");
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
  /** The command whose `--help` the message points at (`"pi gen"`). */
  readonly command: string;

  constructor(message: string, command = "") {
    super(message);
    this.command = command;
  }
}

/**
 * Something outside the command line is wrong (a path, the kernel, a
 * missing tool): the message says what, in one line.
 *
 * @example
 * ```ts
 * import { EnvironmentError } from "./errors.ts";
 * throw new EnvironmentError("/dev/sdb has no integrity profile");
 * ```
 */
export class EnvironmentError extends Error {
  override name = "EnvironmentError";
}

/**
 * One line that says what went wrong, for any error: no stack trace, no
 * newlines (a kernel or tool message can span lines).
 *
 * @example
 * ```ts
 * import { oneLine } from "./errors.ts";
 * oneLine(new Error("a\nb")); // "a b"
 * ```
 */
export function oneLine(error: unknown): string {
  const text = error instanceof Error
    ? error.message || error.name
    : String(error);
  return text.replace(/\s*\n\s*/g, " ").trim();
}
