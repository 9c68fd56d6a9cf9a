/**
 * The error for a runtime that refuses to load native code: on Deno, a
 * program started without `--allow-ffi`. It is kept apart from
 * `NativeLibraryError` because the fix is a flag, not a package.
 *
 * @module
 */

/**
 * Deno refused `Deno.dlopen` because the program lacks the FFI permission.
 * The message names the flag and how to grant it.
 *
 * @example
 * ```ts
 * import { FfiPermissionError } from "./permission.ts";
 * const e = new FfiPermissionError("liburing.so.2", new Error("NotCapable"));
 * e.message.includes("--allow-ffi"); // true
 * ```
 */
export class FfiPermissionError extends Error {
  /** Always `"FfiPermissionError"`. */
  override name = "FfiPermissionError";
  /** The shared object the program tried to load. */
  readonly library: string;
  /** `cause` is the runtime's permission error. */
  constructor(library: string, cause: unknown) {
    super(
      `cannot load ${library}: this program has no FFI permission. ` +
        `uring calls the kernel through FFI: run Deno with --allow-ffi ` +
        `(deno run --allow-ffi main.ts), or add "--allow-ffi" to the task ` +
        `that starts it. Note that FFI code is not bound by Deno's other ` +
        `permissions.`,
      { cause },
    );
    this.library = library;
  }
}
