/**
 * Opening the files a command names, with failures turned into one-line
 * messages people can act on ("x is a directory, not a file") instead of
 * errno dumps. Metadata comes from statx(2) through libc; the data itself
 * always goes through the ring.
 *
 * @module
 */
import type { Ring } from "../ring/ring.ts";
import type { TransferFailure } from "../ring/full_io.ts";
import { UringError } from "../sys/errors.ts";
import { statxPath } from "../sys/stat.ts";
import type { Statx } from "../structs/statx.ts";
import { errnoMessage, errnoNumber } from "../structs/errno.ts";
import { S_IFBLK, S_IFDIR, S_IFMT, S_IFREG } from "../structs/constants.ts";
import { EnvironmentError } from "./errors.ts";

/**
 * What went wrong in a failed system call, in words and by errno name
 * (`no space left on device (ENOSPC)`), whether it came from the ring
 * (a {@linkcode UringError}) or from node:fs (an error with a `code`).
 *
 * @example
 * ```ts
 * import { errorText } from "./files.ts";
 * errorText(Object.assign(new Error("ENOENT: x"), { code: "ENOENT" })); // "no such file or directory (ENOENT)"
 * ```
 */
export function errorText(error: unknown): string {
  if (error instanceof UringError) {
    return `${errnoMessage(error.errno).toLowerCase()} (${error.code})`;
  }
  const code = (error as { code?: unknown } | null)?.code;
  const errno = typeof code === "string" ? errnoNumber(code) : undefined;
  if (errno !== undefined) {
    return `${errnoMessage(errno).toLowerCase()} (${code})`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * A one-line description of a failed system call on `path`.
 *
 * @example
 * ```ts
 * import { describeFailure } from "./files.ts";
 * describeFailure("/nope", new Error("x")); // "/nope: x"
 * ```
 */
export function describeFailure(path: string, error: unknown): string {
  return `${path}: ${errorText(error)}`;
}

/**
 * The error for a read or write of `path` at byte `offset` that failed:
 * one line with the path, the offset and the reason. Integrity failures
 * (EILSEQ) and errors that already say where are passed through, since the
 * PI commands diagnose the first by LBA.
 *
 * @example
 * ```ts
 * import { ioFailure } from "./files.ts";
 * ioFailure("x.pi", "writing", 4096, new Error("disk full")).message; // "x.pi: disk full (writing at byte 4096)"
 * ```
 */
export function ioFailure(
  path: string,
  action: "reading" | "writing",
  offset: number,
  error: unknown,
): Error {
  if (
    error instanceof EnvironmentError ||
    (error instanceof UringError && error.code === "EILSEQ")
  ) return error as Error;
  return new EnvironmentError(
    `${describeFailure(path, error)} (${action} at byte ${offset})`,
  );
}

/**
 * The `failed` argument of `readFull` / `writeFull` for `path`: a failed
 * transfer becomes {@linkcode ioFailure}'s one line with the path, the
 * action and the byte offset. Without a path, undefined: the error comes
 * through as it is.
 *
 * @example
 * ```ts
 * import { Ring } from "../ring/ring.ts";
 * import { readFull } from "../ring/full_io.ts";
 * import { openFd } from "../sys/fd.ts";
 * import { failureNaming } from "./files.ts";
 * await using ring = new Ring();
 * const fd = openFd("/etc/hostname", 0);
 * await readFull(ring, fd, new Uint8Array(4), 0, undefined, failureNaming("/etc/hostname", "reading"));
 * ```
 */
export function failureNaming(
  path: string | undefined,
  action: "reading" | "writing",
): TransferFailure | undefined {
  if (path === undefined) return undefined;
  return (error, offset) => ioFailure(path, action, offset, error);
}

/**
 * statx of `path`, or an {@linkcode EnvironmentError} saying why not.
 *
 * @example
 * ```ts
 * import { statOrExplain } from "./files.ts";
 * statOrExplain("/etc/hostname").size;
 * ```
 */
export function statOrExplain(path: string): Statx {
  try {
    return statxPath(path);
  } catch (error) {
    throw new EnvironmentError(describeFailure(path, error));
  }
}

/**
 * Checks that `path` is a regular file and returns its statx.
 *
 * @throws {EnvironmentError} for a missing path, a directory, a device.
 * @example
 * ```ts
 * import { requireRegularFile } from "./files.ts";
 * requireRegularFile("/etc/hostname", "FILE");
 * ```
 */
export function requireRegularFile(path: string, role: string): Statx {
  const st = statOrExplain(path);
  const type = st.mode & S_IFMT;
  if (type === S_IFDIR) {
    throw new EnvironmentError(
      `${path} is a directory; ${role} must be a file`,
    );
  }
  if (type !== S_IFREG) {
    throw new EnvironmentError(
      `${path} is not a regular file; ${role} must be one`,
    );
  }
  return st;
}

/**
 * Checks that `path` is a block device and returns its statx.
 *
 * @throws {EnvironmentError} otherwise.
 * @example
 * ```ts
 * import { requireBlockDevice } from "./files.ts";
 * try { requireBlockDevice("/dev/null"); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function requireBlockDevice(path: string): Statx {
  const st = statOrExplain(path);
  if ((st.mode & S_IFMT) !== S_IFBLK) {
    throw new EnvironmentError(
      `${path} is not a block device: PI read/write/scrub need a PI-formatted disk (use "pi gen"/"pi verify" for files)`,
    );
  }
  return st;
}

/**
 * Opens `path` through the ring, or throws an {@linkcode EnvironmentError}
 * with the reason.
 *
 * @example
 * ```ts
 * import { Ring } from "../ring/ring.ts";
 * import { openThroughRing } from "./files.ts";
 * await using ring = new Ring();
 * const fd = await openThroughRing(ring, "/etc/hostname", 0);
 * await ring.closeFd(fd);
 * ```
 */
export async function openThroughRing(
  ring: Ring,
  path: string,
  flags: number,
  mode = 0o644,
): Promise<number> {
  try {
    return await ring.openat(path, flags, mode);
  } catch (error) {
    throw new EnvironmentError(describeFailure(path, error));
  }
}
