// Run with: deno run -A examples/deno.ts
// Writes a file through io_uring, reads it back, and protects it with
// software PI tuples (CRC16 T10-DIF per 512-byte interval). The file is
// removed at the end.
import { rmSync } from "node:fs";
import process from "node:process";
import {
  generatePi,
  openFile,
  piMetadataLength,
  Ring,
  verifyPi,
} from "../mod.ts";

const path = `/dev/shm/uring-example-deno-${process.pid}`;
await using ring = new Ring({ entries: 64 });
// Disposed last, after the file is closed: removes what the example made.
using _cleanup = { [Symbol.dispose]: () => rmSync(path, { force: true }) };
await using file = await openFile(path, { create: true, truncate: true, ring });

const data = new Uint8Array(4096).map((_, i) => i & 0xff);
console.log("wrote", await file.write(data, 0), "bytes");

// Many requests issued in one tick go to the kernel in one submission.
const chunks = Array.from({ length: 8 }, () => new Uint8Array(512));
await Promise.all(chunks.map((chunk, i) => file.read(chunk, i * 512)));
console.log("read back 8 chunks, first bytes:", chunks.map((c) => c[0]));

const format = {
  guard: "crc16-t10dif",
  interval: 512,
  refTag: { type: 1, seed: 0 },
  appTag: 0x5a5a,
} as const;
const meta = new Uint8Array(piMetadataLength(data.byteLength, format));
generatePi(data, meta, format);
data[1000] ^= 1; // one flipped bit
const report = verifyPi(data, meta, format);
console.log(
  "integrity ok:",
  report.ok,
  "bad:",
  report.bad.map((b) => `${b.field}@${b.index}`),
);
console.log("size from statx:", (await file.stat()).size);
