/**
 * 4 KiB random PI reads and writes on a PI-formatted block device at queue
 * depths 1 and 32, every check the format allows (GUARD, APPTAG, and REFTAG
 * except on Type 3): uring's Promise API against fio's io_uring engine with
 * the same PI options (`--md_per_io_size --pi_act=0 --pi_chk=... --apptag`).
 * Both compute the tuples of every write in software and check the tuples
 * of every read in software too (fio's pi_act=0; uring's generatePi and
 * verifyPi), and the device checks them again. Prints IOPS and the ratio
 * uring ÷ fio; runs are interleaved and the best of `--rounds` counts.
 *
 *     URING_PI_DEVICE=/dev/nvme0n1 URING_FIO=/path/to/fio \
 *       deno run -A bench/pi_device.ts [--secs 3] [--rounds 2] [--json]
 *
 * Needs fio 3.41+ (PI through io_uring attributes) and Linux 6.14+. Under
 * QEMU's TCG only the ratio means anything (bench/pi_vm.sh runs it there).
 * THE DEVICE'S DATA IN THE FIRST 32 MiB AFTER 16 MiB IS OVERWRITTEN.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import process from "node:process";
import {
  alignedBuffer,
  generatePi,
  O_DIRECT,
  O_RDWR,
  openFd,
  piFormatOf,
  probe,
  Ring,
  verifyPi,
} from "../mod.ts";
import { runtimeName } from "../raw.ts";
import type { TargetProfile } from "../mod.ts";
import { BLOCK, drive } from "./drive.ts";

const REGION_OFFSET = 16 << 20;
const REGION_SIZE = 32 << 20;
const APP_TAG = 0x1234;

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const device = process.env.URING_PI_DEVICE;
const fioPath = process.env.URING_FIO ?? "fio";
const secs = Number(argValue("--secs", "3"));
const rounds = Number(argValue("--rounds", "2"));
if (!device) {
  console.error("set URING_PI_DEVICE to a PI-formatted block device");
  process.exit(2);
}
const target = probe(device).target;
if (!target?.integrity) {
  console.error(`${device} has no PI: ${target?.reason}`);
  process.exit(2);
}
const t: TargetProfile = target;
const metaPerIo = (BLOCK / t.interval) * t.metadataSize;
const chk = t.refTagChecked ? "GUARD,REFTAG,APPTAG" : "GUARD,APPTAG";

function fio(rw: string, depth: number, extra: string[] = []): number {
  const args = [
    "--name=pi",
    `--filename=${device}`,
    "--ioengine=io_uring",
    "--direct=1",
    `--rw=${rw}`,
    `--bs=${BLOCK}`,
    `--offset=${REGION_OFFSET}`,
    `--size=${REGION_SIZE}`,
    `--iodepth=${depth}`,
    `--md_per_io_size=${metaPerIo}`,
    "--pi_act=0",
    `--pi_chk=${chk}`,
    `--apptag=0x${APP_TAG.toString(16)}`,
    "--apptag_mask=0xffff",
    "--randrepeat=0",
    "--norandommap",
    "--output-format=json",
    ...extra,
  ];
  const r = spawnSync(fioPath, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`fio ${args.join(" ")}: ${r.stderr}`);
  const job = JSON.parse(r.stdout.slice(r.stdout.indexOf("{"))).jobs[0];
  return rw.includes("read") ? job.read.iops : job.write.iops;
}

/** `depth` loops of one awaited PI read or write each, for `secs`. */
async function uring(write: boolean, depth: number): Promise<number> {
  const fd = openFd(device!, O_RDWR | O_DIRECT);
  await using ring = new Ring({ entries: Math.max(2, depth) });
  const check = { guard: true, apptag: true, reftag: t.refTagChecked };
  const buffers = Array.from({ length: depth }, () => {
    const data = alignedBuffer(BLOCK);
    if (write) crypto.getRandomValues(data);
    return { data, meta: new Uint8Array(metaPerIo) };
  });
  return await drive(
    depth,
    secs * 1000,
    REGION_SIZE / BLOCK,
    async (loop, at) => {
      const { data, meta } = buffers[loop];
      const offset = REGION_OFFSET + at;
      const format = { ...piFormatOf(t, offset), appTag: APP_TAG };
      const seed = BigInt(offset / t.interval);
      const pi = { meta, check, appTag: APP_TAG, seed };
      if (write) {
        data[0]++; // new contents each time, so the guard is computed anew
        generatePi(data, meta, format);
        await ring.write(fd, data, offset, { pi });
      } else {
        await ring.read(fd, data, offset, { pi });
        if (!verifyPi(data, meta, format).ok) {
          throw new Error(`bad PI at ${offset}`);
        }
      }
    },
  );
}

// The region holds fio-written data and PI, so reads of any block pass.
fio("write", 32, ["--bs=1m", `--md_per_io_size=${256 * metaPerIo}`]);

const rows: {
  op: string;
  qd: number;
  uring: number;
  fio: number;
  ratio: number;
}[] = [];
for (const [op, write] of [["randread", false], ["randwrite", true]] as const) {
  for (const qd of [1, 32]) {
    let bestFio = 0, bestUring = 0;
    for (let r = 0; r < rounds; r++) {
      bestFio = Math.max(
        bestFio,
        fio(op, qd, ["--time_based", `--runtime=${secs}`, "--ramp_time=0.3"]),
      );
      bestUring = Math.max(bestUring, await uring(write, qd));
    }
    rows.push({
      op,
      qd,
      uring: bestUring,
      fio: bestFio,
      ratio: bestUring / bestFio,
    });
  }
}

const format = `${t.guard}, Type ${t.piType}, ${t.interval} B intervals`;
if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ runtime: runtimeName, format, rows }));
} else {
  console.log(`PI 4 KiB random I/O on ${device} (${format}), ${runtimeName}:`);
  console.log("op         QD   uring IOPS   fio IOPS   uring ÷ fio");
  for (const r of rows) {
    console.log(
      `${r.op.padEnd(10)} ${String(r.qd).padStart(2)} ${
        r.uring.toFixed(0).padStart(12)
      } ${r.fio.toFixed(0).padStart(10)}   ${r.ratio.toFixed(2)}`,
    );
  }
}
