// Interop with an independent PI implementation: fio (3.41+, io_uring
// engine with md_per_io_size) writes data and PI that uring reads back with
// every check on and verifies with verifyPi, and reads with pi_chk what
// uring wrote. Both go through the same io_uring read/write attributes, so
// the device's checks judge both sides' tuples. Runs when URING_FIO names
// such an fio and URING_PI_DEVICE a PI namespace on Linux 6.14+ (the 7.2
// guests of scripts/test_vm.sh); skipped with the reason otherwise.
// THE DEVICE'S DATA AT 40 MiB+ IS OVERWRITTEN.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { generatePi, verifyPi } from "../pi/mod.ts";
import { IntegrityError } from "../ring/integrity_error.ts";
import { piFormatOf } from "../ring/integrity_diagnosis.ts";
import { probe } from "../ring/probe.ts";
import type { TargetProfile } from "../ring/target_probe.ts";
import { Ring } from "../ring/ring.ts";
import { closeFd, openFd } from "../sys/fd.ts";
import { alignedBuffer } from "../sys/memory.ts";
import { O_DIRECT, O_RDWR } from "../structs/constants.ts";
import { noRwAttrReason } from "./helpers.ts";

const DEVICE = process.env.URING_PI_DEVICE;
const FIO = process.env.URING_FIO;
const skip = !DEVICE
  ? "set URING_PI_DEVICE=/dev/nvmeXnY (a PI-formatted namespace) to run"
  : !FIO || !existsSync(FIO)
  ? `set URING_FIO to an fio 3.41+ with PI support (e.g. ../shared/vm/tools/fio)${
    FIO ? `: ${FIO} does not exist` : ""
  }`
  : noRwAttrReason() || undefined;
if (skip) console.log(`pi_fio_test.ts: skipped: ${skip}`);

const GUARD = 1, REFTAG = 2, APPTAG = 4;
/** Each test's own 256 KiB, far from pi_device_test.ts's regions. */
const SIZE = 256 * 1024;
const REGION = { fioWrites: 40 << 20, uringWrites: 48 << 20 };

function profile(): TargetProfile {
  const t = probe(DEVICE).target;
  assert.ok(t?.integrity, `${DEVICE} has no PI: ${t?.reason}`);
  return t;
}

/**
 * fio over `SIZE` bytes at `offset` in 4 KiB I/Os at QD 8, PI through the
 * io_uring attribute: fio fills the tuples on writes and checks them in
 * software on reads (pi_act=0), the device checks `pi_chk`.
 */
function fio(
  t: TargetProfile,
  rw: "read" | "write",
  offset: number,
  appTag: number,
) {
  const chk = t.refTagChecked ? "GUARD,REFTAG,APPTAG" : "GUARD,APPTAG";
  const args = [
    `--name=uring-interop-${rw}`,
    `--filename=${DEVICE}`,
    "--ioengine=io_uring",
    "--direct=1",
    `--rw=${rw}`,
    "--bs=4k",
    `--offset=${offset}`,
    `--size=${SIZE}`,
    "--iodepth=8",
    `--md_per_io_size=${(4096 / t.interval) * t.metadataSize}`,
    "--pi_act=0",
    `--pi_chk=${chk}`,
    `--apptag=0x${appTag.toString(16)}`,
    "--apptag_mask=0xffff",
  ];
  const r = spawnSync(FIO!, args, { encoding: "utf8" });
  return {
    status: r.status,
    output: `fio ${args.join(" ")}\n${r.stdout}${r.stderr}`,
  };
}

function checksOf(t: TargetProfile): number {
  return GUARD | APPTAG | (t.refTagChecked ? REFTAG : 0);
}

test(
  "data and PI written by fio read back by uring with every check on, and verified by verifyPi",
  { skip },
  async () => {
    const t = profile();
    const offset = REGION.fioWrites;
    const written = fio(t, "write", offset, 0x1234);
    assert.equal(written.status, 0, written.output);
    const fd = openFd(DEVICE!, O_RDWR | O_DIRECT);
    try {
      await using ring = new Ring();
      const data = alignedBuffer(SIZE);
      const meta = new Uint8Array((SIZE / t.interval) * t.metadataSize);
      const seed = BigInt(offset / t.interval);
      const check = checksOf(t);
      const pi = { meta, check, appTag: 0x1234, seed };
      assert.equal(await ring.read(fd, data, offset, { pi }), SIZE);
      const verified = verifyPi(data, meta, {
        ...piFormatOf(t, offset),
        appTag: 0x1234,
        check: { guard: true, appTag: true, refTag: t.refTagChecked },
      });
      assert.deepEqual(verified.bad, [], "fio's tuples, as verifyPi sees them");
      assert.ok(data.some((b) => b !== 0), "fio wrote data");
      // The device checks the app tag: another one fails, named by uring.
      await assert.rejects(
        ring.read(fd, alignedBuffer(SIZE), offset, {
          pi: { ...pi, meta: new Uint8Array(meta.length), appTag: 0x1235 },
        }),
        (e: unknown) =>
          e instanceof IntegrityError && e.intervals?.[0]?.field === "appTag",
      );
    } finally {
      closeFd(fd);
    }
  },
);

test(
  "data and PI written by uring read by fio with pi_chk on (and refused by fio with another app tag)",
  { skip },
  async () => {
    const t = profile();
    const offset = REGION.uringWrites;
    const fd = openFd(DEVICE!, O_RDWR | O_DIRECT);
    try {
      await using ring = new Ring();
      const data = alignedBuffer(SIZE);
      for (let at = 0; at < SIZE; at += 65536) {
        crypto.getRandomValues(data.subarray(at, at + 65536));
      }
      const meta = new Uint8Array((SIZE / t.interval) * t.metadataSize);
      generatePi(data, meta, { ...piFormatOf(t, offset), appTag: 0x4321 });
      const pi = {
        meta,
        check: checksOf(t),
        appTag: 0x4321,
        seed: BigInt(offset / t.interval),
      };
      assert.equal(await ring.write(fd, data, offset, { pi }), SIZE);
    } finally {
      closeFd(fd);
    }
    const read = fio(t, "read", offset, 0x4321);
    assert.equal(read.status, 0, read.output);
    // A control: fio's checks are live, so a wrong app tag must fail
    // (the kernel's EILSEQ, errno 84).
    const wrong = fio(t, "read", offset, 0x4322);
    assert.notEqual(wrong.status, 0, wrong.output);
    assert.match(
      wrong.output,
      /err=84|Invalid or incomplete multibyte/,
      wrong.output,
    );
  },
);
