/**
 * A pool of Worker threads that make blocking libc file calls (pread,
 * fsync, openat, ...) for the fallback backend, so the JS thread never
 * blocks. Each worker makes one call at a time; calls wait in order when
 * every worker is busy. Runtime-neutral: the runtime files only say how a
 * Worker is started and kept from holding the process open.
 *
 * Cancelling: a queued call is dropped; a running one is told through its
 * thread's eventfd, which a read or write on a pipe, socket or tty waits on
 * together with its fd (see blocking_io_worker.ts), so it answers at once
 * without consuming anything. A call that does not answer within the grace
 * period (a read from a regular file stuck in the kernel) is given up on:
 * its promise resolves with -ECANCELED, its thread no longer counts toward
 * the pool size (a new one may start; at most MAX_THREADS in all) and is
 * stopped when the call returns. `released` tells the caller when the
 * thread has really let go of the memory.
 *
 * Memory contract: the caller passes raw addresses and must keep that
 * memory alive until the call's `released` callback has run (the worker
 * writes into it from another thread).
 *
 * @module
 */
import type {
  BlockingCallOptions,
  BlockingIo,
  BlockingOp,
  PoolWorker,
  ThreadLibc,
} from "./types.ts";

/** How long an idle Deno worker lingers before it is stopped, in ms. */
const IDLE_STOP_MS = 100;
/** How long a cancelled call may take to answer before it is given up on. */
const CANCEL_GRACE_MS = 100;
/** Threads in all, those given up on included. */
const MAX_THREADS = 64;
const ECANCELED = 125;

interface Job {
  readonly id: number;
  readonly op: BlockingOp;
  readonly args: readonly number[];
  readonly resolve: (result: number) => void;
  readonly reject: (error: unknown) => void;
  readonly released: (() => void) | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** The answer went out (a result, -ECANCELED, or the pool closing). */
  settled: boolean;
  thread: Thread | undefined;
}

interface Thread {
  readonly handle: PoolWorker;
  readonly cancelFd: number;
  job: Job | undefined;
  /** A cancel was sent for the current job: drain the eventfd after it. */
  cancelSent: boolean;
  /** Given up on: stops when its call returns, no longer in the pool. */
  abandoned: boolean;
  /** The Worker has loaded and can answer (it said "ready"). */
  ready: boolean;
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
  readonly #libc: ThreadLibc;
  readonly #pool: Thread[] = [];
  readonly #abandoned = new Set<Thread>();
  readonly #queue: Job[] = [];
  readonly #counter = new BigUint64Array(1);
  #nextId = 1;
  #running = 0;
  #closed = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(threads: number, start: () => PoolWorker, libc: ThreadLibc) {
    this.#threads = threads;
    this.#start = start;
    this.#libc = libc;
  }

  get running(): number {
    return this.#running;
  }

  /** Threads started and not yet stopped, those given up on included. */
  get threads(): number {
    return this.#pool.length + this.#abandoned.size;
  }

  call(
    op: BlockingOp,
    args: readonly number[],
    options: BlockingCallOptions = {},
  ): Promise<number> {
    if (this.#closed) {
      options.released?.();
      return Promise.reject(new Error("the blocking-call pool is closed"));
    }
    return new Promise<number>((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        op,
        // -0 is an integer to JS but not to every FFI integer conversion.
        args: args.map((value) => value === 0 ? 0 : value),
        resolve,
        reject,
        released: options.released,
        signal: options.signal,
        onAbort: undefined,
        settled: false,
        thread: undefined,
      };
      if (job.signal?.aborted) {
        this.#answer(job, -ECANCELED);
        job.released?.();
        return;
      }
      if (job.signal !== undefined) {
        job.onAbort = () => this.#cancel(job);
        job.signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  /** Settles `job` once; the abort listener goes with it. */
  #answer(job: Job, result: number | Error): void {
    if (job.settled) return;
    job.settled = true;
    if (job.onAbort) job.signal!.removeEventListener("abort", job.onAbort);
    if (typeof result === "number") job.resolve(result);
    else job.reject(result);
  }

  #cancel(job: Job): void {
    if (job.settled) return;
    const thread = job.thread;
    if (thread === undefined) {
      // Still queued: it never reaches a thread.
      const index = this.#queue.indexOf(job);
      if (index >= 0) this.#queue.splice(index, 1);
      this.#answer(job, -ECANCELED);
      job.released?.();
      return;
    }
    if (!thread.cancelSent) {
      thread.cancelSent = true;
      this.#counter[0] = 1n;
      this.#libc.write(thread.cancelFd, this.#libc.addressOf(this.#counter), 8);
    }
    if (thread.ready) {
      this.#giveUpLater(thread, job);
    } else {
      // The Worker is still starting, so the call has not begun; it sees
      // the cancel before it could consume anything and answers quickly
      // (#finish then only releases the memory). No need to wait for it.
      this.#answer(job, -ECANCELED);
    }
  }

  /** Gives up on `job` if its thread has not answered within the grace period. */
  #giveUpLater(thread: Thread, job: Job): void {
    setTimeout(() => {
      if (job.settled || thread.job !== job) return;
      // No answer: the call is stuck where a cancel cannot reach (a regular
      // file's read inside the kernel). Its thread leaves the pool, so the
      // other requests are not held up; its memory stays with the caller
      // until `released`.
      this.#abandon(thread);
      this.#answer(job, -ECANCELED);
      this.#dispatch();
    }, CANCEL_GRACE_MS);
  }

  #abandon(thread: Thread): void {
    if (thread.abandoned) return;
    thread.abandoned = true;
    const index = this.#pool.indexOf(thread);
    if (index >= 0) this.#pool.splice(index, 1);
    this.#abandoned.add(thread);
    this.#running--;
    // It stops when its call returns; until then it must not keep the
    // process alive where the runtime can say so (Bun).
    thread.handle.setBusy(false);
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let thread = this.#pool.find((t) => t.job === undefined);
      if (thread === undefined) {
        if (
          this.#pool.length >= this.#threads ||
          this.threads >= MAX_THREADS
        ) return;
        thread = this.#spawn();
      }
      const job = this.#queue.shift()!;
      thread.job = job;
      job.thread = thread;
      this.#running++;
      if (this.#idleTimer !== undefined) {
        clearTimeout(this.#idleTimer);
        this.#idleTimer = undefined;
      }
      thread.handle.setBusy(true);
      thread.handle.worker.postMessage([
        job.id,
        job.op,
        thread.cancelFd,
        ...job.args,
      ]);
    }
  }

  #spawn(): Thread {
    const cancelFd = this.#libc.nonblockingEventfd();
    if (cancelFd < 0) throw new Error("blocking-call pool: eventfd failed");
    const handle = this.#start();
    const thread: Thread = {
      handle,
      cancelFd,
      job: undefined,
      cancelSent: false,
      abandoned: false,
      ready: false,
    };
    handle.worker.onmessage = (
      event: MessageEvent<[number, number] | ["ready"]>,
    ) => {
      if (event.data[0] === "ready") {
        thread.ready = true;
        const job = thread.job;
        if (job !== undefined && thread.cancelSent && !job.settled) {
          this.#giveUpLater(thread, job);
        }
        return;
      }
      this.#finish(thread, event.data[1] as number);
    };
    handle.worker.onerror = (event: ErrorEvent) => {
      event.preventDefault?.();
      // A worker that cannot run (libc failed to load) is dropped; its
      // call fails with the reason.
      this.#finish(thread, new Error(event.message));
      this.#drop(thread);
    };
    this.#pool.push(thread);
    return thread;
  }

  #finish(thread: Thread, result: number | Error): void {
    const job = thread.job;
    thread.job = undefined;
    if (thread.cancelSent) {
      // The cancel may have come after the call was done: reset the counter
      // so the next call on this thread does not see it.
      thread.cancelSent = false;
      this.#libc.read(thread.cancelFd, this.#libc.addressOf(this.#counter), 8);
    }
    if (job !== undefined) {
      job.thread = undefined;
      if (!thread.abandoned) this.#running--;
      this.#answer(job, result);
      job.released?.();
    }
    if (thread.abandoned || this.#closed) {
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
    this.#abandoned.delete(thread);
    thread.handle.setBusy(false);
    thread.handle.worker.terminate();
    if (thread.job === undefined) this.#libc.close(thread.cancelFd);
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
      this.#answer(job, new Error("the blocking-call pool is closed"));
      job.released?.();
    }
    // Running calls are cancelled: those waiting on a pipe or socket answer
    // at once and their threads stop (#finish); one stuck in the kernel is
    // given up on after the grace period and stops when its call returns.
    for (const thread of [...this.#pool]) {
      if (thread.job !== undefined) this.#cancel(thread.job);
    }
    this.#stopIdle();
  }
}
