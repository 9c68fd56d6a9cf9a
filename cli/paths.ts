/**
 * Path helpers that work the same on Deno and Bun (node:url and node:path).
 *
 * @module
 */
import { basename as pathBasename, dirname as pathDirname } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The file system path of a `file:` URL such as `import.meta.url`.
 *
 * @example
 * ```ts
 * import { fromFileUrl } from "./paths.ts";
 * fromFileUrl("file:///work/main/cli.ts"); // "/work/main/cli.ts"
 * ```
 */
export function fromFileUrl(url: string): string {
  return fileURLToPath(url);
}

/**
 * The directory part of a path.
 *
 * @example
 * ```ts
 * import { dirname } from "./paths.ts";
 * dirname("/work/main/cli.ts"); // "/work/main"
 * ```
 */
export function dirname(path: string): string {
  return pathDirname(path);
}

/**
 * The last component of a path.
 *
 * @example
 * ```ts
 * import { basename } from "./paths.ts";
 * basename("/work/main/cli.ts"); // "cli.ts"
 * ```
 */
export function basename(path: string): string {
  return pathBasename(path);
}
