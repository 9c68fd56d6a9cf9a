/**
 * Writing a file so it appears under its name complete or not at all, and
 * never through someone else's link: the data goes to a fresh temporary
 * file in the same directory, created with O_EXCL|O_NOFOLLOW under a name
 * nobody can predict (pid + 64 random bits), which is fsynced, renamed
 * over the final name, and the directory fsynced, before success is
 * reported. Every failure removes the temporary file; a run killed before
 * it could do so leaves one that a later run removes once it can prove the
 * file is such a leftover (see {@linkcode removeStaleTemporaries}).
 *
 * @module
 */
import {
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
} from "node:fs";
import process from "node:process";
import type { Ring } from "../ring/ring.ts";
import {
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_RDONLY,
  O_WRONLY,
} from "../structs/constants.ts";
import { EnvironmentError } from "./errors.ts";
import { describeFailure, errorText } from "./files.ts";
import { basename, dirname } from "./paths.ts";
import { closeQuietly } from "./ring_scope.ts";

/** Between the final name and the owner's pid in a temporary name. */
const TEMP_TAG = ".uring-tmp-";

function randomHex(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A fresh temporary name next to `path`: `NAME.uring-tmp-PID-RANDOM`.
 *
 * @example
 * ```ts
 * import { temporaryNameFor } from "./atomic_output.ts";
 * temporaryNameFor("/data/x.pi"); // "/data/x.pi.uring-tmp-4242-3f9c0a1be27d5c46"
 * ```
 */
export function temporaryNameFor(path: string): string {
  return `${path}${TEMP_TAG}${process.pid}-${randomHex(8)}`;
}

function temporaryPattern(path: string): RegExp {
  const escaped = basename(path).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped}\\.uring-tmp-(\\d+)-[0-9a-f]{16}$`);
}

/**
 * Removes leftovers of earlier runs that wrote `path` and were killed:
 * a file is removed only when all of these prove it one: its name has the
 * temporary pattern for `path`, it is a regular file (not a link) owned by
 * this user, the process named in it no longer exists, and it is empty or
 * starts with `marker` (what this kind of file starts with). Returns the
 * paths removed.
 *
 * @example
 * ```ts
 * import { removeStaleTemporaries } from "./atomic_output.ts";
 * removeStaleTemporaries("/dev/shm/data.bin.pi", new TextEncoder().encode("uring-pi"));
 * ```
 */
export function removeStaleTemporaries(
  path: string,
  marker: Uint8Array,
): string[] {
  const dir = dirname(path);
  const pattern = temporaryPattern(path);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed; // The create that follows reports the directory.
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m || existsSync(`/proc/${m[1]}`)) continue;
    const candidate = `${dir}/${name}`;
    try {
      const st = lstatSync(candidate);
      if (!st.isFile() || st.uid !== process.getuid?.()) continue;
      if (st.size > 0 && !startsWith(candidate, marker)) continue;
      rmSync(candidate);
      removed.push(candidate);
    } catch {
      // Gone meanwhile, or not ours to touch: leave it.
    }
  }
  return removed;
}

function startsWith(path: string, marker: Uint8Array): boolean {
  const fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  try {
    const head = new Uint8Array(marker.length);
    const n = readSync(fd, head, 0, head.length, 0);
    return n === marker.length && head.every((b, i) => b === marker[i]);
  } finally {
    closeSync(fd);
  }
}

/**
 * A file being written under a temporary name until
 * {@linkcode AtomicOutput.commit} gives it its final one.
 *
 * @example
 * ```ts
 * import { Ring } from "../ring/ring.ts";
 * import { AtomicOutput } from "./atomic_output.ts";
 * await using ring = new Ring();
 * const out = await AtomicOutput.create(ring, "/dev/shm/uring-atomic-example");
 * try {
 *   await ring.write(out.fd, new TextEncoder().encode("hello"), 0);
 *   await out.commit();
 * } catch (error) {
 *   await out.abort();
 *   throw error;
 * }
 * ```
 */
export class AtomicOutput {
  /** The file descriptor to write to (the temporary file). */
  readonly fd: number;
  /** The name the file gets on commit. */
  readonly path: string;
  /** Where the data is until then. */
  readonly temporaryPath: string;
  readonly #ring: Ring;
  #open = true;

  private constructor(
    ring: Ring,
    path: string,
    temporaryPath: string,
    fd: number,
  ) {
    this.#ring = ring;
    this.path = path;
    this.temporaryPath = temporaryPath;
    this.fd = fd;
  }

  /**
   * Creates the temporary file beside `path` (mode 0644 less the umask).
   *
   * @throws {EnvironmentError} naming `path` and its directory when the
   * directory is missing or not writable.
   */
  static async create(ring: Ring, path: string): Promise<AtomicOutput> {
    const temporaryPath = temporaryNameFor(path);
    try {
      const fd = await ring.openat(
        temporaryPath,
        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
        0o644,
      );
      return new AtomicOutput(ring, path, temporaryPath, fd);
    } catch (error) {
      throw new EnvironmentError(
        `cannot create ${path}: ${
          describeFailure(`directory ${dirname(path)}`, error)
        }`,
      );
    }
  }

  /**
   * Makes the data durable and gives it the final name: fsync, close,
   * rename, fsync of the directory. On failure the temporary file is gone
   * and the error names the final path.
   */
  async commit(): Promise<void> {
    const step = async (what: string, run: () => unknown) => {
      try {
        await run();
      } catch (error) {
        await this.abort();
        throw new EnvironmentError(
          `cannot ${what} ${this.path}: ${errorText(error)}`,
        );
      }
    };
    await step("sync", () => this.#ring.fsync(this.fd));
    await step("close", async () => {
      this.#open = false;
      await this.#ring.closeFd(this.fd);
    });
    await step("create", () => renameSync(this.temporaryPath, this.path));
    const dir = dirname(this.path);
    try {
      const dirFd = await this.#ring.openat(
        dir,
        O_RDONLY | O_DIRECTORY | O_CLOEXEC,
      );
      try {
        await this.#ring.fsync(dirFd);
      } finally {
        await closeQuietly(this.#ring, dirFd);
      }
    } catch (error) {
      throw new EnvironmentError(
        `${this.path} was written, but ${
          describeFailure(`its directory ${dir}`, error)
        } when syncing: the new name may not survive a crash`,
      );
    }
  }

  /** Closes and removes the temporary file; never throws. */
  async abort(): Promise<void> {
    if (this.#open) {
      this.#open = false;
      await closeQuietly(this.#ring, this.fd);
    }
    rmSync(this.temporaryPath, { force: true });
  }
}
