/**
 * Diagnosis of blocked io_uring: the words for every kind of failure (from
 * synthetic environments), a child whose own seccomp filter makes
 * io_uring_setup fail (EPERM, ENOSYS: nothing host-wide changes), the
 * fallback test set in such a child, and the memlock error of a child with
 * a lowered RLIMIT_MEMLOCK. The real sysctl at 1 and 2 (changed host-wide
 * for a moment, always restored) runs only with URING_TEST_SYSCTL=1.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { bytesInWords, memlockError, pinnedBytes } from "../ring/memlock.ts";
import { diagnoseSetupFailure, ioUringStatus } from "../ring/diagnose.ts";
import {
  type IoUringEnvironment,
  readIoUringEnvironment,
} from "../ring/io_uring_environment.ts";
import { IoUringUnavailableError, MemlockError } from "../ring/setup_errors.ts";
import { UringError } from "../ring/errors.ts";
import { RingCore } from "../ring/core.ts";
import {
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQPOLL,
} from "../structs/constants.ts";
import {
  runChild,
  runChildUnderSysctl,
  sysctlUnavailable,
} from "./harden_helpers.ts";
import { seccompUnavailable } from "./seccomp_helpers.ts";

const ENV: IoUringEnvironment = {
  sysctl: 0,
  group: -1,
  seccomp: 0,
  uid: 1000,
  groups: [1000],
  capSysAdmin: false,
  capIpcLock: false,
  release: "6.18.4",
  memlock: { soft: 65536, hard: 65536 },
};

const NO_SYSCTL = sysctlUnavailable();
if (NO_SYSCTL) {
  console.log(`harden_diagnose_test.ts: skipping sysctl tests: ${NO_SYSCTL}`);
}
const NO_SETPRIV =
  existsSync("/usr/bin/setpriv") && existsSync("/usr/bin/prlimit") &&
    process.getuid?.() === 0
    ? false
    : "needs root, setpriv and prlimit (util-linux) to run a child as nobody";
if (NO_SETPRIV) {
  console.log(
    `harden_diagnose_test.ts: skipping child-as-nobody tests: ${NO_SETPRIV}`,
  );
}

test("diagnosis: sysctl 2 → disabled for everyone, with the fix and the fallback", () => {
  const d = diagnoseSetupFailure(-1, 0, {
    ...ENV,
    sysctl: 2,
    capSysAdmin: true,
  });
  assert.equal(d.kind, "disabled");
  assert.match(d.reason, /kernel\.io_uring_disabled = 2/);
  assert.match(d.reason, /root included/);
  assert.match(d.reason, /sysctl -w kernel\.io_uring_disabled=0/);
  assert.match(d.reason, /fallback: true/);
});

test("diagnosis: sysctl 1 → the group, and whether this process is in it", () => {
  const none = diagnoseSetupFailure(1, 0, { ...ENV, sysctl: 1, group: -1 });
  assert.equal(none.kind, "group");
  assert.match(none.reason, /io_uring_group is -1/);
  assert.match(none.reason, /CAP_SYS_ADMIN/);
  const other = diagnoseSetupFailure(1, 0, { ...ENV, sysctl: 1, group: 4242 });
  assert.match(other.reason, /gid 4242/);
  assert.match(other.reason, /uid 1000, groups 1000/);
});

test("diagnosis: EPERM or ENOSYS with sysctl 0 under a seccomp filter → container profile", () => {
  for (const errno of [1, 38]) {
    const d = diagnoseSetupFailure(errno, 0, { ...ENV, seccomp: 2 });
    assert.equal(d.kind, "seccomp");
    assert.match(d.reason, /Seccomp: 2/);
    assert.match(d.reason, /seccomp profile/);
    assert.match(
      d.reason,
      /io_uring_setup, io_uring_enter and io_uring_register/,
    );
  }
  // The sysctl wins over seccomp when it explains the EPERM.
  assert.equal(
    diagnoseSetupFailure(1, 0, { ...ENV, seccomp: 2, sysctl: 2 }).kind,
    "disabled",
  );
});

test("diagnosis: ENOSYS without seccomp → kernel without io_uring; other EPERM → LSM, SQPOLL before 5.11", () => {
  const nosys = diagnoseSetupFailure(38, 0, { ...ENV, release: "4.19.0" });
  assert.equal(nosys.kind, "unsupported");
  assert.match(nosys.reason, /4\.19\.0/);
  assert.match(nosys.reason, /CONFIG_IO_URING/);
  const lsm = diagnoseSetupFailure(1, 0, ENV);
  assert.equal(lsm.kind, "denied");
  assert.match(lsm.reason, /SELinux|AppArmor/);
  const sqpoll = diagnoseSetupFailure(1, IORING_SETUP_SQPOLL, {
    ...ENV,
    release: "5.10.0",
  });
  assert.match(
    sqpoll.reason,
    /SQPOLL rings need CAP_SYS_ADMIN before Linux 5\.11/,
  );
});

test("diagnosis: EINVAL names the setup flags newer than the kernel, and bad combinations", () => {
  const old = diagnoseSetupFailure(
    22,
    IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
    { ...ENV, release: "5.15.0" },
  );
  assert.equal(old.kind, "flags");
  assert.match(old.reason, /IORING_SETUP_DEFER_TASKRUN \(Linux 6\.1\)/);
  assert.match(old.reason, /IORING_SETUP_SINGLE_ISSUER \(Linux 6\.0\)/);
  assert.match(old.reason, /5\.15\.0/);
  const combo = diagnoseSetupFailure(22, IORING_SETUP_DEFER_TASKRUN, ENV);
  assert.match(combo.reason, /deferTaskrun needs singleIssuer/);
});

test("diagnosis: ENOMEM and EMFILE say which limit", () => {
  const mem = diagnoseSetupFailure(12, 0, ENV);
  assert.equal(mem.kind, "memory");
  assert.match(mem.reason, /RLIMIT_MEMLOCK \(64 KiB \(65536 bytes\)/);
  assert.match(diagnoseSetupFailure(24, 0, ENV).reason, /RLIMIT_NOFILE/);
});

test("bytesInWords and pinnedBytes: whole pages, in words", () => {
  assert.equal(bytesInWords(65536), "64 KiB (65536 bytes)");
  assert.equal(bytesInWords(Infinity), "unlimited");
  assert.equal(bytesInWords(100), "100 bytes");
  assert.equal(pinnedBytes([new Uint8Array(100)], () => 4096), 4096);
  assert.equal(pinnedBytes([new Uint8Array(100)], () => 4090), 8192);
  assert.equal(pinnedBytes([new Uint8Array(1 << 20)], () => 0), 1 << 20);
});

test("memlockError: limit and needed size as fields and in the message", () => {
  const e = memlockError(1 << 20);
  assert.ok(e instanceof MemlockError);
  assert.ok(e instanceof UringError);
  assert.equal(e.code, "ENOMEM");
  assert.equal(e.needed, 1 << 20);
  assert.equal(typeof e.limit, "number");
  assert.match(e.message, /1 MiB \(1048576 bytes\)/);
});

test("this process: environment readable, io_uring available, status agrees", () => {
  const env = readIoUringEnvironment();
  assert.ok(env.release.length > 0);
  assert.ok(env.groups.every(Number.isInteger));
  const status = ioUringStatus();
  assert.equal(status.available, true, status.reason ?? "");
  assert.equal(status.sysctl, env.sysctl);
  assert.equal(status.seccomp, env.seccomp);
});

const EPERM = 1;
const ENOSYS = 38;
const FALLBACK_SET = [
  "write/read",
  "writev/readv",
  "writeFixed/readFixed",
  "fsync/fdatasync",
  "statx",
  "fallocate",
  "nop",
  "abort",
  "timeout",
];

const NO_SECCOMP = seccompUnavailable();
if (NO_SECCOMP) {
  console.log(`harden_diagnose_test.ts: seccomp tests skipped: ${NO_SECCOMP}`);
}

for (const [errno, code] of [[EPERM, "EPERM"], [ENOSYS, "ENOSYS"]] as const) {
  test(
    `seccomp ${code} for io_uring_setup in a child → IoUringUnavailableError kind seccomp; the sysctl untouched`,
    {
      skip: NO_SECCOMP,
    },
    () => {
      const before = readSysctl();
      const run = runChild("setup", [], { denyIoUringSetup: errno });
      assert.deepEqual(readSysctl(), before);
      assert.equal(run.status, 0, run.stderr);
      const { error } = run.result;
      assert.equal(error.isUnavailable, true, JSON.stringify(run.result));
      assert.equal(error.name, "IoUringUnavailableError");
      assert.equal(error.code, code);
      assert.equal(error.kind, "seccomp");
      assert.equal(error.seccomp, 2);
      assert.match(error.message, /seccomp/);
    },
  );
}

test(
  "seccomp EPERM in a child → the fallback passes the Promise-API test set with data verified",
  {
    skip: NO_SECCOMP,
  },
  () => {
    const before = readSysctl();
    const run = runChild("fallback-suite", [], { denyIoUringSetup: EPERM });
    assert.deepEqual(readSysctl(), before);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.result.ok, true, JSON.stringify(run.result));
    assert.equal(run.result.backend, "fallback");
    assert.equal(run.result.kind, "seccomp");
    assert.deepEqual(run.result.done, FALLBACK_SET);
  },
);

test(
  "sysctl 2 for a child → IoUringUnavailableError kind disabled (sysctl restored)",
  { skip: NO_SYSCTL },
  async () => {
    const before = readSysctl();
    const run = await runChildUnderSysctl(2, undefined, "setup", []);
    assert.deepEqual(readSysctl(), before);
    assert.equal(run.status, 0, run.stderr);
    const { error } = run.result;
    assert.equal(error.isUnavailable, true);
    assert.equal(error.name, "IoUringUnavailableError");
    assert.equal(error.code, "EPERM");
    assert.equal(error.kind, "disabled");
    assert.equal(error.sysctl, 2);
    assert.match(error.message, /kernel\.io_uring_disabled = 2/);
  },
);

test(
  "sysctl 2 for a child → the fallback passes the Promise-API test set with data verified",
  { skip: NO_SYSCTL },
  async () => {
    const before = readSysctl();
    const run = await runChildUnderSysctl(2, undefined, "fallback-suite", []);
    assert.deepEqual(readSysctl(), before);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.result.ok, true, JSON.stringify(run.result));
    assert.equal(run.result.backend, "fallback");
    assert.equal(run.result.kind, "disabled");
    assert.deepEqual(run.result.done, FALLBACK_SET);
  },
);

test("sysctl 1, group -1: root (CAP_SYS_ADMIN) may, nobody gets kind group", {
  skip: NO_SYSCTL || NO_SETPRIV,
}, async () => {
  const before = readSysctl();
  const root = await runChildUnderSysctl(1, -1, "setup", []);
  const nobody = await runChildUnderSysctl(1, -1, "setup", [], {
    asNobody: true,
  });
  assert.deepEqual(readSysctl(), before);
  assert.equal(root.result?.ok, true, root.stdout + root.stderr);
  assert.equal(nobody.status, 0, nobody.stderr);
  const { error } = nobody.result;
  assert.equal(error.kind, "group");
  assert.equal(error.sysctl, 1);
  assert.match(error.message, /io_uring_group is -1/);
});

test("sysctl 1 with io_uring_group = nobody's group: nobody may create rings", {
  skip: NO_SYSCTL || NO_SETPRIV,
}, async () => {
  const before = readSysctl();
  // --clear-groups leaves the primary gid 65534, which in_group_p counts.
  const run = await runChildUnderSysctl(1, 65534, "setup", [], {
    asNobody: true,
  });
  assert.deepEqual(readSysctl(), before);
  assert.equal(run.result?.ok, true, run.stdout + run.stderr);
});

test(
  "memlock 64 KiB for an unprivileged child: registering 1 MiB → MemlockError with numbers",
  { skip: NO_SETPRIV },
  () => {
    const run = runChild("memlock", [String(1 << 20)], {
      asNobody: true,
      memlock: 65536,
    });
    assert.equal(run.status, 0, run.stderr);
    const { error } = run.result;
    assert.equal(error.isMemlock, true, JSON.stringify(run.result));
    assert.equal(error.code, "ENOMEM");
    assert.equal(error.limit, 65536);
    assert.ok(error.needed >= 1 << 20);
    assert.match(error.message, /64 KiB \(65536 bytes\)/);
    assert.match(error.message, /1 MiB \(1048576 bytes\)|1\.0 MiB/);
    assert.match(error.message, /RLIMIT_MEMLOCK/);
  },
);

test("memlock 64 KiB: a registration that fits still works", {
  skip: NO_SETPRIV,
}, () => {
  const run = runChild("memlock", ["8192"], { asNobody: true, memlock: 65536 });
  assert.equal(run.result?.ok, true, run.stdout + run.stderr);
});

test("RingCore setup errors are IoUringUnavailableError (a UringError) with the flags named", () => {
  // SQ_AFF without SQPOLL: refused by every kernel with EINVAL.
  assert.throws(() => new RingCore({ flags: 1 << 2 }), (error: unknown) => {
    assert.ok(error instanceof IoUringUnavailableError);
    assert.ok(error instanceof UringError);
    assert.equal(error.code, "EINVAL");
    assert.equal(error.kind, "flags");
    assert.match(error.message, /sqpoll\.cpu needs sqpoll/);
    return true;
  });
});

function readSysctl(): string[] {
  return ["io_uring_disabled", "io_uring_group"].map((name) => {
    try {
      return readFileSync(`/proc/sys/kernel/${name}`, "utf8").trim();
    } catch {
      return "absent";
    }
  });
}
