/**
 * The guard every writing command runs before it opens an output: no
 * output may be one of the command's inputs, or another output, however
 * it is spelled. Paths are compared by what they resolve to (device and
 * inode after following symlinks; the device number for device nodes),
 * never as strings: `./FILE`, `/abs/FILE`, a hard link and a symlink to
 * FILE are all FILE.
 *
 * @module
 */
import { S_IFBLK, S_IFMT } from "../structs/constants.ts";
import { UringError } from "../sys/errors.ts";
import { statxPath } from "../sys/stat.ts";
import type { Statx } from "../structs/statx.ts";
import { EnvironmentError, UsageError } from "./errors.ts";
import { describeFailure } from "./files.ts";

/**
 * What a path resolves to, as a string two paths share exactly when they
 * name the same file: `dev:ino` for files, `rdev` for device nodes (two
 * nodes of one disk are the same disk).
 *
 * @example
 * ```ts
 * import { fileIdentity } from "./same_file.ts";
 * fileIdentity("/etc/hostname") === fileIdentity("/etc/../etc/hostname"); // true
 * fileIdentity("/no/such/file"); // undefined
 * ```
 */
export function fileIdentity(path: string): string | undefined {
  let st: Statx;
  try {
    st = statxPath(path);
  } catch (error) {
    // Nothing there (yet): it cannot be any existing input.
    if (
      error instanceof UringError &&
      (error.code === "ENOENT" || error.code === "ENOTDIR")
    ) return undefined;
    throw new EnvironmentError(describeFailure(path, error));
  }
  const type = st.mode & S_IFMT;
  // Character devices (S_IFCHR, not among the structs' constants).
  if (type === S_IFBLK || type === 0o020000) {
    return `device ${st.rdevMajor}:${st.rdevMinor}`;
  }
  return `inode ${st.ino} on device ${st.devMajor}:${st.devMinor}`;
}

/**
 * A path as a command names it: the option or argument, and the path.
 *
 * @example
 * ```ts
 * import type { NamedPath } from "./same_file.ts";
 * const out: NamedPath = { role: "--out", path: "data.bin.pi" };
 * ```
 */
export interface NamedPath {
  /** How the user gave it (`FILE`, `--to`, `--pi-out`). */
  readonly role: string;
  readonly path: string;
}

/**
 * Refuses when an output resolves to an input or to another output.
 *
 * @throws {UsageError} naming both paths and what they share.
 * @example
 * ```ts
 * import { refuseSameFile } from "./same_file.ts";
 * refuseSameFile("pi gen", [{ role: "--out", path: "/dev/shm/x.pi" }], [
 *   { role: "FILE", path: "/etc/hostname" },
 * ]);
 * ```
 */
export function refuseSameFile(
  command: string,
  outputs: readonly NamedPath[],
  inputs: readonly NamedPath[],
): void {
  const seen: { named: NamedPath; id: string; input: boolean }[] = [];
  for (const named of inputs) {
    const id = fileIdentity(named.path);
    if (id !== undefined) seen.push({ named, id, input: true });
  }
  for (const named of outputs) {
    const id = fileIdentity(named.path);
    if (id === undefined) continue;
    const clash = seen.find((s) => s.id === id);
    if (clash) {
      const other = clash.named;
      throw new UsageError(
        `${named.role} ${named.path} is the same file as ${other.role} ${other.path} (${id}): ` +
          (clash.input
            ? `writing it would destroy the ${other.role} being read`
            : "two outputs cannot share a file"),
        command,
      );
    }
    seen.push({ named, id, input: false });
  }
}
