// Real I/O through the ring: reads and writes on tmpfs, O_DIRECT on disk and
// on a loop device, vectored I/O, links, timeouts, cancellation, openat,
// close, statx, fallocate and fsync.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, statSync } from "node:fs";
import {
  addressOf,
  alignedBuffer,
  AT_EMPTY_PATH,
  AT_FDCWD,
  closeFd,
  ECANCELED,
  EINVAL,
  ENOENT,
  ETIME,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  fileStatusFlags,
  IORING_FSYNC_DATASYNC,
  IORING_OP_FSYNC,
  IORING_OP_LINK_TIMEOUT,
  IOSQE_IO_HARDLINK,
  IOSQE_IO_LINK,
  O_CREAT,
  O_DIRECT,
  O_RDONLY,
  O_RDWR,
  openFd,
  pipeFds,
  Ring,
  STATX_BASIC_STATS,
  STATX_BTIME,
  StatxView,
  UringError,
  writeFd,
} from "../raw.ts";
import {
  canUseLoopDevices,
  collect,
  collectGarbage,
  directIoDir,
  pattern,
  skipUnless,
  tempPath,
  withLoopDevice,
  withRing,
  withTempFile,
} from "./helpers.ts";

const DIRECT_DIR = directIoDir();
const NO_DIRECT = DIRECT_DIR ? false : "no O_DIRECT-capable directory on /";
const NO_LOOP = canUseLoopDevices()
  ? false
  : "loop devices need root, losetup and /dev/loop-control";

test("write then read on a /dev/shm file, bytes compared", () => {
  withRing({ entries: 8 }, (ring) => {
    withTempFile({ size: 0 }, (fd, path) => {
      const data = pattern(65536, 1);
      ring.prepWrite(fd, data, 4096).userData = 1;
      assert.equal(collect(ring, 1).get(1), 65536);
      const back = new Uint8Array(65536);
      ring.prepRead(fd, back, 4096).userData = 2;
      assert.equal(collect(ring, 1).get(2), 65536);
      assert.deepEqual(back, data);
      // The runtime sees the same bytes (and the hole before them).
      const onDisk = readFileSync(path);
      assert.equal(onDisk.byteLength, 4096 + 65536);
      assert.ok(onDisk.subarray(0, 4096).every((b: number) => b === 0));
      assert.deepEqual(new Uint8Array(onDisk.subarray(4096)), data);
    });
  });
});

test("many reads and writes in one batch land at their own offsets", () => {
  withRing({ entries: 64 }, (ring) => {
    withTempFile({ size: 64 * 4096 }, (fd) => {
      const blocks = Array.from({ length: 64 }, (_, i) => pattern(4096, i));
      blocks.forEach((b, i) => ring.prepWrite(fd, b, i * 4096).userData = i);
      const writes = collect(ring, 64);
      for (let i = 0; i < 64; i++) assert.equal(writes.get(i), 4096);
      const backs = blocks.map(() => new Uint8Array(4096));
      // Reverse order: completions may come in any order.
      for (let i = 63; i >= 0; i--) {
        ring.prepRead(fd, backs[i], i * 4096).userData = 100 + i;
      }
      const reads = collect(ring, 64);
      for (let i = 0; i < 64; i++) {
        assert.equal(reads.get(100 + i), 4096);
        assert.deepEqual(backs[i], blocks[i], `block ${i}`);
      }
    });
  });
});

test("offset -1 uses and advances the file position", () => {
  withRing({ entries: 4 }, (ring) => {
    withTempFile({ size: 0 }, (fd, path) => {
      ring.prepWrite(fd, new TextEncoder().encode("hello "), -1).userData = 1;
      collect(ring, 1);
      ring.prepWrite(fd, new TextEncoder().encode("world"), -1).userData = 2;
      collect(ring, 1);
      assert.equal(readFileSync(path, "utf8"), "hello world");
    });
  });
});

test("a read past the end is short, and a read at EOF returns 0", () => {
  withRing({ entries: 4 }, (ring) => {
    withTempFile({ contents: pattern(100, 3) }, (fd) => {
      const buf = new Uint8Array(4096);
      ring.prepRead(fd, buf, 0).userData = 1;
      ring.prepRead(fd, new Uint8Array(16), 100).userData = 2;
      const results = collect(ring, 2);
      assert.equal(results.get(1), 100);
      assert.equal(results.get(2), 0);
      assert.deepEqual(buf.subarray(0, 100), pattern(100, 3));
    });
  });
});

test("a failed request completes with -errno (read on a write-only pipe end)", () => {
  withRing({ entries: 4 }, (ring) => {
    const [r, w] = pipeFds();
    try {
      ring.prepRead(w, new Uint8Array(8), -1).userData = 1;
      const res = collect(ring, 1).get(1)!;
      assert.ok(res < 0);
      const error = UringError.from(res, { op: "read", fd: w });
      assert.equal(error.code, "EBADF");
      assert.equal(error.fd, w);
    } finally {
      closeFd(r);
      closeFd(w);
    }
  });
});

{
  const name = "O_DIRECT write then read on a file on / with aligned buffers";
  test(name, skipUnless(name, NO_DIRECT), () => {
    withRing({ entries: 8 }, (ring) => {
      withTempFile(
        { dir: DIRECT_DIR!, size: 1 << 20, flags: O_DIRECT },
        (fd) => {
          assert.equal(fileStatusFlags(fd) & O_DIRECT, O_DIRECT);
          const data = alignedBuffer(65536);
          data.set(pattern(65536, 7));
          assert.equal(addressOf(data) % 4096n, 0n);
          ring.prepWrite(fd, data, 3 * 4096).userData = 1;
          assert.equal(collect(ring, 1).get(1), 65536);
          const back = alignedBuffer(65536);
          ring.prepRead(fd, back, 3 * 4096).userData = 2;
          assert.equal(collect(ring, 1).get(2), 65536);
          assert.deepEqual(back, data);
          // O_DIRECT is really on: a misaligned offset is refused.
          ring.prepRead(fd, back.subarray(0, 4096), 100).userData = 3;
          assert.equal(collect(ring, 1).get(3), -EINVAL);
        },
      );
    });
  });
}

{
  const name = "O_DIRECT write then read on a loop block device";
  test(name, skipUnless(name, NO_LOOP || NO_DIRECT), () => {
    withLoopDevice(4 << 20, (device) => {
      withRing({ entries: 8 }, (ring) => {
        const fd = openFd(device, O_RDWR | O_DIRECT);
        try {
          const data = alignedBuffer(32768);
          data.set(pattern(32768, 11));
          ring.prepWrite(fd, data, 1 << 20).userData = 1;
          assert.equal(collect(ring, 1).get(1), 32768);
          const back = alignedBuffer(32768);
          ring.prepRead(fd, back, 1 << 20).userData = 2;
          assert.equal(collect(ring, 1).get(2), 32768);
          assert.deepEqual(back, data);
          // statx through the ring sees a block device of the right size.
          const sx = new StatxView(new Uint8Array(256));
          ring.prepStatx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, sx.bytes)
            .userData = 3;
          assert.equal(collect(ring, 1).get(3), 0);
          assert.equal(sx.mode & 0o170000, 0o060000);
        } finally {
          closeFd(fd);
        }
      });
    });
  });
}

test("writev then readv with differently split buffers", () => {
  withRing({ entries: 4 }, (ring) => {
    withTempFile({ size: 0 }, (fd) => {
      const data = pattern(10000, 5);
      const parts = [
        data.subarray(0, 1),
        data.subarray(1, 4097),
        data.subarray(4097),
      ];
      ring.prepWritev(fd, parts, 512).userData = 1;
      // The iovec array must survive a GC between prep and submit.
      collectGarbage();
      assert.equal(collect(ring, 1).get(1), 10000);
      const back = new Uint8Array(10000);
      const pieces = [
        back.subarray(0, 3000),
        back.subarray(3000, 3001),
        back.subarray(3001),
      ];
      ring.prepReadv(fd, pieces, 512).userData = 2;
      collectGarbage();
      assert.equal(collect(ring, 1).get(2), 10000);
      assert.deepEqual(back, data);
    });
    assert.throws(() => ring.prepReadv(0, [], 0), RangeError);
    assert.throws(() => ring.prepWritev(0, ["x" as never], 0), TypeError);
  });
});

test("linked write -> fsync -> read runs in order in one submission", () => {
  withRing({ entries: 8 }, (ring) => {
    withTempFile({ size: 0 }, (fd) => {
      const data = pattern(8192, 9);
      const back = new Uint8Array(8192);
      const order: number[] = [];
      ring.prepWrite(fd, data, 0).flags = IOSQE_IO_LINK;
      ring.sqeAt(0).userData = 1;
      const fsync = ring.prepFsync(fd);
      fsync.flags = IOSQE_IO_LINK;
      fsync.userData = 2;
      assert.equal(fsync.opcode, IORING_OP_FSYNC);
      ring.prepRead(fd, back, 0).userData = 3;
      ring.submitAndWait(3);
      const results = new Map<number, number>();
      while (results.size < 3) {
        ring.reap((id, res) => (order.push(id), results.set(id, res)));
        if (results.size < 3) ring.submitAndWait(1);
      }
      assert.deepEqual(order, [1, 2, 3]);
      assert.equal(results.get(1), 8192);
      assert.equal(results.get(2), 0);
      assert.equal(results.get(3), 8192);
      assert.deepEqual(back, data);
    });
  });
});

test("a failed link cancels the rest of the chain; a hardlink does not", () => {
  withRing({ entries: 8 }, (ring) => {
    withTempFile({ contents: pattern(64, 1) }, (fd) => {
      const [r, w] = pipeFds();
      try {
        // Reading the write end fails: the linked NOP is cancelled.
        ring.prepRead(w, new Uint8Array(8), -1).flags = IOSQE_IO_LINK;
        ring.sqeAt(0).userData = 1;
        ring.prepNop().userData = 2;
        // Same failure with a hardlink: the read after it still runs.
        const hard = ring.prepRead(w, new Uint8Array(8), -1);
        hard.flags = IOSQE_IO_HARDLINK;
        hard.userData = 3;
        ring.prepRead(fd, new Uint8Array(64), 0).userData = 4;
        const results = collect(ring, 4);
        assert.ok(results.get(1)! < 0);
        assert.equal(results.get(2), -ECANCELED);
        assert.ok(results.get(3)! < 0);
        assert.equal(results.get(4), 64);
      } finally {
        closeFd(r);
        closeFd(w);
      }
    });
  });
});

test("link_timeout fires: a read on an empty pipe gets -ECANCELED, the timeout -ETIME", () => {
  withRing({ entries: 4 }, (ring) => {
    const [r, w] = pipeFds();
    try {
      const started = performance.now();
      const read = ring.prepRead(r, new Uint8Array(16), -1);
      read.flags = IOSQE_IO_LINK;
      read.userData = 1;
      const timeout = ring.prepLinkTimeout(30);
      timeout.userData = 2;
      assert.equal(timeout.opcode, IORING_OP_LINK_TIMEOUT);
      // The timespec must survive a GC between prep and submit.
      collectGarbage();
      const results = collect(ring, 2);
      assert.equal(results.get(1), -ECANCELED);
      assert.equal(results.get(2), -ETIME);
      assert.ok(performance.now() - started >= 25);
    } finally {
      closeFd(r);
      closeFd(w);
    }
  });
});

test("link_timeout does not fire when the request finishes first", () => {
  withRing({ entries: 4 }, (ring) => {
    const [r, w] = pipeFds();
    try {
      writeFd(w, new Uint8Array([1, 2, 3]));
      const read = ring.prepRead(r, new Uint8Array(16), -1);
      read.flags = IOSQE_IO_LINK;
      read.userData = 1;
      ring.prepLinkTimeout(10_000).userData = 2;
      const results = collect(ring, 2);
      assert.equal(results.get(1), 3);
      assert.equal(results.get(2), -ECANCELED);
    } finally {
      closeFd(r);
      closeFd(w);
    }
  });
});

test("prepCancel cancels a read on a pipe that never gets data", () => {
  withRing({ entries: 4 }, (ring) => {
    const [r, w] = pipeFds();
    try {
      ring.prepRead(r, new Uint8Array(16), -1).userData = 0xabc;
      ring.submit();
      assert.equal(ring.peekCqe(), null, "the read is still pending");
      ring.prepCancel(0xabc).userData = 2;
      ring.prepCancel(0xdead).userData = 3; // matches nothing
      const results = collect(ring, 3);
      assert.equal(results.get(0xabc), -ECANCELED);
      assert.equal(results.get(2), 0);
      assert.equal(results.get(3), -ENOENT);
    } finally {
      closeFd(r);
      closeFd(w);
    }
  });
});

test("prepCancel takes a bigint user_data", () => {
  withRing({ entries: 4 }, (ring) => {
    const [r, w] = pipeFds();
    try {
      const big = 0x1234_5678_9abc_def0n;
      ring.prepRead(r, new Uint8Array(16), -1).userData = big;
      ring.submit();
      ring.prepCancel(big).userData = 2;
      ring.submitAndWait(2);
      const seen = new Map<bigint, number>();
      while (seen.size < 2) {
        const cqe = ring.waitCqe();
        seen.set(cqe.userData, cqe.res);
        ring.cqAdvance(1);
      }
      assert.equal(seen.get(big), -ECANCELED);
      assert.equal(seen.get(2n), 0);
    } finally {
      closeFd(r);
      closeFd(w);
    }
  });
});

test("timeout completes with -ETIME after its time", () => {
  withRing({ entries: 4 }, (ring) => {
    const started = performance.now();
    ring.prepTimeout(20).userData = 1;
    collectGarbage();
    assert.equal(collect(ring, 1).get(1), -ETIME);
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 15, `took ${elapsed} ms`);
    assert.ok(elapsed < 2000, `took ${elapsed} ms`);
  });
});

test("timeout with a count completes with 0 once enough completions arrive", () => {
  withRing({ entries: 4 }, (ring) => {
    ring.prepTimeout(10_000, 2).userData = 1;
    ring.submit();
    ring.prepNop().userData = 2;
    ring.prepNop().userData = 3;
    const results = collect(ring, 3);
    assert.equal(results.get(1), 0);
    assert.equal(results.get(2), 0);
    assert.equal(results.get(3), 0);
  });
  withRing({ entries: 4 }, (ring) => {
    assert.throws(() => ring.prepTimeout(-1), RangeError);
    assert.throws(() => ring.prepTimeout(Infinity), RangeError);
  });
});

test("openat, write, statx and close through the ring", () => {
  withRing({ entries: 8 }, (ring) => {
    const path = tempPath("/dev/shm", "openat");
    try {
      ring.prepOpenat(path, O_RDWR | O_CREAT, 0o640).userData = 1;
      const fd = collect(ring, 1).get(1)!;
      assert.ok(fd >= 0, `openat gave ${fd}`);
      ring.prepWrite(fd, pattern(12345, 2), 0).userData = 2;
      assert.equal(collect(ring, 1).get(2), 12345);
      // statx by path and by fd (AT_EMPTY_PATH), against the runtime's stat.
      const byPath = new StatxView(new Uint8Array(256));
      const byFd = new StatxView(new Uint8Array(256));
      ring.prepStatx(
        AT_FDCWD,
        path,
        0,
        STATX_BASIC_STATS | STATX_BTIME,
        byPath.bytes,
      ).userData = 3;
      ring.prepStatx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, byFd.bytes)
        .userData = 4;
      collectGarbage(); // the path strings must stay alive until submit
      const results = collect(ring, 2);
      assert.equal(results.get(3), 0);
      assert.equal(results.get(4), 0);
      const st = statSync(path);
      for (const sx of [byPath.toObject(), byFd.toObject()]) {
        assert.equal(sx.mask & STATX_BASIC_STATS, STATX_BASIC_STATS);
        assert.equal(sx.size, st.size);
        assert.equal(sx.size, 12345);
        assert.equal(sx.mode, st.mode);
        assert.equal(sx.mode & 0o777, 0o640);
        assert.equal(Number(sx.ino), st.ino);
        assert.equal(sx.nlink, st.nlink);
        assert.equal(sx.uid, st.uid);
        assert.equal(sx.gid, st.gid);
        assert.equal(sx.blocks, st.blocks);
        assert.equal(sx.blksize, st.blksize);
        const mtimeMs = Number(sx.mtime.sec) * 1000 + sx.mtime.nsec / 1e6;
        assert.ok(Math.abs(mtimeMs - st.mtimeMs) < 1, "mtime");
      }
      ring.prepClose(fd).userData = 5;
      assert.equal(collect(ring, 1).get(5), 0);
      // The fd is closed now.
      assert.throws(() => fileStatusFlags(fd), UringError);
    } finally {
      rmSync(path, { force: true });
    }
  });
});

test("openat of a missing file and close of a bad fd complete with -errno", () => {
  withRing({ entries: 4 }, (ring) => {
    ring.prepOpenat("/nonexistent/uring-test", O_RDONLY).userData = 1;
    assert.equal(collect(ring, 1).get(1), -ENOENT);
    const [r, w] = pipeFds();
    closeFd(r);
    closeFd(w);
    ring.prepClose(r).userData = 2;
    assert.ok(collect(ring, 1).get(2)! < 0);
    assert.throws(() => ring.prepOpenat("", O_RDONLY), TypeError);
    assert.throws(() => ring.prepOpenat("a\0b", O_RDONLY), TypeError);
  });
});

test("fallocate allocates, keeps size on request, and punches holes", () => {
  withRing({ entries: 4 }, (ring) => {
    withTempFile({ size: 0 }, (fd, path) => {
      ring.prepFallocate(fd, 0, 0, 1 << 20).userData = 1;
      assert.equal(collect(ring, 1).get(1), 0);
      assert.equal(statSync(path).size, 1 << 20);
      ring.prepFallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20).userData =
        2;
      assert.equal(collect(ring, 1).get(2), 0);
      const st = statSync(path);
      assert.equal(st.size, 1 << 20);
      assert.ok(st.blocks * 512 >= 2 << 20, "space beyond the size is kept");
      ring.prepWrite(fd, pattern(16384, 4), 0).userData = 3;
      collect(ring, 1);
      ring.prepFallocate(
        fd,
        FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
        4096,
        8192,
      ).userData = 4;
      assert.equal(collect(ring, 1).get(4), 0);
      const back = new Uint8Array(16384);
      ring.prepRead(fd, back, 0).userData = 5;
      assert.equal(collect(ring, 1).get(5), 16384);
      const want = pattern(16384, 4);
      want.fill(0, 4096, 12288);
      assert.deepEqual(back, want);
    });
  });
});

test("fsync and fdatasync (with a range) complete with 0", () => {
  withRing({ entries: 4 }, (ring) => {
    withTempFile({ size: 8192 }, (fd) => {
      ring.prepFsync(fd).userData = 1;
      const data = ring.prepFsync(fd, {
        datasync: true,
        offset: 0,
        length: 4096,
      });
      data.userData = 2;
      assert.equal(data.rwFlags, IORING_FSYNC_DATASYNC);
      assert.equal(data.len, 4096);
      const results = collect(ring, 2);
      assert.equal(results.get(1), 0);
      assert.equal(results.get(2), 0);
      assert.throws(
        () => ring.prepFsync(fd, { sync: true } as never),
        TypeError,
      );
    });
  });
});

test("prep helpers check their arguments before touching the ring", () => {
  withRing({ entries: 2 }, (ring) => {
    assert.throws(() => ring.prepRead(-1, new Uint8Array(1), 0), RangeError);
    assert.throws(() => ring.prepRead(1.5, new Uint8Array(1), 0), TypeError);
    assert.throws(() => ring.prepRead(0, "x" as never, 0), TypeError);
    assert.throws(() => ring.prepWrite(0, new Uint8Array(1), -2), RangeError);
    assert.throws(() => ring.prepWrite(0, new Uint8Array(1), 0.5), TypeError);
    assert.throws(
      () => ring.prepWrite(0, new Uint8Array(1), 2 ** 53),
      RangeError,
    );
    assert.throws(
      () => ring.prepReadFixed(0, new Uint8Array(1), 0, -1),
      RangeError,
    );
    // Nothing was taken from the SQ by the refused calls.
    assert.equal(ring.sqReady(), 0);
    assert.equal(ring.sqSpaceLeft(), 2);
  });
});

test("the Promise-layer Ring (default COOP_TASKRUN flags) runs the low-level I/O path", () => {
  const ring = new Ring({ entries: 8 }).core;
  try {
    withTempFile({ size: 0 }, (fd) => {
      const data = pattern(4096, 21);
      ring.prepWrite(fd, data, 0).userData = 1;
      assert.equal(collect(ring, 1).get(1), 4096);
      const back = new Uint8Array(4096);
      ring.prepRead(fd, back, 0).userData = 2;
      assert.equal(collect(ring, 1).get(2), 4096);
      assert.deepEqual(back, data);
    });
    // An io-wq completion (pipe read) arrives as task work on this ring.
    const [r, w] = pipeFds();
    try {
      ring.prepRead(r, new Uint8Array(4), -1).userData = 3;
      ring.submit();
      writeFd(w, new Uint8Array([1, 2, 3, 4]));
      assert.equal(collect(ring, 1).get(3), 4);
    } finally {
      closeFd(r);
      closeFd(w);
    }
  } finally {
    ring[Symbol.dispose]();
  }
});
