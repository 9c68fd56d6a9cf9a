// Struct views against the UAPI: every field's offset and size as gcc sees
// them in the system headers (fields newer than the Linux 6.1-era headers are
// checked against the numbers in KERNEL.md), every view's fields written and
// read back, and the kernel constants against the headers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  ATTR_PI_SIZE,
  AttrPiView,
  CQE32_SIZE,
  Cqe32View,
  CQE_SIZE,
  CqeView,
  ERRNO_TABLE,
  FS_IOC_GETLBMD_CAP,
  IO_INTEGRITY_CHK_APPTAG,
  IO_INTEGRITY_CHK_GUARD,
  IO_INTEGRITY_CHK_REFTAG,
  IORING_FEAT_RW_ATTR,
  IORING_RW_ATTR_FLAG_PI,
  IOVEC_SIZE,
  IovecView,
  LBMD_CAP_SIZE,
  LBMD_PI_CAP_INTEGRITY,
  LBMD_PI_CAP_REFTAG,
  LBMD_PI_CSUM_CRC16_T10DIF,
  LBMD_PI_CSUM_CRC64_NVME,
  LBMD_PI_CSUM_IP,
  LBMD_PI_CSUM_NONE,
  LbmdCapView,
  PARAMS_SIZE,
  ParamsView,
  PROBE_HEADER_SIZE,
  PROBE_OP_SIZE,
  probeSize,
  ProbeView,
  RSRC_REGISTER_SIZE,
  RSRC_UPDATE_SIZE,
  RsrcRegisterView,
  RsrcUpdateView,
  SQE128_SIZE,
  Sqe128View,
  SQE_OFFSETS,
  SQE_SIZE,
  SqeView,
  STATX_STRUCT_SIZE,
  StatxView,
  TIMESPEC_SIZE,
  TimespecView,
} from "../raw.ts";
import * as constants from "../structs/constants.ts";
import { haveGcc, runC, skipUnless } from "./helpers.ts";

const NO_GCC = haveGcc() ? false : "gcc is not installed";

// ---------------------------------------------------------------------------
// The field table: one row per field of every view.
//
// kind: how the field reads back. "u64n" is a u64 the view returns as a
// number, "ts" a statx timestamp ({ sec, nsec }).
type Kind = "u8" | "u16" | "u32" | "i32" | "u64" | "i64" | "u64n" | "ts";

interface Field {
  /** Property name on the view (or on `toObject()` / `sqOff` / `cqOff`). */
  prop: string;
  kind: Kind;
  /** `struct.member` as the C compiler names it, or null (not in the 6.1 header). */
  c: string | null;
  /** Offset when `c` is null (from KERNEL.md or the upstream header). */
  offset?: number;
  /** Where the property lives on the view. */
  via?: "toObject" | "sqOff" | "cqOff";
  /** Getter only: checked by writing bytes and reading the property. */
  readOnly?: boolean;
}

interface ViewSpec {
  name: string;
  size: number;
  /** `sizeof(...)` in C, or null when checked against KERNEL.md. */
  cSize: string | null;
  make: (bytes: Uint8Array) => object;
  fields: Field[];
}

const f = (
  prop: string,
  kind: Kind,
  c: string | null,
  extra: Partial<Field> = {},
): Field => ({ prop, kind, c, ...extra });

const SQE_FIELDS: Field[] = [
  f("opcode", "u8", "io_uring_sqe.opcode"),
  f("flags", "u8", "io_uring_sqe.flags"),
  f("ioprio", "u16", "io_uring_sqe.ioprio"),
  f("fd", "i32", "io_uring_sqe.fd"),
  f("off", "u64", "io_uring_sqe.off"),
  f("addr", "u64", "io_uring_sqe.addr"),
  f("len", "u32", "io_uring_sqe.len"),
  f("rwFlags", "u32", "io_uring_sqe.rw_flags"),
  f("userData", "u64", "io_uring_sqe.user_data"),
  f("bufIndex", "u16", "io_uring_sqe.buf_index"),
  f("personality", "u16", "io_uring_sqe.personality"),
  f("fileIndex", "u32", "io_uring_sqe.file_index"),
  // attr_ptr / attr_type_mask (6.14) overlay addr3 / __pad2[0]: the 6.1
  // header names the slots, KERNEL.md gives 48 and 56.
  f("attrPtr", "u64", "io_uring_sqe.addr3", { offset: 48 }),
  f("attrTypeMask", "u64", "io_uring_sqe.__pad2", { offset: 56 }),
];

const CQE_FIELDS: Field[] = [
  f("userData", "u64", "io_uring_cqe.user_data"),
  f("res", "i32", "io_uring_cqe.res"),
  f("flags", "u32", "io_uring_cqe.flags"),
];

const SQ_OFF = [
  ["head", "head"],
  ["tail", "tail"],
  ["ringMask", "ring_mask"],
  ["ringEntries", "ring_entries"],
  ["flags", "flags"],
  ["dropped", "dropped"],
  ["array", "array"],
];
const CQ_OFF = [
  ["head", "head"],
  ["tail", "tail"],
  ["ringMask", "ring_mask"],
  ["ringEntries", "ring_entries"],
  ["overflow", "overflow"],
  ["cqes", "cqes"],
  ["flags", "flags"],
];

const STATX_TO_OBJECT: Array<[string, Kind, string]> = [
  ["mask", "u32", "stx_mask"],
  ["blksize", "u32", "stx_blksize"],
  ["attributes", "u64", "stx_attributes"],
  ["nlink", "u32", "stx_nlink"],
  ["uid", "u32", "stx_uid"],
  ["gid", "u32", "stx_gid"],
  ["mode", "u16", "stx_mode"],
  ["ino", "u64", "stx_ino"],
  ["size", "u64n", "stx_size"],
  ["blocks", "u64n", "stx_blocks"],
  ["atime", "ts", "stx_atime"],
  ["btime", "ts", "stx_btime"],
  ["ctime", "ts", "stx_ctime"],
  ["mtime", "ts", "stx_mtime"],
  ["rdevMajor", "u32", "stx_rdev_major"],
  ["rdevMinor", "u32", "stx_rdev_minor"],
  ["devMajor", "u32", "stx_dev_major"],
  ["devMinor", "u32", "stx_dev_minor"],
  ["mntId", "u64", "stx_mnt_id"],
  ["dioMemAlign", "u32", "stx_dio_mem_align"],
  ["dioOffsetAlign", "u32", "stx_dio_offset_align"],
];

const VIEWS: ViewSpec[] = [
  {
    name: "SqeView",
    size: SQE_SIZE,
    cSize: "struct io_uring_sqe",
    make: (b) => new SqeView(b),
    fields: SQE_FIELDS,
  },
  {
    name: "Sqe128View",
    size: SQE128_SIZE,
    cSize: null, // 2 x sizeof(struct io_uring_sqe), checked below
    make: (b) => new Sqe128View(b),
    fields: SQE_FIELDS,
  },
  {
    name: "CqeView",
    size: CQE_SIZE,
    cSize: "struct io_uring_cqe",
    make: (b) => new CqeView(b),
    fields: CQE_FIELDS,
  },
  {
    name: "Cqe32View",
    size: CQE32_SIZE,
    cSize: null, // 2 x sizeof(struct io_uring_cqe), checked below
    make: (b) => new Cqe32View(b),
    fields: [
      ...CQE_FIELDS,
      f("bigCqe0", "u64", "io_uring_cqe.big_cqe", { readOnly: true }),
      f("bigCqe1", "u64", null, { offset: 24, readOnly: true }),
    ],
  },
  {
    name: "ParamsView",
    size: PARAMS_SIZE,
    cSize: "struct io_uring_params",
    make: (b) => new ParamsView(b),
    fields: [
      f("sqEntries", "u32", "io_uring_params.sq_entries"),
      f("cqEntries", "u32", "io_uring_params.cq_entries"),
      f("flags", "u32", "io_uring_params.flags"),
      f("sqThreadCpu", "u32", "io_uring_params.sq_thread_cpu"),
      f("sqThreadIdle", "u32", "io_uring_params.sq_thread_idle"),
      f("features", "u32", "io_uring_params.features"),
      f("wqFd", "u32", "io_uring_params.wq_fd"),
      ...SQ_OFF.map(([prop, c]) =>
        f(prop, "u32", `io_uring_params.sq_off.${c}`, {
          via: "sqOff",
          readOnly: true,
        })
      ),
      ...CQ_OFF.map(([prop, c]) =>
        f(prop, "u32", `io_uring_params.cq_off.${c}`, {
          via: "cqOff",
          readOnly: true,
        })
      ),
    ],
  },
  {
    name: "AttrPiView",
    size: ATTR_PI_SIZE,
    cSize: "struct kernelmd_attr_pi",
    make: (b) => new AttrPiView(b),
    fields: [
      f("flags", "u16", "kernelmd_attr_pi.flags", { offset: 0 }),
      f("appTag", "u16", "kernelmd_attr_pi.app_tag", { offset: 2 }),
      f("len", "u32", "kernelmd_attr_pi.len", { offset: 4 }),
      f("addr", "u64", "kernelmd_attr_pi.addr", { offset: 8 }),
      f("seed", "u64", "kernelmd_attr_pi.seed", { offset: 16 }),
      f("rsvd", "u64", "kernelmd_attr_pi.rsvd", { offset: 24 }),
    ],
  },
  {
    name: "LbmdCapView",
    size: LBMD_CAP_SIZE,
    cSize: "struct kernelmd_lbmd_cap",
    make: (b) => new LbmdCapView(b),
    fields: [
      f("flags", "u32", "kernelmd_lbmd_cap.lbmd_flags", { offset: 0 }),
      f("interval", "u16", "kernelmd_lbmd_cap.lbmd_interval", { offset: 4 }),
      f("size", "u8", "kernelmd_lbmd_cap.lbmd_size", { offset: 6 }),
      f("opaqueSize", "u8", "kernelmd_lbmd_cap.lbmd_opaque_size", {
        offset: 7,
      }),
      f("opaqueOffset", "u8", "kernelmd_lbmd_cap.lbmd_opaque_offset", {
        offset: 8,
      }),
      f("piSize", "u8", "kernelmd_lbmd_cap.lbmd_pi_size", { offset: 9 }),
      f("piOffset", "u8", "kernelmd_lbmd_cap.lbmd_pi_offset", { offset: 10 }),
      f("guardTagType", "u8", "kernelmd_lbmd_cap.lbmd_guard_tag_type", {
        offset: 11,
      }),
      f("appTagSize", "u8", "kernelmd_lbmd_cap.lbmd_app_tag_size", {
        offset: 12,
      }),
      f("refTagSize", "u8", "kernelmd_lbmd_cap.lbmd_ref_tag_size", {
        offset: 13,
      }),
      f("storageTagSize", "u8", "kernelmd_lbmd_cap.lbmd_storage_tag_size", {
        offset: 14,
      }),
    ],
  },
  {
    name: "IovecView",
    size: IOVEC_SIZE,
    cSize: "struct iovec",
    make: (b) => new IovecView(b),
    fields: [
      f("base", "u64", "iovec.iov_base"),
      f("len", "u64", "iovec.iov_len"),
    ],
  },
  {
    name: "TimespecView",
    size: TIMESPEC_SIZE,
    cSize: "struct __kernel_timespec",
    make: (b) => new TimespecView(b),
    fields: [
      f("tvSec", "i64", "__kernel_timespec.tv_sec"),
      f("tvNsec", "i64", "__kernel_timespec.tv_nsec"),
    ],
  },
  {
    name: "StatxView",
    size: STATX_STRUCT_SIZE,
    cSize: "struct statx",
    make: (b) => new StatxView(b),
    fields: [
      f("mask", "u32", "statx.stx_mask", { readOnly: true }),
      f("size", "u64n", "statx.stx_size", { readOnly: true }),
      f("mode", "u16", "statx.stx_mode", { readOnly: true }),
      ...STATX_TO_OBJECT.map(([prop, kind, c]) =>
        f(prop, kind, `statx.${c}`, { via: "toObject", readOnly: true })
      ),
    ],
  },
  {
    name: "ProbeView",
    size: PROBE_HEADER_SIZE,
    cSize: "struct io_uring_probe",
    make: (b) => new ProbeView(b),
    fields: [
      f("lastOp", "u8", "io_uring_probe.last_op", { readOnly: true }),
      f("opsLen", "u8", "io_uring_probe.ops_len", { readOnly: true }),
    ],
  },
  {
    name: "RsrcRegisterView",
    size: RSRC_REGISTER_SIZE,
    cSize: "struct io_uring_rsrc_register",
    make: (b) => new RsrcRegisterView(b),
    fields: [
      f("nr", "u32", "io_uring_rsrc_register.nr"),
      f("flags", "u32", "io_uring_rsrc_register.flags"),
      f("data", "u64", "io_uring_rsrc_register.data"),
      f("tags", "u64", "io_uring_rsrc_register.tags"),
    ],
  },
  {
    name: "RsrcUpdateView",
    size: RSRC_UPDATE_SIZE,
    cSize: "struct io_uring_rsrc_update",
    make: (b) => new RsrcUpdateView(b),
    fields: [
      f("offset", "u32", "io_uring_rsrc_update.offset"),
      f("data", "u64", "io_uring_rsrc_update.data"),
    ],
  },
];

// ---------------------------------------------------------------------------
// The C side: gcc's offsetof/sizeof for every field above.

const WIDTH: Record<Kind, number> = {
  u8: 1,
  u16: 2,
  u32: 4,
  i32: 4,
  u64: 8,
  i64: 8,
  u64n: 8,
  ts: 16,
};

// The structs KERNEL.md gives for Linux 6.14+/6.17+, which the 6.1 system
// header lacks, written as KERNEL.md writes them.
const KERNEL_MD_STRUCTS = `
struct kernelmd_attr_pi {
  __u16 flags; __u16 app_tag; __u32 len; __u64 addr; __u64 seed; __u64 rsvd;
};
struct kernelmd_lbmd_cap {
  __u32 lbmd_flags; __u16 lbmd_interval; __u8 lbmd_size;
  __u8 lbmd_opaque_size; __u8 lbmd_opaque_offset; __u8 lbmd_pi_size;
  __u8 lbmd_pi_offset; __u8 lbmd_guard_tag_type; __u8 lbmd_app_tag_size;
  __u8 lbmd_ref_tag_size; __u8 lbmd_storage_tag_size; __u8 pad;
};
`;

const LAYOUT_HEADERS = `
#include <stddef.h>
#include <stdio.h>
#include <linux/io_uring.h>
#include <linux/stat.h>
#include <linux/time_types.h>
#include <sys/uio.h>
`;

const FLEXIBLE = new Set(["io_uring_cqe.big_cqe", "io_uring_probe.ops"]);

let layoutCache: Map<string, number> | undefined;

/** gcc's answer: "struct.member" → offset, "sizeof:struct.member" → size. */
function cLayout(): Map<string, number> {
  if (layoutCache) return layoutCache;
  const lines: string[] = [];
  const members = new Set<string>();
  const sizes = new Set<string>();
  for (const view of VIEWS) {
    if (view.cSize) sizes.add(view.cSize);
    for (const field of view.fields) if (field.c) members.add(field.c);
  }
  // The pieces the views use beyond their named fields.
  members.add("io_uring_sqe.cmd");
  members.add("io_uring_probe.ops");
  members.add("io_uring_probe_op.flags");
  members.add("io_uring_params.sq_off");
  members.add("io_uring_params.cq_off");
  members.add("statx_timestamp.tv_sec");
  members.add("statx_timestamp.tv_nsec");
  sizes.add("struct io_uring_probe_op");
  sizes.add("struct io_sqring_offsets");
  sizes.add("struct io_cqring_offsets");
  sizes.add("struct io_uring_files_update");
  for (const member of members) {
    const [struct, ...path] = member.split(".");
    const field = path.join(".");
    // Flexible array members have no size.
    const size = FLEXIBLE.has(member)
      ? "(size_t)0"
      : `sizeof(((struct ${struct} *)0)->${field})`;
    lines.push(
      `printf("%s\\t%zu\\t%zu\\n", "${member}", offsetof(struct ${struct}, ${field}), ${size});`,
    );
  }
  for (const size of sizes) {
    lines.push(`printf("sizeof:%s\\t%zu\\t0\\n", "${size}", sizeof(${size}));`);
  }
  const out = runC(
    `${LAYOUT_HEADERS}${KERNEL_MD_STRUCTS}\nint main(void) {\n${
      lines.join("\n")
    }\nreturn 0;\n}\n`,
  );
  layoutCache = new Map();
  for (const line of out.trim().split("\n")) {
    const [name, offset, size] = line.split("\t");
    layoutCache.set(name, Number(offset));
    if (!name.startsWith("sizeof:")) {
      layoutCache.set(`sizeof:${name}`, Number(size));
    }
  }
  return layoutCache;
}

// ---------------------------------------------------------------------------
// Reading and writing one field through a view.

/** Distinct non-zero bytes 0x11, 0x22, ... for a field of `width` bytes. */
function markerBytes(kind: Kind): Uint8Array {
  const width = WIDTH[kind];
  const bytes = new Uint8Array(width);
  for (let i = 0; i < width; i++) bytes[i] = 0x11 * ((i % 8) + 1);
  // A u64 read as a number must stay below 2^53.
  if (kind === "u64n") bytes[6] = 0x07, bytes[7] = 0;
  return bytes;
}

/** The value `bytes` (little-endian) hold, as the view returns it. */
function decode(kind: Kind, bytes: Uint8Array): unknown {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (kind) {
    case "u8":
      return dv.getUint8(0);
    case "u16":
      return dv.getUint16(0, true);
    case "u32":
      return dv.getUint32(0, true);
    case "i32":
      return dv.getInt32(0, true);
    case "u64":
      return dv.getBigUint64(0, true);
    case "i64":
      return dv.getBigInt64(0, true);
    case "u64n":
      return Number(dv.getBigUint64(0, true));
    case "ts":
      return { sec: dv.getBigInt64(0, true), nsec: dv.getUint32(8, true) };
  }
}

function read(view: object, field: Field): unknown {
  // deno-lint-ignore no-explicit-any
  const v = view as any;
  if (field.via === "toObject") return v.toObject()[field.prop];
  if (field.via) return v[field.via][field.prop];
  return v[field.prop];
}

function write(view: object, field: Field, value: unknown): void {
  (view as Record<string, unknown>)[field.prop] = value;
}

function fieldOffset(field: Field, layout: Map<string, number>): number {
  if (field.c && layout.has(field.c)) return layout.get(field.c)!;
  assert.ok(field.offset !== undefined, `no offset for ${field.prop}`);
  return field.offset!;
}

// ---------------------------------------------------------------------------
// Layout tests: one per view.

for (const view of VIEWS) {
  const name = `${view.name}: size and field offsets match the UAPI`;
  test(name, skipUnless(name, NO_GCC), () => {
    const layout = cLayout();
    if (view.cSize) {
      assert.equal(view.size, layout.get(`sizeof:${view.cSize}`), "size");
    }
    for (const field of view.fields) {
      const offset = fieldOffset(field, layout);
      if (field.c && field.offset !== undefined) {
        // A KERNEL.md number and the C compiler must agree.
        assert.equal(layout.get(field.c), field.offset, field.c);
      }
      if (field.c && !field.via && field.kind !== "ts") {
        // The C member is at least as wide as the view's field (arrays and
        // unions such as __pad2[1] or big_cqe[] report their full size).
        const cWidth = layout.get(`sizeof:${field.c}`)!;
        if (cWidth > 0) assert.equal(cWidth, WIDTH[field.kind], field.c);
      }
      const base = field.via === "sqOff"
        ? layout.get("io_uring_params.sq_off")!
        : field.via === "cqOff"
        ? layout.get("io_uring_params.cq_off")!
        : 0;
      const relative = field.via === "sqOff" || field.via === "cqOff"
        ? offset - base
        : offset;
      const bytes = new Uint8Array(view.size);
      const marker = markerBytes(field.kind);
      const expected = decode(field.kind, marker);
      if (field.readOnly) {
        bytes.set(marker, offset);
        const v = view.make(bytes);
        assert.deepEqual(
          read(v, field),
          expected,
          `${view.name}.${field.prop} reads byte ${offset}`,
        );
      } else {
        const v = view.make(bytes);
        write(v, field, expected);
        const want = new Uint8Array(view.size);
        want.set(marker, offset);
        assert.deepEqual(
          bytes,
          want,
          `${view.name}.${field.prop} writes bytes ${offset}..${
            offset + marker.length - 1
          } and nothing else`,
        );
      }
      assert.ok(relative >= 0);
    }
  });
}

test(
  "the views' offset tables and helpers agree with gcc",
  skipUnless("the views' offset tables and helpers agree with gcc", NO_GCC),
  () => {
    const layout = cLayout();
    assert.equal(SQE128_SIZE, 2 * layout.get("sizeof:struct io_uring_sqe")!);
    assert.equal(CQE32_SIZE, 2 * layout.get("sizeof:struct io_uring_cqe")!);
    assert.equal(SQE_OFFSETS.cmd, layout.get("io_uring_sqe.cmd"));
    assert.equal(new Sqe128View(new Uint8Array(128)).cmd.byteLength, 128 - 48);
    assert.equal(layout.get("io_uring_cqe.big_cqe"), 16);
    assert.equal(PROBE_HEADER_SIZE, layout.get("io_uring_probe.ops"));
    assert.equal(PROBE_OP_SIZE, layout.get("sizeof:struct io_uring_probe_op"));
    assert.equal(probeSize(3), PROBE_HEADER_SIZE + 3 * PROBE_OP_SIZE);
    assert.equal(layout.get("sizeof:struct io_sqring_offsets"), 40);
    assert.equal(layout.get("sizeof:struct io_cqring_offsets"), 40);
    assert.equal(
      RSRC_UPDATE_SIZE,
      layout.get("sizeof:struct io_uring_files_update"),
    );
    // ProbeView.opFlags reads io_uring_probe_op.flags of entry `op`.
    const bytes = new Uint8Array(probeSize(4));
    bytes[1] = 4; // ops_len
    const at = layout.get("io_uring_probe.ops")! +
      2 * layout.get("sizeof:struct io_uring_probe_op")! +
      layout.get("io_uring_probe_op.flags")!;
    new DataView(bytes.buffer).setUint16(at, 0x0301, true);
    const probe = new ProbeView(bytes);
    assert.equal(probe.capacity, 4);
    assert.equal(probe.opFlags(2), 0x0301);
    assert.equal(probe.supported(2), true);
    assert.equal(probe.supported(1), false);
    assert.equal(probe.supported(7), false, "beyond ops_len");
    // statx timestamps: sec i64 then nsec u32.
    assert.equal(layout.get("statx_timestamp.tv_sec"), 0);
    assert.equal(layout.get("statx_timestamp.tv_nsec"), 8);
  },
);

test("KERNEL.md numbers: attribute and integrity structs and constants", () => {
  // Sizes and offsets written in KERNEL.md (the 6.1 header has none of them).
  assert.equal(ATTR_PI_SIZE, 32);
  assert.equal(AttrPiView.SIZE, 32);
  assert.equal(LBMD_CAP_SIZE, 16);
  assert.equal(SQE_OFFSETS.attrPtr, 48);
  assert.equal(SQE_OFFSETS.attrTypeMask, 56);
  assert.equal(IORING_RW_ATTR_FLAG_PI, 1);
  assert.equal(IORING_FEAT_RW_ATTR, 1 << 16);
  assert.equal(IO_INTEGRITY_CHK_GUARD, 1);
  assert.equal(IO_INTEGRITY_CHK_REFTAG, 2);
  assert.equal(IO_INTEGRITY_CHK_APPTAG, 4);
  assert.equal(FS_IOC_GETLBMD_CAP, 0xc0101502);
  // _IOWR(0x15, 2, 16 bytes): dir 3 << 30 | size << 16 | type << 8 | nr.
  assert.equal(
    ((3 << 30) | (LBMD_CAP_SIZE << 16) | (0x15 << 8) | 2) >>> 0,
    FS_IOC_GETLBMD_CAP,
  );
  assert.equal(LBMD_PI_CAP_INTEGRITY, 1);
  assert.equal(LBMD_PI_CAP_REFTAG, 2);
  assert.equal(LBMD_PI_CSUM_NONE, 0);
  assert.equal(LBMD_PI_CSUM_IP, 1);
  assert.equal(LBMD_PI_CSUM_CRC16_T10DIF, 2);
  assert.equal(LBMD_PI_CSUM_CRC64_NVME, 4);
});

// ---------------------------------------------------------------------------
// Round trips: every settable field takes edge values and reads them back;
// all fields set at once do not disturb each other.

const EDGES: Record<Kind, unknown[]> = {
  u8: [0, 1, 0x7f, 0xff],
  u16: [0, 1, 0x8000, 0xffff],
  u32: [0, 1, 0x8000_0000, 0xffff_ffff],
  i32: [0, 1, -1, -100, 0x7fff_ffff, -0x8000_0000],
  u64: [0n, 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n],
  i64: [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n)],
  u64n: [],
  ts: [],
};

for (const view of VIEWS) {
  test(`${view.name}: every field round-trips`, () => {
    const bytes = new Uint8Array(view.size + 8).subarray(4, 4 + view.size);
    const v = view.make(bytes);
    const settable = view.fields.filter((field) => !field.readOnly);
    for (const field of settable) {
      for (const value of EDGES[field.kind]) {
        write(v, field, value);
        assert.equal(read(v, field), value, `${view.name}.${field.prop}`);
      }
      if (field.kind === "u64") {
        // Numbers are accepted too and read back as bigint.
        write(v, field, 2 ** 40 + 5);
        assert.equal(read(v, field), 2n ** 40n + 5n);
        write(v, field, 0);
      }
    }
    // All at once, distinct values, then all read back.
    settable.forEach((field, i) => write(v, field, distinct(field.kind, i)));
    settable.forEach((field, i) =>
      assert.deepEqual(
        read(v, field),
        distinct(field.kind, i),
        `${view.name}.${field.prop} after setting every field`,
      )
    );
    // Read-only fields: bytes written in place read back through the view.
    for (const field of view.fields.filter((field) => field.readOnly)) {
      const fresh = new Uint8Array(view.size);
      const layoutOffset = readOnlyOffset(view, field);
      const marker = markerBytes(field.kind);
      fresh.set(marker, layoutOffset);
      assert.deepEqual(
        read(view.make(fresh), field),
        decode(field.kind, marker),
        `${view.name}.${field.prop}`,
      );
    }
    // clear() zeroes the struct and nothing around it.
    bytes.fill(0xaa);
    (v as { clear(): void }).clear();
    assert.ok(bytes.every((b) => b === 0));
    const whole = new Uint8Array(bytes.buffer);
    assert.equal(whole[3], 0);
    assert.equal(whole[4 + view.size], 0);
  });
}

function distinct(kind: Kind, i: number): unknown {
  switch (kind) {
    case "u8":
      return (i * 37 + 5) & 0xff;
    case "u16":
      return (i * 4099 + 7) & 0xffff;
    case "u32":
      return ((i * 0x01020305 + 0x9000_0000) >>> 0);
    case "i32":
      return -(i * 1000 + 3);
    case "u64":
      return 0x8000_0000_0000_0000n + BigInt(i) * 0x1_0000_0001n;
    case "i64":
      return -(BigInt(i) * 0x1_0000_0001n + 9n);
    default:
      return 0;
  }
}

/** Offsets of read-only fields without gcc (the same numbers it reports). */
function readOnlyOffset(view: ViewSpec, field: Field): number {
  const known: Record<string, number> = {
    "Cqe32View.bigCqe0": 16,
    "Cqe32View.bigCqe1": 24,
    "ProbeView.lastOp": 0,
    "ProbeView.opsLen": 1,
  };
  const key = `${view.name}.${field.prop}`;
  if (key in known) return known[key];
  if (field.via === "sqOff") {
    return 40 + 4 * SQ_OFF.findIndex(([prop]) => prop === field.prop);
  }
  if (field.via === "cqOff") {
    return 80 + 4 * CQ_OFF.findIndex(([prop]) => prop === field.prop);
  }
  const statx: Record<string, number> = {
    mask: 0,
    blksize: 4,
    attributes: 8,
    nlink: 16,
    uid: 20,
    gid: 24,
    mode: 28,
    ino: 32,
    size: 40,
    blocks: 48,
    atime: 64,
    btime: 80,
    ctime: 96,
    mtime: 112,
    rdevMajor: 128,
    rdevMinor: 132,
    devMajor: 136,
    devMinor: 140,
    mntId: 144,
    dioMemAlign: 152,
    dioOffsetAlign: 156,
  };
  assert.ok(field.prop in statx, key);
  return statx[field.prop];
}

test("TimespecView.setMilliseconds splits into seconds and nanoseconds", () => {
  const ts = new TimespecView(new Uint8Array(16));
  ts.setMilliseconds(1500);
  assert.equal(ts.tvSec, 1n);
  assert.equal(ts.tvNsec, 500_000_000n);
  ts.setMilliseconds(0.25);
  assert.equal(ts.tvSec, 0n);
  assert.equal(ts.tvNsec, 250_000n);
});

test("views refuse too few bytes and non-Uint8Array input", () => {
  for (const view of VIEWS) {
    assert.throws(() => view.make(new Uint8Array(view.size - 1)), RangeError);
    assert.throws(
      () => view.make(new Uint16Array(view.size) as unknown as Uint8Array),
      TypeError,
    );
  }
});

// ---------------------------------------------------------------------------
// Constants against the headers.

const IO_URING_HEADER = "/usr/include/linux/io_uring.h";
// Markers of the header's own enum end, not stable values.
const NOT_COMPARED = new Set([
  "IORING_OP_LAST",
  "IORING_REGISTER_LAST",
  "IORING_OP_NAMES",
]);

function numericConstants(): Array<[string, number]> {
  return Object.entries(constants).filter((
    [name, value],
  ) => typeof value === "number" && !NOT_COMPARED.has(name)) as Array<
    [string, number]
  >;
}

function compareConstants(
  headers: string,
  names: Array<[string, number]>,
  guard: (name: string) => string,
): number {
  if (names.length === 0) return 0;
  const lines = names.map(([name]) =>
    `${guard(name)}printf("%s %lld\\n", "${name}", (long long)(${name}));${
      guard(name) ? "\n#endif" : ""
    }`
  );
  const out = runC(
    `${headers}\n#include <stdio.h>\nint main(void) {\n${
      lines.join("\n")
    }\nreturn 0;\n}\n`,
  );
  const ours = new Map(names);
  let checked = 0;
  for (const line of out.trim().split("\n").filter(Boolean)) {
    const [name, value] = line.split(" ");
    assert.equal(ours.get(name), Number(value), name);
    checked++;
  }
  return checked;
}

{
  const name = "kernel constants equal the system headers' values";
  test(name, skipUnless(name, NO_GCC), () => {
    const header = readFileSync(IO_URING_HEADER, "utf8");
    // io_uring.h names: #defines and enum members (which #ifdef cannot see).
    const inHeader = new Set<string>();
    for (const m of header.matchAll(/#define\s+([A-Z][A-Z0-9_]*)/g)) {
      inHeader.add(m[1]);
    }
    for (
      const m of header.matchAll(/^\s+([A-Z][A-Z0-9_]*)\s*(=[^,\n]*)?,/gm)
    ) inHeader.add(m[1]);
    const all = numericConstants();
    const uring = all.filter(([n]) => /^(IORING_|IOSQE_|IO_URING_)/.test(n));
    const kernelSide = all.filter(([n]) =>
      /^(STATX_|O_|AT_|FALLOC_FL_|PROT_|MAP_)/.test(n)
    );
    const libcSide = all.filter(([n]) =>
      !/^(IORING_|IOSQE_|IO_URING_|IO_INTEGRITY_|LBMD_|FS_IOC_|STATX_|O_|AT_|FALLOC_FL_|PROT_|MAP_)/
        .test(n)
    );
    const ifdef = (n: string) => `#ifdef ${n}\n`;
    let checked = compareConstants(
      `#include <linux/io_uring.h>`,
      uring.filter(([n]) => inHeader.has(n)),
      () => "",
    );
    checked += compareConstants(
      `#include <linux/stat.h>\n#include <linux/fcntl.h>\n#include <linux/falloc.h>\n#include <linux/mman.h>`,
      kernelSide,
      ifdef,
    );
    checked += compareConstants(
      `#define _GNU_SOURCE\n#include <fcntl.h>\n#include <errno.h>\n#include <sys/stat.h>\n#include <sys/mman.h>\n#include <sys/eventfd.h>\n#include <sys/resource.h>`,
      libcSide,
      ifdef,
    );
    assert.ok(checked >= 150, `only ${checked} constants were checked`);
    // errno names and numbers.
    const errnos = Object.entries(ERRNO_TABLE).map((
      [n, [errName]],
    ) => [errName, Number(n)] as [string, number]);
    const errnoChecked = compareConstants(
      `#include <errno.h>`,
      errnos,
      ifdef,
    );
    assert.ok(errnoChecked >= 100, `only ${errnoChecked} errno names checked`);
  });
}
