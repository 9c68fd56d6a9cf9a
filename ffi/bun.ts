/**
 * The Bun side of the FFI boundary (`bun:ffi`). Only `ffi/mod.ts` imports
 * this file, and only when running on Bun.
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

/** The part of `bun:ffi` this project uses, typed here so `deno check` passes. */
interface BunFfiModule {
  dlopen(
    path: string,
    table: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => unknown> };
  ptr(view: ArrayBufferView | ArrayBufferLike, byteOffset?: number): number;
  toArrayBuffer(
    address: number,
    byteOffset: number,
    length: number,
  ): ArrayBuffer;
}

// Bun's `import.meta.require` rather than an import: Deno's module graph
// (deno check, deno publish) would try to resolve the `bun:` scheme, and a
// computed dynamic import makes `deno publish` warn that it cannot analyse it.
const bunFfi = (import.meta as ImportMeta & {
  require(id: string): unknown;
}).require("bun:ffi") as BunFfiModule;

/** Neutral → Bun. `i64_fast` returns a number whenever it is exact. */
const TYPES: Record<NativeType, string> = {
  void: "void",
  i8: "i8",
  u8: "u8",
  i16: "i16",
  u16: "u16",
  i32: "i32",
  u32: "u32",
  i64: "i64_fast",
  u64: "u64_fast",
  f64: "f64",
  address: "ptr",
  buffer: "ptr",
};

function bind(
  path: string,
  table: SymbolTable,
): Record<string, (...args: unknown[]) => unknown> {
  const bunTable: Record<string, { args: string[]; returns: string }> = {};
  for (const [name, spec] of Object.entries(table)) {
    bunTable[name] = {
      args: spec.args.map((t) => TYPES[t]),
      returns: TYPES[spec.result],
    };
  }
  return bunFfi.dlopen(path, bunTable).symbols;
}

function open<T extends SymbolTable>(
  path: string,
  table: T,
): LoadedSymbols<T> {
  let symbols: Record<string, (...args: unknown[]) => unknown>;
  try {
    symbols = bind(path, table);
  } catch (error) {
    // Bun fails a whole dlopen when one symbol is missing: bind the required
    // symbols together and each optional one on its own.
    const required = Object.fromEntries(
      Object.entries(table).filter(([, spec]) => !spec.optional),
    );
    if (Object.keys(required).length === Object.keys(table).length) throw error;
    symbols = bind(path, required);
    for (const [name, spec] of Object.entries(table)) {
      if (!spec.optional) continue;
      try {
        Object.assign(symbols, bind(path, { [name]: spec }));
      } catch {
        // Absent from this library version: left undefined on purpose.
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    const fn = symbols[name];
    if (fn === undefined) continue;
    // A NULL `ptr` result comes back as null; callers expect the number 0.
    out[name] = spec.result === "address"
      ? (...args: unknown[]) => (fn(...args) as number | null) ?? 0
      : fn;
  }
  return out as LoadedSymbols<T>;
}

function addressOf(view: ArrayBufferView | ArrayBufferLike): number {
  if (view.byteLength === 0) return 0;
  // Reading `.buffer` makes JavaScriptCore move a small typed array out of
  // the GC heap into fixed memory, so the address stays valid.
  if (ArrayBuffer.isView(view)) void view.buffer;
  return bunFfi.ptr(view);
}

function memoryAt(address: number, length: number): ArrayBuffer {
  if (address === 0) throw new RangeError("memoryAt: address is 0");
  return bunFfi.toArrayBuffer(address, 0, length);
}

/**
 * Bun has no nonblocking FFI calls: a Worker blocks in libc's poll and
 * signals through a SharedArrayBuffer that the JS thread awaits with
 * `Atomics.waitAsync`. Int32 control words: [0] command sequence (-1 =
 * exit), [1] completion sequence, [2] nfds, [3] last poll result; bytes
 * 16-23 hold the pollfd array's address as a float64.
 */
function pollThread(): PollThread {
  const buffer = new SharedArrayBuffer(24);
  const control = new Int32Array(buffer, 0, 4);
  const address = new Float64Array(buffer, 16, 1);
  const worker = new Worker(
    new URL("./bun_waiter_worker.ts", import.meta.url).href,
  ) as Worker & { ref(): void; unref(): void };
  worker.postMessage(buffer);
  // Only an outstanding poll keeps the process alive.
  worker.unref();
  let command = 0;
  return {
    async poll(pollfds: number, nfds: number): Promise<number> {
      const seen = Atomics.load(control, 1);
      address[0] = pollfds;
      control[2] = nfds;
      command++;
      worker.ref();
      Atomics.store(control, 0, command);
      Atomics.notify(control, 0);
      try {
        // deno-lint-ignore no-explicit-any
        const waiting = (Atomics as any).waitAsync(control, 1, seen);
        if (waiting.async) await waiting.value;
        return Atomics.load(control, 3);
      } finally {
        worker.unref();
      }
    },
    // Measured: a 1 ms interval timer was 12-39 ms late at times with 64
    // reads in flight on /dev/shm when nothing held the waiter back.
    canStarveTimers: true,
  };
}

/** A pool Worker that holds the process open only while it is busy. */
function startWorker(url: URL): PoolWorker {
  const worker = new Worker(url.href, { type: "module" }) as Worker & {
    ref(): void;
    unref(): void;
  };
  worker.unref();
  return {
    worker,
    setBusy(busy: boolean) {
      if (busy) worker.ref();
      else worker.unref();
    },
    idleKeepsAlive: false,
  };
}

/** The Bun implementation of {@linkcode RuntimeFfi}. */
export const runtime: RuntimeFfi = {
  name: "bun",
  open,
  addressOf,
  memoryAt,
  pollThread,
  startWorker,
  copyFileRange: null,
};
