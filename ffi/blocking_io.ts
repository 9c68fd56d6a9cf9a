/**
 * A pool of Worker threads that make blocking libc file calls (pread,
 * fsync, openat, ...) for the fallback backend, so the JS thread never
 * blocks. Each worker makes one call at a time; calls wait in order when
 * every worker is busy. Runtime-neutral: the runtime files only say how a
 * Worker is started and kept from holding the process open.
 *
 * Memory contract: the caller passes raw addresses and must keep that
 * memory alive until the call's promise settles (the worker writes into it
 * from another thread).
 *
 * @module
 */
import type { BlockingIo, BlockingOp, PoolWorker } from "./types.ts";

/** How long an idle Deno worker lingers before it is stopped, in ms. */
const IDLE_STOP_MS = 100;

interface Job {
  readonly id: number;
  readonly message: readonly unknown[];
  readonly resolve: (result: number) => void;
  readonly reject: (error: unknown) => void;
}

interface Thread {
  readonly handle: PoolWorker;
  job: Job | undefined;
}

/**
 * The {@linkcode BlockingIo} implementation: up to `threads` workers,
 * started on demand by `start`.
 *
 * @example
 * ```ts
 * import { blockingIo } from "./mod.ts";
 * const io = blockingIo(2);
 * await io.call("fsync", [1]); // 0 or -errno (-22 for a terminal)
 * io.close();
 * ```
 */
export class WorkerPool implements BlockingIo {
  readonly #threads: number;
  readonly #start: () => PoolWorker;
  readonly #pool: Thread[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;
  #running = 0;
  #closed = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(threads: number, start: () => PoolWorker) {
    this.#threads = threads;
    this.#start = start;
  }

  get running(): number {
    return this.#running;
  }

  call(op: BlockingOp, args: readonly number[]): Promise<number> {
    if (this.#closed) {
      return Promise.reject(new Error("the blocking-call pool is closed"));
    }
    return new Promise<number>((resolve, reject) => {
      const id = this.#nextId++;
      // -0 is an integer to JS but not to every FFI integer conversion.
      const message = [id, op, ...args.map((value) => value === 0 ? 0 : value)];
      this.#queue.push({ id, message, resolve, reject });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let thread = this.#pool.find((t) => t.job === undefined);
      if (thread === undefined) {
        if (this.#pool.length >= this.#threads) return;
        thread = this.#spawn();
      }
      const job = this.#queue.shift()!;
      thread.job = job;
      this.#running++;
      if (this.#idleTimer !== undefined) {
        clearTimeout(this.#idleTimer);
        this.#idleTimer = undefined;
      }
      thread.handle.setBusy(true);
      thread.handle.worker.postMessage(job.message);
    }
  }

  #spawn(): Thread {
    const handle = this.#start();
    const thread: Thread = { handle, job: undefined };
    handle.worker.onmessage = (event: MessageEvent<[number, number]>) => {
      this.#finish(thread, (job) => job.resolve(event.data[1]));
    };
    handle.worker.onerror = (event: ErrorEvent) => {
      event.preventDefault?.();
      // A worker that cannot run (libc failed to load) is dropped; its
      // call fails with the reason.
      this.#finish(thread, (job) => job.reject(new Error(event.message)));
      this.#drop(thread);
    };
    this.#pool.push(thread);
    return thread;
  }

  #finish(thread: Thread, settle: (job: Job) => void): void {
    const job = thread.job;
    thread.job = undefined;
    if (job !== undefined) {
      this.#running--;
      settle(job);
    }
    if (this.#closed) {
      this.#drop(thread);
      return;
    }
    if (this.#queue.length > 0) return this.#dispatch();
    thread.handle.setBusy(false);
    if (this.#running === 0 && thread.handle.idleKeepsAlive) {
      this.#idleTimer ??= setTimeout(() => this.#stopIdle(), IDLE_STOP_MS);
    }
  }

  #drop(thread: Thread): void {
    const index = this.#pool.indexOf(thread);
    if (index >= 0) this.#pool.splice(index, 1);
    thread.handle.setBusy(false);
    thread.handle.worker.terminate();
  }

  #stopIdle(): void {
    this.#idleTimer = undefined;
    for (const thread of [...this.#pool]) {
      if (thread.job === undefined) this.#drop(thread);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    for (const job of this.#queue.splice(0)) {
      job.reject(new Error("the blocking-call pool is closed"));
    }
    // Busy threads are stopped when their call returns (#finish), so the
    // memory they write into is never released under them.
    this.#stopIdle();
  }
}
