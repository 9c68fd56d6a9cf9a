/**
 * A one-line progress display on stderr: bytes done, MB/s, ETA. It appears
 * only on a terminal and only once a job has run for a second
 * (`URING_PROGRESS_AFTER_MS` changes that), so short commands and piped
 * output stay exactly as they are. It is redrawn with a carriage return
 * and spaces, never ANSI escapes, so NO_COLOR terminals and transcripts
 * (`script`, CI logs) see plain text.
 *
 * @module
 */
import process from "node:process";
import { formatBytes, formatRate, formatSeconds } from "./output.ts";

/** Jobs shorter than this never show a progress line (default). */
const SHOW_AFTER_MS = 1000;

function showAfterMs(): number {
  const ms = Number(process.env.URING_PROGRESS_AFTER_MS);
  return process.env.URING_PROGRESS_AFTER_MS && ms >= 0 ? ms : SHOW_AFTER_MS;
}
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
  readonly #showAfter = showAfterMs();
  #lastDraw = -Infinity;
  /** Characters on the line now (0: nothing drawn). */
  #width = 0;

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
    if (elapsed < this.#showAfter || now - this.#lastDraw < REDRAW_MS) return;
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
    this.#draw(parts.join("  "));
  }

  /** Shows a countdown for a timed job (`total` = 0): `label: 3.1s left`. */
  tick(text: string): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (
      now - this.#start < this.#showAfter || now - this.#lastDraw < REDRAW_MS
    ) {
      return;
    }
    this.#lastDraw = now;
    this.#draw(`${this.#label}: ${text}`);
  }

  /** Erases the line, so the report starts on a clean terminal line. */
  done(): void {
    if (this.#width > 0) {
      process.stderr.write(`\r${" ".repeat(this.#width)}\r`);
    }
    this.#width = 0;
  }

  /** Overwrites the line: spaces cover what a longer last line left. */
  #draw(text: string): void {
    process.stderr.write(`\r${text.padEnd(this.#width)}`);
    this.#width = Math.max(this.#width, text.length);
  }
}
