// PI device commands. Without a PI-formatted disk (URING_PI_DEVICE) only
// the refusals run: a non-device or a disk without an integrity profile
// exits 2 with the reason. With one, data goes to the device and back
// through the ring with the device checking every tuple.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { oneErrorLine, runCli, tempDir } from "./cli_helpers.ts";
import { noRwAttrReason } from "./helpers.ts";

const device = process.env.URING_PI_DEVICE;
// Before Linux 6.14 the commands refuse PI I/O: pi_old_kernel_test.ts
// checks those refusals on the device.
const skip = device
  ? noRwAttrReason()
  : "URING_PI_DEVICE is not set (needs a PI-formatted block device; its data is overwritten)";
if (skip) console.log(`cli_device_test.ts: device tests skipped: ${skip}`);

test("scrub, pi read and pi write refuse a path that is not a block device", () => {
  const [dir, remove] = tempDir();
  try {
    writeFileSync(`${dir}/f`, "x");
    for (
      const args of [["scrub", `${dir}/f`], [
        "pi",
        "read",
        `${dir}/f`,
        "--to",
        `${dir}/o`,
      ], ["pi", "write", `${dir}/f`, "--from", `${dir}/f`]]
    ) {
      const r = runCli(args);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(
        oneErrorLine(r),
        /is not a block device: PI read\/write\/scrub need a PI-formatted disk/,
      );
    }
    const missing = runCli(["scrub", `${dir}/nope`]);
    assert.equal(missing.status, 2);
    assert.match(oneErrorLine(missing), /no such file or directory \(ENOENT\)/);
  } finally {
    remove();
  }
});

test("scrub of a disk without an integrity profile exits 2 with probe's reason", () => {
  // /dev/vda is often unopenable here; any block device in /sys/block will do.
  const disk = ["vda", "sda", "nvme0n1", "loop0"].find((name) => {
    try {
      readFileSync(`/sys/block/${name}/size`);
      return true;
    } catch {
      return false;
    }
  });
  if (!disk) return console.log("no block device found; nothing to refuse");
  const r = runCli(["scrub", `/dev/${disk}`]);
  if (r.status === 0) return; // a real PI disk: nothing to refuse
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(
    oneErrorLine(r),
    /cannot carry PI|no io_uring read\/write attributes|permission denied|no such file/,
  );
});

test("pi write then pi read round trip on URING_PI_DEVICE, with the sidecar", {
  skip,
}, () => {
  const [dir, remove] = tempDir();
  try {
    const data = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff);
    writeFileSync(`${dir}/in.bin`, data);
    const probe =
      JSON.parse(runCli(["probe", device!, "--json"]).stdout).target;
    assert.equal(probe.integrity, true);
    const gen = runCli([
      "pi",
      "gen",
      `${dir}/in.bin`,
      "--guard",
      probe.guard,
      "--interval",
      String(probe.interval),
      "--ref-type",
      probe.refTagChecked ? "1" : "3",
    ]);
    assert.equal(gen.status, 0, gen.stderr);
    const w = runCli(["pi", "write", device!, "--from", `${dir}/in.bin`]);
    assert.equal(w.status, 0, w.stdout + w.stderr);
    const r = runCli([
      "pi",
      "read",
      device!,
      "--to",
      `${dir}/out.bin`,
      "--length",
      String(data.length),
    ]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(new Uint8Array(readFileSync(`${dir}/out.bin`)), data);
    const v = runCli(["pi", "verify", `${dir}/out.bin`]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
  } finally {
    remove();
  }
});

test(
  "pi write of data that no longer matches its sidecar is rejected by the device (exit 1, LBA named)",
  { skip },
  () => {
    const [dir, remove] = tempDir();
    try {
      const probe =
        JSON.parse(runCli(["probe", device!, "--json"]).stdout).target;
      const data = new Uint8Array(64 * probe.interval).fill(0x5a);
      writeFileSync(`${dir}/in.bin`, data);
      assert.equal(
        runCli([
          "pi",
          "gen",
          `${dir}/in.bin`,
          "--guard",
          probe.guard,
          "--interval",
          String(probe.interval),
          "--ref-type",
          probe.refTagChecked ? "1" : "3",
        ]).status,
        0,
      );
      data[5 * probe.interval + 3] ^= 1;
      writeFileSync(`${dir}/in.bin`, data);
      const w = runCli([
        "pi",
        "write",
        device!,
        "--from",
        `${dir}/in.bin`,
        "--json",
      ]);
      assert.equal(w.status, 1, w.stdout + w.stderr);
      const report = JSON.parse(w.stdout);
      assert.equal(report.bad[0].field, "guard");
      assert.equal(report.bad[0].offset, 5 * probe.interval);
    } finally {
      remove();
    }
  },
);

test(
  "scrub of URING_PI_DEVICE reads with GUARD|REFTAG|APPTAG and reports JSON",
  { skip },
  () => {
    const r = runCli(["scrub", device!, "--length", "16M", "--json"]);
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.device, device);
    assert.equal(typeof report.badTotal, "number");
  },
);
