/**
 * Bun only: the Worker behind the shared completion waiter (see bun.ts and
 * completion_poller.ts). Each time the JS thread arms it, it blocks in
 * libc's poll(fds, nfds, -1), stores the result, bumps the completion
 * sequence and wakes the JS thread. libc, not liburing: it stays mapped
 * for the life of the process whatever happens to this Worker.
 *
 * @module
 */

interface BunFfi {
  dlopen(
    path: string,
    table: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, (...args: number[]) => number> };
}

// `import.meta.require`, not an import: see the note in bun.ts.
const { dlopen } = (import.meta as ImportMeta & {
  require(id: string): unknown;
}).require("bun:ffi") as BunFfi;
const poll = dlopen("libc.so.6", {
  poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
}).symbols.poll;

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
scope.onmessage = (event: MessageEvent<SharedArrayBuffer>) => {
  const control = new Int32Array(event.data, 0, 4);
  const address = new Float64Array(event.data, 16, 1);
  let handled = 0;
  for (;;) {
    Atomics.wait(control, 0, handled);
    const command = Atomics.load(control, 0);
    if (command < 0) break;
    handled = command;
    // EINTR (-1) goes back as is: the poller finds no revents and polls again.
    Atomics.store(control, 3, poll(address[0], control[2], -1));
    Atomics.add(control, 1, 1);
    Atomics.notify(control, 1);
  }
  scope.close?.();
};
