/**
 * The options that describe a PI format on the command line, shared by
 * the commands that take them, and their checks.
 *
 * @module
 */
import type { PiGuard } from "../pi/mod.ts";
import type { OptionSpec } from "./args.ts";
import { UsageError } from "./errors.ts";

/** Guard names the CLI accepts, the listed default first. */
export const GUARD_CHOICES: readonly PiGuard[] = [
  "crc16-t10dif",
  "crc64-nvme",
  "crc32c",
  "ip",
];

/** Bytes per read when streaming a file: big enough that per-request cost vanishes. */
export const DEFAULT_BLOCK_SIZE = 1 << 20;
/** Reads in flight while streaming. */
export const DEFAULT_DEPTH = 4;

/** `--block-size` and `--depth`, for commands that stream files. */
export const STREAM_OPTIONS: Record<string, OptionSpec> = {
  "block-size": {
    type: "integer",
    value: "N",
    min: 4096,
    max: 64 << 20,
    default: "1M",
    description: "bytes per read through the ring",
  },
  depth: {
    type: "integer",
    value: "N",
    min: 1,
    max: 32,
    default: DEFAULT_DEPTH,
    description: "reads in flight",
  },
};

/**
 * Checks a protection interval: a power of two from 512 to 64 KiB, as
 * device formats are.
 *
 * @throws {UsageError} otherwise.
 * @example
 * ```ts
 * import { checkInterval } from "./pi_format_options.ts";
 * checkInterval(4096, "pi gen"); // ok
 * ```
 */
export function checkInterval(interval: number, command: string): void {
  if (interval < 512 || interval > 65536 || (interval & (interval - 1)) !== 0) {
    throw new UsageError(
      `--interval must be a power of two from 512 to 65536, got ${interval}`,
      command,
    );
  }
}

/**
 * The block size for streaming: the requested one rounded down to a
 * multiple of the interval (and at least one interval).
 *
 * @example
 * ```ts
 * import { streamBlockSize } from "./pi_format_options.ts";
 * streamBlockSize(1_000_000, 4096); // 995328
 * ```
 */
export function streamBlockSize(requested: number, interval: number): number {
  return Math.max(interval, Math.floor(requested / interval) * interval);
}
