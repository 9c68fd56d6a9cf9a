/**
 * A one-line progress display on stderr: bytes done, MB/s, ETA. It appears
 * only on a terminal and only once a job has run for a second, so short
 * commands and piped output stay exactly as they are.
 *
 * @module
 */
import process from "node:process";
import { formatBytes, formatRate, formatSeconds } from "./output.ts";

/** Jobs shorter than this never show a progress line. */
const SHOW_AFTER_MS = 1000;
/** Redrawing more often than this costs time and nobody can read it. */
const REDRAW_MS = 100;

/**
 * Whether progress lines may be drawn: stderr is a terminal (stdout may be
 * redirected to a JSON file while a person watches the terminal).
 *
 * @example
 * ```ts
 * import { progressAllowed } from "./progress.ts";
 * progressAllowed(); // false under a test runner
 * ```
 */
export function progressAllowed(): boolean {
  return process.stderr.isTTY === true && !process.env.URING_NO_PROGRESS;
}

/**
 * Progress of a job of `total` bytes (0 when unknown, e.g. a timed bench).
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const progress = new Progress("pi gen", 1 << 30);
 * progress.update(1 << 29);
 * progress.done();
 * ```
 */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #enabled: boolean;
  readonly #start = performance.now();
  #lastDraw = 0;
  #drawn = false;

  constructor(label: string, total: number, enabled = progressAllowed()) {
    this.#label = label;
    this.#total = total;
    this.#enabled = enabled;
  }

  /** Records `doneBytes` so far; redraws at most ten times a second. */
  update(doneBytes: number): void {
    if (!this.#enabled) return;
    const now = performance.now();
    const elapsed = now - this.#start;
    if (elapsed < SHOW_AFTER_MS || now - this.#lastDraw < REDRAW_MS) return;
    this.#lastDraw = now;
    const rate = doneBytes / (elapsed / 1000);
    const parts = [`${this.#label}:`, formatBytes(doneBytes)];
    if (this.#total > 0) {
      const pct = Math.min(100, (doneBytes / this.#total) * 100);
      parts.push(`of ${formatBytes(this.#total)} (${pct.toFixed(0)}%)`);
    }
    parts.push(formatRate(rate));
    if (this.#total > 0 && rate > 0) {
      parts.push(`ETA ${formatSeconds((this.#total - doneBytes) / rate)}`);
    }
    process.stderr.write(`\r\x1b[2K${parts.join("  ")}`);
    this.#drawn = true;
  }

  /** Shows a countdown for a timed job (`total` = 0): `label: 3.1s left`. */
  tick(text: string): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#start < SHOW_AFTER_MS || now - this.#lastDraw < REDRAW_MS) {
      return;
    }
    this.#lastDraw = now;
    process.stderr.write(`\r\x1b[2K${this.#label}: ${text}`);
    this.#drawn = true;
  }

  /** Erases the line, so the report starts on a clean terminal line. */
  done(): void {
    if (this.#drawn) process.stderr.write("\r\x1b[2K");
    this.#drawn = false;
  }
}
