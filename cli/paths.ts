/**
 * Path helpers that work the same on Deno and Bun (node:url and node:path).
 *
 * @module
 */
import { dirname as pathDirname } from "node:path";
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
