/**
 * Command-line parsing: each command declares its positionals and options
 * once ({@linkcode CommandSpec}); the same declaration parses `argv`,
 * validates values and prints `--help`, so the two cannot drift apart.
 *
 * @module
 */
import { UsageError } from "./errors.ts";

/**
 * One `--name value` option.
 *
 * @example
 * ```ts
 * import type { OptionSpec } from "./args.ts";
 * const qd: OptionSpec = { type: "integer", value: "N", min: 1, description: "queue depth" };
 * ```
 */
export interface OptionSpec {
  /** `boolean` flags take no value; `integer` accepts 0x.. and K/M/G suffixes. */
  readonly type: "string" | "integer" | "number" | "boolean";
  readonly description: string;
  /** The placeholder shown in `--help` (`N`, `FILE`). */
  readonly value?: string;
  /** Allowed values of a string option. */
  readonly choices?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** Shown in `--help`; applied by the command, not by the parser. */
  readonly default?: string | number | boolean;
}

/**
 * A positional argument.
 *
 * @example
 * ```ts
 * import type { PositionalSpec } from "./args.ts";
 * const file: PositionalSpec = { name: "FILE", description: "the data file" };
 * ```
 */
export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
  readonly optional?: boolean;
}

/**
 * Everything the parser and `--help` need to know about one command.
 *
 * @example
 * ```ts
 * import type { CommandSpec } from "./args.ts";
 * const spec: CommandSpec = {
 *   name: "probe",
 *   summary: "what the kernel and a path can do",
 *   positionals: [{ name: "PATH", description: "file or device", optional: true }],
 *   options: { json: { type: "boolean", description: "print JSON" } },
 * };
 * ```
 */
export interface CommandSpec {
  /** The words that select it (`"pi gen"`). */
  readonly name: string;
  readonly summary: string;
  readonly positionals: readonly PositionalSpec[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Paragraphs after the option list: what the output means, exit codes. */
  readonly details?: string;
  /** Example command lines (without the `uring` prefix). */
  readonly examples?: readonly string[];
}

/** A parsed option value. */
export type OptionValue = string | number | boolean;

/**
 * The result of {@linkcode parseArgs}.
 *
 * @example
 * ```ts
 * import type { ParsedArgs } from "./args.ts";
 * const parsed: ParsedArgs = { help: false, positionals: ["f"], options: { json: true } };
 * ```
 */
export interface ParsedArgs {
  /** `--help` or `-h` was given: print help, ignore everything else. */
  readonly help: boolean;
  readonly positionals: readonly string[];
  readonly options: Readonly<Record<string, OptionValue | undefined>>;
}

const SUFFIXES: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/**
 * Parses an integer as people type sizes: `4096`, `0x1000`, `4k`, `1M`,
 * `2GiB` (binary multiples). Returns undefined when it is not one.
 *
 * @example
 * ```ts
 * import { parseInteger } from "./args.ts";
 * parseInteger("1M"); // 1048576
 * parseInteger("0xffff"); // 65535
 * parseInteger("1.5"); // undefined
 * ```
 */
export function parseInteger(text: string): number | undefined {
  const hex = /^0x([0-9a-f]+)$/i.exec(text);
  if (hex) return Number.parseInt(hex[1], 16);
  const m = /^(\d+)\s*([kmgt]?)(i?b)?$/i.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]) * SUFFIXES[m[2].toLowerCase()];
  return Number.isSafeInteger(value) ? value : undefined;
}

function convert(
  command: string,
  name: string,
  spec: OptionSpec,
  raw: string,
): OptionValue {
  const fail = (what: string) =>
    new UsageError(`--${name} ${what}, got ${JSON.stringify(raw)}`, command);
  let value: OptionValue = raw;
  if (spec.type === "integer") {
    const n = parseInteger(raw);
    if (n === undefined) {
      // "-3" is an integer, just not one this option takes: say which.
      if (
        /^-/.test(raw) && parseInteger(raw.slice(1)) !== undefined &&
        spec.min !== undefined && spec.min >= 0
      ) {
        throw fail(spec.min >= 1 ? "must be positive" : "must not be negative");
      }
      throw fail("must be an integer");
    }
    value = n;
  } else if (spec.type === "number") {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n)) {
      throw fail("must be a number");
    }
    value = n;
  } else if (spec.choices && !spec.choices.includes(raw)) {
    throw fail(`must be one of ${spec.choices.join(", ")}`);
  }
  if (typeof value === "number") {
    if (spec.min !== undefined && value < spec.min) {
      throw fail(
        spec.min === 1 ? "must be positive" : `must be at least ${spec.min}`,
      );
    }
    if (spec.max !== undefined && value > spec.max) {
      throw fail(`must be at most ${spec.max}`);
    }
  }
  return value;
}

/**
 * Parses `argv` (the words after the command name) against `spec`.
 * Accepts `--name value`, `--name=value` and `--` before positionals that
 * start with a dash.
 *
 * @throws {UsageError} for unknown options, missing or bad values, and the
 * wrong number of positionals.
 * @example
 * ```ts
 * import { parseArgs } from "./args.ts";
 * const spec = {
 *   name: "bench", summary: "", positionals: [],
 *   options: { qd: { type: "integer", description: "" } },
 * } as const;
 * parseArgs(spec, ["--qd=64"]).options.qd; // 64
 * ```
 */
export function parseArgs(
  spec: CommandSpec,
  argv: readonly string[],
): ParsedArgs {
  const options: Record<string, OptionValue | undefined> = {};
  const positionals: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (onlyPositionals || !word.startsWith("-") || word === "-") {
      positionals.push(word);
      continue;
    }
    if (word === "--") {
      onlyPositionals = true;
      continue;
    }
    if (word === "--help" || word === "-h") {
      return { help: true, positionals: [], options: {} };
    }
    const eq = word.indexOf("=");
    const name = word.slice(2, eq < 0 ? undefined : eq);
    const option = word.startsWith("--") ? spec.options[name] : undefined;
    if (!option) {
      throw new UsageError(`unknown option ${word.split("=")[0]}`, spec.name);
    }
    if (option.type === "boolean") {
      if (eq >= 0) {
        throw new UsageError(`--${name} takes no value`, spec.name);
      }
      options[name] = true;
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = word.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) {
        throw new UsageError(
          `--${name} needs a value (${option.value ?? "VALUE"})`,
          spec.name,
        );
      }
      raw = argv[++i];
    }
    options[name] = convert(spec.name, name, option, raw);
  }
  const required = spec.positionals.filter((p) => !p.optional).length;
  if (positionals.length < required) {
    const missing = spec.positionals[positionals.length].name;
    throw new UsageError(`missing ${missing}`, spec.name);
  }
  if (positionals.length > spec.positionals.length) {
    throw new UsageError(
      `unexpected argument ${
        JSON.stringify(positionals[spec.positionals.length])
      }`,
      spec.name,
    );
  }
  return { help: false, positionals, options };
}

/**
 * The `--help` text of a command.
 *
 * @example
 * ```ts
 * import { helpText } from "./args.ts";
 * console.log(helpText({ name: "probe", summary: "s", positionals: [], options: {} }));
 * ```
 */
export function helpText(spec: CommandSpec, program = "uring"): string {
  const usage = [program, spec.name];
  for (const p of spec.positionals) {
    usage.push(p.optional ? `[${p.name}]` : p.name);
  }
  if (Object.keys(spec.options).length > 0) usage.push("[options]");
  const lines = [`Usage: ${usage.join(" ")}`, "", spec.summary];
  const rows: [string, string][] = [];
  for (const p of spec.positionals) rows.push([p.name, p.description]);
  for (const [name, o] of Object.entries(spec.options)) {
    const left = o.type === "boolean"
      ? `--${name}`
      : `--${name} ${o.value ?? (o.choices ? o.choices.join("|") : "VALUE")}`;
    const extra = o.default !== undefined ? ` (default ${o.default})` : "";
    rows.push([left, o.description + extra]);
  }
  rows.push(["--help", "show this help"]);
  const width = Math.max(...rows.map(([left]) => left.length));
  lines.push("");
  for (const [left, right] of rows) {
    lines.push(`  ${left.padEnd(width)}  ${right}`);
  }
  if (spec.details) lines.push("", spec.details.trim());
  if (spec.examples?.length) {
    lines.push("", "Examples:");
    for (const e of spec.examples) lines.push(`  ${program} ${e}`);
  }
  return lines.join("\n") + "\n";
}
