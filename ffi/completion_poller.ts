/**
 * One completion waiter for every ring of this JS realm (the main thread or
 * one Worker): a single thread blocks in poll(2) on the fds of the rings
 * that wait, plus a control eventfd, instead of one blocked thread per ring.
 * A ring fd polls readable as soon as its CQ holds a completion, so the
 * contract of {@linkcode CompletionWaiter} is kept: `wait()` resolves once
 * the ring's CQ is not empty.
 *
 * Why poll and not an eventfd registered with every ring: an eventfd counts
 * completions the ring reaps inline as well, so the next wait would return
 * at once for nothing; and a user may register their own eventfd.
 *
 * Why libc: the blocking call must live in a library that is never unloaded.
 * A Worker's own `dlopen` of liburing was unloaded when the Worker was
 * terminated while a thread still slept inside it (SIGSEGV); libc is mapped
 * for the life of the process. The pollfd array is malloc'd for the same
 * reason: a terminated realm's heap goes away, while the kernel writes the
 * revents back when poll returns.
 *
 * A ring that starts waiting while a poll is outstanding is added by waking
 * the poll once through the control eventfd (one write, at most one per
 * outstanding poll); a single busy ring never pays for that.
 *
 * @module
 */
import type { CompletionWaiter, PollThread, ThreadLibc } from "./types.ts";

/** struct pollfd is { int fd; short events; short revents; }. */
const POLLFD_SIZE = 8;
const POLLIN = 0x1;
const POLLNVAL = 0x20;
const EBADF = 9;

/**
 * The shared waiter behind {@linkcode CompletionWaiter}s of one realm.
 *
 * @example
 * ```ts
 * import { CompletionPoller } from "./completion_poller.ts";
 * declare const poller: CompletionPoller;
 * declare const ringFd: number;
 * const waiter = poller.waiter(ringFd);
 * ```
 */
export class CompletionPoller {
  readonly #libc: ThreadLibc;
  readonly #startThread: () => PollThread;
  #thread: PollThread | undefined;
  /** Ring fd → how to wake its waiter. Only rings with a wait() outstanding. */
  readonly #armed = new Map<number, (result: number) => void>();
  /** Ring fds in the outstanding poll (undefined: no poll outstanding). */
  #polled: Set<number> | undefined;
  #interrupted = false;
  #controlFd = -1;
  #array = 0;
  #capacity = 0;
  #view: DataView | undefined;
  /** 8 bytes for the control eventfd's counter (malloc'd: never moved). */
  #counter = 0;
  #counterView: BigUint64Array | undefined;

  constructor(libc: ThreadLibc, startThread: () => PollThread) {
    this.#libc = libc;
    this.#startThread = startThread;
  }

  /** Rings with a wait outstanding (for tests and diagnostics). */
  get waiting(): number {
    return this.#armed.size;
  }

  /**
   * A waiter for `ringFd`, served by this realm's single poll thread.
   *
   * @example
   * ```ts
   * import { CompletionPoller } from "./completion_poller.ts";
   * declare const poller: CompletionPoller;
   * const result = await poller.waiter(5).wait(); // 0, or -EBADF
   * ```
   */
  waiter(ringFd: number): CompletionWaiter {
    const thread = this.#thread ??= this.#startThread();
    return {
      wait: () => this.#wait(ringFd),
      close: () => this.#forget(ringFd),
      canStarveTimers: thread.canStarveTimers,
    };
  }

  #wait(fd: number): Promise<number> {
    return new Promise<number>((resolve) => {
      this.#armed.set(fd, resolve);
      if (this.#polled === undefined) this.#start();
      else if (!this.#polled.has(fd)) this.#interrupt();
    });
  }

  #forget(fd: number): void {
    // A wait still outstanding (a ring closed while armed) resolves when the
    // poll next returns; a ring fd number reused meanwhile only gets one
    // spurious wake-up, which a ring handles as "nothing to reap".
    this.#armed.delete(fd);
    if (this.#polled?.has(fd) && this.#armed.size === 0) this.#interrupt();
  }

  #ensureControl(): void {
    if (this.#controlFd >= 0) return;
    const fd = this.#libc.nonblockingEventfd();
    if (fd < 0) throw new Error("completion poller: eventfd failed");
    this.#counter = this.#libc.malloc(8);
    if (this.#counter === 0) {
      throw new Error("completion poller: malloc failed");
    }
    this.#counterView = new BigUint64Array(
      this.#libc.memoryAt(this.#counter, 8),
    );
    this.#controlFd = fd;
  }

  #interrupt(): void {
    if (this.#interrupted) return;
    this.#interrupted = true;
    this.#counterView![0] = 1n;
    this.#libc.write(this.#controlFd, this.#counter, 8);
  }

  #ensureCapacity(entries: number): void {
    if (entries <= this.#capacity) return;
    // Only called with no poll outstanding, so the old array is free to go.
    let capacity = Math.max(16, this.#capacity);
    while (capacity < entries) capacity *= 2;
    const array = this.#libc.malloc(capacity * POLLFD_SIZE);
    if (array === 0) throw new Error("completion poller: malloc failed");
    if (this.#array !== 0) this.#libc.free(this.#array);
    this.#array = array;
    this.#capacity = capacity;
    this.#view = new DataView(
      this.#libc.memoryAt(array, capacity * POLLFD_SIZE),
    );
  }

  #start(): void {
    this.#ensureControl();
    const fds = [...this.#armed.keys()];
    const nfds = fds.length + 1;
    this.#ensureCapacity(nfds);
    const view = this.#view!;
    view.setInt32(0, this.#controlFd, true);
    view.setInt32(4, POLLIN, true); // events, and revents = 0
    for (let i = 0; i < fds.length; i++) {
      view.setInt32((i + 1) * POLLFD_SIZE, fds[i], true);
      view.setInt32((i + 1) * POLLFD_SIZE + 4, POLLIN, true);
    }
    this.#polled = new Set(fds);
    this.#thread!.poll(this.#array, nfds).then(
      () => this.#onPolled(fds),
      () => this.#onPolled(fds),
    );
  }

  #onPolled(fds: readonly number[]): void {
    const view = this.#view!;
    this.#polled = undefined;
    if (view.getInt16(6, true) !== 0 || this.#interrupted) {
      // Drain the control counter (nonblocking: it may already be 0).
      this.#libc.read(this.#controlFd, this.#counter, 8);
      this.#interrupted = false;
    }
    for (let i = 0; i < fds.length; i++) {
      const revents = view.getInt16((i + 1) * POLLFD_SIZE + 6, true);
      if (revents === 0) continue;
      const resolve = this.#armed.get(fds[i]);
      if (resolve === undefined) continue;
      this.#armed.delete(fds[i]);
      resolve(revents & POLLNVAL ? -EBADF : 0);
    }
    // Rings still waiting are polled again at once; rings just woken add
    // themselves back when they re-arm.
    if (this.#armed.size > 0) this.#start();
  }
}
