// Run with: bun examples/bun.ts
// The low-level ring, liburing style: prepare an SQE, submit, read the CQE.
// (The Promise API of examples/deno.ts runs unchanged on Bun too.)
import { rmSync } from "node:fs";
import process from "node:process";
import { closeFd, O_CREAT, O_RDWR, openFd } from "../mod.ts";
import { RingCore } from "../raw.ts";

const path = `/dev/shm/uring-example-bun-${process.pid}`;
using ring = new RingCore({ entries: 8 });
const fd = openFd(path, O_RDWR | O_CREAT);
const data = new TextEncoder().encode("hello");
ring.prepWrite(fd, data, 0).userData = 1n;
ring.submitAndWait(1);
const cqe = ring.peekCqe()!;
console.log(cqe.userData, cqe.res); // 1n 5
ring.cqAdvance(1);

const back = new Uint8Array(5);
ring.prepRead(fd, back, 0).userData = 2n;
ring.submitAndWait(1);
console.log(ring.waitCqe().res, new TextDecoder().decode(back)); // 5 hello
ring.cqAdvance(1);
closeFd(fd);
rmSync(path); // the example leaves nothing in /dev/shm
