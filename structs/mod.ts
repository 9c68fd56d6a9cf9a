/**
 * Typed views of the kernel structs and the kernel's constants. Nothing here
 * does I/O.
 *
 * @module
 */
export * from "./view.ts";
export * from "./sqe.ts";
export * from "./cqe.ts";
export * from "./params.ts";
export * from "./attr_pi.ts";
export * from "./lbmd_cap.ts";
export * from "./iovec.ts";
export * from "./statx.ts";
export * from "./probe.ts";
export * from "./rsrc.ts";
export * from "./constants.ts";
export * from "./errno.ts";
