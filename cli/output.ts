/**
 * Output: aligned text tables, JSON that survives bigints, human-readable
 * sizes and rates, and writes to stdout/stderr that have reached the OS
 * before the process exits (a pipe on Bun is written asynchronously, and
 * `process.exit` would cut it short).
 *
 * @module
 */
import process from "node:process";

/**
 * Writes `text` to stdout and resolves once it has been handed to the OS.
 *
 * @example
 * ```ts
 * import { writeOut } from "./output.ts";
 * await writeOut("done\n");
 * ```
 */
export function writeOut(text: string): Promise<void> {
  return writeTo(process.stdout, text);
}

/**
 * Writes `text` to stderr and resolves once it has been handed to the OS.
 *
 * @example
 * ```ts
 * import { writeErr } from "./output.ts";
 * await writeErr("uring: something failed\n");
 * ```
 */
export function writeErr(text: string): Promise<void> {
  return writeTo(process.stderr, text);
}

interface OutputStream {
  write(text: string, done: (e?: Error | null) => void): boolean;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/** Streams whose reader has gone (`uring probe | head -1`). */
const closed = new WeakSet<OutputStream>();
const watched = new WeakSet<OutputStream>();

function writeTo(stream: OutputStream, text: string): Promise<void> {
  if (text.length === 0 || closed.has(stream)) return Promise.resolve();
  if (!watched.has(stream)) {
    watched.add(stream);
    // A reader that stopped reading is not an error of the command: the
    // rest of the output is dropped instead of crashing with EPIPE.
    stream.on("error", (error) => {
      if ((error as { code?: string }).code !== "EPIPE") throw error;
      closed.add(stream);
    });
  }
  return new Promise((resolve) => {
    stream.write(text, () => resolve());
  });
}

/**
 * JSON with bigints as decimal strings and two-space indentation.
 *
 * @example
 * ```ts
 * import { toJson } from "./output.ts";
 * toJson({ n: 1n }); // '{\n  "n": "1"\n}'
 * ```
 */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) => typeof v === "bigint" ? v.toString() : v,
    2,
  );
}

/**
 * A hexadecimal rendering of a checksum or tag, zero-padded to `digits`.
 *
 * @example
 * ```ts
 * import { hex } from "./output.ts";
 * hex(0xd0db, 4); // "0xd0db"
 * ```
 */
export function hex(value: number | bigint, digits = 0): string {
  return `0x${value.toString(16).padStart(digits, "0")}`;
}

/**
 * Bytes in binary units with one decimal (`256.0 MiB`).
 *
 * @example
 * ```ts
 * import { formatBytes } from "./output.ts";
 * formatBytes(268435456); // "256.0 MiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A data rate in decimal megabytes per second, as fio and dd print them.
 *
 * @example
 * ```ts
 * import { formatRate } from "./output.ts";
 * formatRate(1.5e9); // "1500 MB/s"
 * ```
 */
export function formatRate(bytesPerSecond: number): string {
  const mb = bytesPerSecond / 1e6;
  return `${mb >= 100 ? mb.toFixed(0) : mb.toFixed(1)} MB/s`;
}

/**
 * A count with thousands abbreviated (`554K`, `1.23M`).
 *
 * @example
 * ```ts
 * import { formatCount } from "./output.ts";
 * formatCount(554_000); // "554K"
 * ```
 */
export function formatCount(n: number): string {
  if (n >= 1e7) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}K`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return n.toFixed(0);
}

/**
 * Seconds as `1m05s` or `4.2s`.
 *
 * @example
 * ```ts
 * import { formatSeconds } from "./output.ts";
 * formatSeconds(65); // "1m05s"
 * ```
 */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
}

/**
 * A text table: the first column left-aligned, the others right-aligned
 * (they hold numbers), columns separated by two spaces.
 *
 * @example
 * ```ts
 * import { formatTable } from "./output.ts";
 * formatTable(["what", "IOPS"], [["uring", "512K"], ["fio", "600K"]]);
 * ```
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) =>
    Math.max(...all.map((row) => (row[c] ?? "").length))
  );
  const line = (row: readonly string[]) =>
    row.map((cell, c) =>
      c === 0
        ? (cell ?? "").padEnd(widths[c])
        : (cell ?? "").padStart(widths[c])
    ).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.map(line)].join("\n") + "\n";
}

/**
 * `key: value` lines with the keys aligned.
 *
 * @example
 * ```ts
 * import { formatFields } from "./output.ts";
 * formatFields([["kernel", "6.18"], ["rw attributes", "yes"]]);
 * ```
 */
export function formatFields(
  fields: readonly (readonly [string, string])[],
  indent = "",
): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${indent}${(k + ":").padEnd(width + 1)} ${v}`)
    .join("\n") + "\n";
}

/**
 * Wraps a long list of words onto lines of at most `width` characters.
 *
 * @example
 * ```ts
 * import { wrapWords } from "./output.ts";
 * wrapWords(["NOP", "READ", "WRITE"], 10, "  ");
 * ```
 */
export function wrapWords(
  words: readonly string[],
  width: number,
  indent: string,
): string {
  const lines: string[] = [];
  let current = "";
  for (const word of words) {
    if (current && indent.length + current.length + 1 + word.length > width) {
      lines.push(indent + current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  if (current) lines.push(indent + current);
  return lines.join("\n") + "\n";
}
