/**
 * Bun only: the Worker behind `completionWaiter` (see bun.ts). It blocks in
 * io_uring_enter(fd, 0, 1, GETEVENTS) each time the JS thread arms it, then
 * bumps the completion sequence and wakes the JS thread.
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
const enter = dlopen("liburing.so.2", {
  io_uring_enter: { args: ["i32", "u32", "u32", "u32", "ptr"], returns: "i32" },
}).symbols.io_uring_enter;

const GETEVENTS = 1;
const EINTR = 4;

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
scope.onmessage = (event: MessageEvent<Int32Array>) => {
  const control = event.data;
  let handled = 0;
  for (;;) {
    Atomics.wait(control, 0, handled);
    const command = Atomics.load(control, 0);
    if (command < 0) break;
    handled = command;
    let result: number;
    do result = enter(control[2], 0, 1, GETEVENTS, 0); while (
      result === -EINTR
    );
    Atomics.store(control, 3, result);
    Atomics.add(control, 1, 1);
    Atomics.notify(control, 1);
  }
  scope.close?.();
};
