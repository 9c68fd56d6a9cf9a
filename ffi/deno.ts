/**
 * The Deno side of the FFI boundary (`Deno.dlopen`). Only `ffi/mod.ts`
 * imports this file, and only when running on Deno.
 *
 * @module
 */
import type {
  LoadedSymbols,
  NativeType,
  PollThread,
  PoolWorker,
  RuntimeFfi,
  SymbolTable,
} from "./types.ts";
import { FfiPermissionError } from "./permission.ts";

type DenoType = Deno.NativeType | "void";

/** Neutral → Deno: addresses travel as `usize` so plain numbers can be passed. */
const ARG_TYPES: Record<NativeType, DenoType> = {
  void: "void",
  i8: "i8",
  u8: "u8",
  i16: "i16",
  u16: "u16",
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  f64: "f64",
  address: "usize",
  buffer: "buffer",
};

/** Deno returns 64-bit results as bigint; these get a `Number()` wrapper. */
const WIDE_RESULTS = new Set<NativeType>(["i64", "u64", "address"]);

function open<T extends SymbolTable>(
  path: string,
  table: T,
): LoadedSymbols<T> {
  const denoTable: Record<string, Deno.ForeignFunction> = {};
  for (const [name, spec] of Object.entries(table)) {
    denoTable[name] = {
      parameters: spec.args.map((t) => ARG_TYPES[t]) as Deno.NativeType[],
      result: ARG_TYPES[spec.result] as Deno.NativeResultType,
      optional: spec.optional,
    };
  }
  let lib: Deno.DynamicLibrary<Record<string, Deno.ForeignFunction>>;
  try {
    lib = Deno.dlopen(path, denoTable);
  } catch (error) {
    // Without --allow-ffi the library is there but may not be loaded: say
    // which flag grants it rather than suggesting a package install.
    if (
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      throw new FfiPermissionError(path, error);
    }
    throw error;
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    // deno-lint-ignore no-explicit-any
    const fn = (lib.symbols as any)[name];
    if (fn === null || fn === undefined) continue;
    out[name] = WIDE_RESULTS.has(spec.result)
      // deno-lint-ignore no-explicit-any
      ? (...args: any[]) => Number(fn(...args))
      : fn;
  }
  return out as LoadedSymbols<T>;
}

function addressOf(view: ArrayBufferView | ArrayBufferLike): number {
  if (view.byteLength === 0) return 0;
  // Reading `.buffer` makes V8 move a small on-heap typed array to a fixed
  // off-heap backing store, so the address stays valid after a GC.
  if (ArrayBuffer.isView(view)) void view.buffer;
  const pointer = Deno.UnsafePointer.of(view as BufferSource);
  return pointer === null ? 0 : Number(Deno.UnsafePointer.value(pointer));
}

function memoryAt(address: number, length: number): ArrayBuffer {
  const pointer = Deno.UnsafePointer.create(BigInt(address));
  if (pointer === null) throw new RangeError("memoryAt: address is 0");
  return Deno.UnsafePointerView.getArrayBuffer(pointer, length);
}

/**
 * libc's poll as a `nonblocking` symbol: Deno runs each call on one of its
 * blocking-task threads and resolves a Promise with the result. libc, not
 * liburing: a terminated Worker's libraries are closed while such a thread
 * may still be inside the call, and only libc is sure to stay mapped.
 */
function pollThread(): PollThread {
  const poll = Deno.dlopen("libc.so.6", {
    poll: {
      parameters: ["usize", "u64", "i32"],
      result: "i32",
      nonblocking: true,
    },
  }).symbols.poll;
  return {
    poll: (address, nfds) => poll(BigInt(address), BigInt(nfds), -1),
    // FFI results come back through the event loop, timers in between.
    canStarveTimers: false,
  };
}

/** libc's copy_file_range as a `nonblocking` symbol, loaded on first use. */
let copyRangeSymbol:
  | ((
    fdIn: number,
    offIn: bigint,
    fdOut: number,
    offOut: bigint,
    len: bigint,
    flags: number,
  ) => Promise<number | bigint>)
  | undefined;

/**
 * copy_file_range(2) on one of Deno's blocking-task threads, from and to
 * the file positions. errno belongs to that thread and cannot be read
 * here: a failure resolves to -1.
 */
async function copyFileRange(
  fdIn: number,
  fdOut: number,
  length: number,
): Promise<number> {
  copyRangeSymbol ??= Deno.dlopen("libc.so.6", {
    copy_file_range: {
      parameters: ["i32", "usize", "i32", "usize", "usize", "u32"],
      result: "isize",
      nonblocking: true,
    },
  }).symbols.copy_file_range;
  const n = Number(
    await copyRangeSymbol(fdIn, 0n, fdOut, 0n, BigInt(length), 0),
  );
  return n < 0 ? -1 : n;
}

/**
 * Deno Workers cannot be unref'd: an idle one keeps the process alive, so
 * the pool stops its idle workers after a short delay.
 */
function startWorker(url: URL): PoolWorker {
  return {
    worker: new Worker(url.href, { type: "module" }),
    setBusy() {},
    idleKeepsAlive: true,
  };
}

/** The Deno implementation of {@linkcode RuntimeFfi}. */
export const runtime: RuntimeFfi = {
  name: "deno",
  open,
  addressOf,
  memoryAt,
  pollThread,
  startWorker,
  copyFileRange,
};
