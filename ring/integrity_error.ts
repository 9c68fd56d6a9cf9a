/**
 * The error a failed integrity check becomes. The kernel answers every
 * failed PI check with the same -EILSEQ, whichever interval and field was
 * wrong; {@linkcode IntegrityError} carries what the software diagnosis
 * (integrity_diagnosis.ts) found out, or why it could not.
 *
 * @module
 */
import { UringError } from "../sys/errors.ts";
import { EILSEQ } from "../structs/errno.ts";
import {
  IO_INTEGRITY_CHK_APPTAG,
  IO_INTEGRITY_CHK_GUARD,
  IO_INTEGRITY_CHK_REFTAG,
} from "../structs/constants.ts";

/**
 * One failed field of one protection interval.
 *
 * @example
 * ```ts
 * import type { IntegrityInterval } from "./integrity_error.ts";
 * const bad: IntegrityInterval = {
 *   index: 3, lba: 2051, offset: 1050112, field: "guard", expected: 0x1a2b, actual: 0x1a2c,
 * };
 * ```
 */
export interface IntegrityInterval {
  /** Interval number within the request, from 0. */
  readonly index: number;
  /** Logical block address of the interval's first byte. */
  readonly lba: number;
  /** File offset of the interval's first byte. */
  readonly offset: number;
  /** The tuple field that did not match. */
  readonly field: "guard" | "appTag" | "refTag" | "storageTag";
  /** What the field should hold (bigint for a 64-bit guard). */
  readonly expected: number | bigint;
  /** What the metadata holds. */
  readonly actual: number | bigint;
}

/**
 * The IO_INTEGRITY_CHK_* checks of a request, by name.
 *
 * @example
 * ```ts
 * import { checksOf } from "./integrity_error.ts";
 * checksOf(5); // { guard: true, reftag: false, apptag: true }
 * ```
 */
export function checksOf(
  flags: number,
): { guard: boolean; reftag: boolean; apptag: boolean } {
  return {
    guard: (flags & IO_INTEGRITY_CHK_GUARD) !== 0,
    reftag: (flags & IO_INTEGRITY_CHK_REFTAG) !== 0,
    apptag: (flags & IO_INTEGRITY_CHK_APPTAG) !== 0,
  };
}

function checkNames(flags: number): string {
  const c = checksOf(flags);
  const names = [
    c.guard && "GUARD",
    c.reftag && "REFTAG",
    c.apptag && "APPTAG",
  ].filter(Boolean);
  return names.length ? names.join("|") : "none";
}

function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

/**
 * What {@linkcode diagnoseIntegrity} found: the failed intervals, or why it
 * could not tell.
 *
 * @example
 * ```ts
 * import type { IntegrityDiagnosis } from "./integrity_error.ts";
 * const unknown: IntegrityDiagnosis = { undetermined: "no re-read callback" };
 * ```
 */
export type IntegrityDiagnosis =
  | { readonly intervals: readonly IntegrityInterval[]; undetermined?: never }
  | { readonly undetermined: string; intervals?: never };

/**
 * Where and how an integrity check failed, for {@linkcode IntegrityError}.
 *
 * @example
 * ```ts
 * import type { IntegrityErrorInit } from "./integrity_error.ts";
 * const init: IntegrityErrorInit = { op: "read", fd: 5, offset: 1 << 20, flags: 1, undetermined: "why" };
 * ```
 */
export type IntegrityErrorInit = {
  readonly op: string;
  readonly fd?: number;
  readonly path?: string;
  /** File offset of the request. */
  readonly offset: number;
  /** IO_INTEGRITY_CHK_* bits the request asked for. */
  readonly flags: number;
} & IntegrityDiagnosis;

/**
 * A read or write failed its integrity check (-EILSEQ). `intervals` names
 * every interval and field found wrong; when that could not be found out,
 * `undetermined` says why.
 *
 * @example
 * ```ts
 * import { IntegrityError } from "./integrity_error.ts";
 * const e = new IntegrityError({
 *   op: "write", fd: 5, offset: 1 << 20, flags: 7,
 *   intervals: [{ index: 2, lba: 2050, offset: 1049600, field: "appTag", expected: 0x10, actual: 0x11 }],
 * });
 * e.code; // "EILSEQ"
 * e.intervals?.[0].field; // "appTag"
 * ```
 */
export class IntegrityError extends UringError {
  /** Always `"IntegrityError"`. */
  override name = "IntegrityError";
  /** File offset of the request. */
  readonly offset: number;
  /** IO_INTEGRITY_CHK_* bits the request asked for. */
  readonly flags: number;
  /** The checks the request asked for, by name. */
  readonly checks: { guard: boolean; reftag: boolean; apptag: boolean };
  /** The failed intervals and fields, when found. */
  readonly intervals?: readonly IntegrityInterval[];
  /** Why the failed interval could not be found. */
  readonly undetermined?: string;

  /** The errno is EILSEQ; `init` gives the request and what was found. */
  constructor(init: IntegrityErrorInit) {
    super(EILSEQ, {
      op: init.op,
      fd: init.fd,
      path: init.path,
      detail: describeFailure(init),
    });
    this.offset = init.offset;
    this.flags = init.flags;
    this.checks = checksOf(init.flags);
    if (init.intervals !== undefined) {
      this.intervals = Object.freeze([...init.intervals]);
    } else this.undetermined = init.undetermined;
  }
}

function describeFailure(init: IntegrityErrorInit): string {
  const head =
    `integrity check failed for the ${init.op} at offset ${init.offset} ` +
    `(checks ${checkNames(init.flags)})`;
  if (init.intervals === undefined || init.intervals.length === 0) {
    return `${head}; could not tell which interval failed: ${
      init.undetermined ?? "software verification found no bad interval"
    }`;
  }
  const shown = init.intervals.slice(0, 4).map((b) =>
    `interval ${b.index} (LBA ${b.lba}) ${b.field} expected ${
      hex(b.expected)
    }, found ${hex(b.actual)}`
  );
  const more = init.intervals.length > 4
    ? `; and ${init.intervals.length - 4} more`
    : "";
  return `${head}: ${shown.join("; ")}${more}`;
}
