// Run with: deno run --allow-ffi examples/fs.ts [DIR]   or   bun examples/fs.ts [DIR]
// The everyday file calls, all through io_uring. --allow-ffi is the only
// permission Deno needs: the library reaches files through the kernel, not
// through Deno's file APIs. It writes two files in DIR (default /dev/shm).
import process from "node:process";
import { copyFile, openFile, readFile, writeFile } from "../mod.ts";

const dir = process.argv[2] ?? "/dev/shm";
const path = `${dir}/uring-example-fs.txt`;
const copy = `${dir}/uring-example-fs.copy`;

await writeFile(path, "hello from io_uring\n");
await writeFile(path, "second line\n", { append: true });
await copyFile(path, copy);
console.log(new TextDecoder().decode(await readFile(copy)).trim());

// A File keeps its position; readable/writable are web streams.
await using file = await openFile(path, { write: true });
await file.seek(0, "end");
await file.write(new TextEncoder().encode("third line\n"));
await file.seek(0);
let bytes = 0;
for await (const chunk of file) bytes += chunk.byteLength;
console.log("bytes:", bytes);

const target = await openFile(copy, { write: true, truncate: true });
await (await openFile(path)).readable.pipeTo(target.writable);
console.log(
  "lines copied:",
  (await readFile(copy)).filter((b) => b === 10).length,
);

await file.truncate(0);
console.log("after truncate:", (await file.stat()).size);
