/**
 * Kernel constants under their kernel names: io_uring opcodes and flags,
 * integrity (PI) flags, open(2) flags and the other numbers the library
 * passes to the kernel. Values are from the Linux UAPI headers.
 *
 * @module
 */
import process from "node:process";

// ---- io_uring opcodes (enum io_uring_op) ----

/** Opcode 0: IORING_OP_NOP. */
export const IORING_OP_NOP = 0;
/** Opcode 1: IORING_OP_READV. */
export const IORING_OP_READV = 1;
/** Opcode 2: IORING_OP_WRITEV. */
export const IORING_OP_WRITEV = 2;
/** Opcode 3: IORING_OP_FSYNC. */
export const IORING_OP_FSYNC = 3;
/** Opcode 4: IORING_OP_READ_FIXED. */
export const IORING_OP_READ_FIXED = 4;
/** Opcode 5: IORING_OP_WRITE_FIXED. */
export const IORING_OP_WRITE_FIXED = 5;
/** Opcode 6: IORING_OP_POLL_ADD. */
export const IORING_OP_POLL_ADD = 6;
/** Opcode 7: IORING_OP_POLL_REMOVE. */
export const IORING_OP_POLL_REMOVE = 7;
/** Opcode 8: IORING_OP_SYNC_FILE_RANGE. */
export const IORING_OP_SYNC_FILE_RANGE = 8;
/** Opcode 9: IORING_OP_SENDMSG. */
export const IORING_OP_SENDMSG = 9;
/** Opcode 10: IORING_OP_RECVMSG. */
export const IORING_OP_RECVMSG = 10;
/** Opcode 11: IORING_OP_TIMEOUT. */
export const IORING_OP_TIMEOUT = 11;
/** Opcode 12: IORING_OP_TIMEOUT_REMOVE. */
export const IORING_OP_TIMEOUT_REMOVE = 12;
/** Opcode 13: IORING_OP_ACCEPT. */
export const IORING_OP_ACCEPT = 13;
/** Opcode 14: IORING_OP_ASYNC_CANCEL. */
export const IORING_OP_ASYNC_CANCEL = 14;
/** Opcode 15: IORING_OP_LINK_TIMEOUT. */
export const IORING_OP_LINK_TIMEOUT = 15;
/** Opcode 16: IORING_OP_CONNECT. */
export const IORING_OP_CONNECT = 16;
/** Opcode 17: IORING_OP_FALLOCATE. */
export const IORING_OP_FALLOCATE = 17;
/** Opcode 18: IORING_OP_OPENAT. */
export const IORING_OP_OPENAT = 18;
/** Opcode 19: IORING_OP_CLOSE. */
export const IORING_OP_CLOSE = 19;
/** Opcode 20: IORING_OP_FILES_UPDATE. */
export const IORING_OP_FILES_UPDATE = 20;
/** Opcode 21: IORING_OP_STATX. */
export const IORING_OP_STATX = 21;
/** Opcode 22: IORING_OP_READ. */
export const IORING_OP_READ = 22;
/** Opcode 23: IORING_OP_WRITE. */
export const IORING_OP_WRITE = 23;
/** Opcode 24: IORING_OP_FADVISE. */
export const IORING_OP_FADVISE = 24;
/** Opcode 25: IORING_OP_MADVISE. */
export const IORING_OP_MADVISE = 25;
/** Opcode 26: IORING_OP_SEND. */
export const IORING_OP_SEND = 26;
/** Opcode 27: IORING_OP_RECV. */
export const IORING_OP_RECV = 27;
/** Opcode 28: IORING_OP_OPENAT2. */
export const IORING_OP_OPENAT2 = 28;
/** Opcode 29: IORING_OP_EPOLL_CTL. */
export const IORING_OP_EPOLL_CTL = 29;
/** Opcode 30: IORING_OP_SPLICE. */
export const IORING_OP_SPLICE = 30;
/** Opcode 31: IORING_OP_PROVIDE_BUFFERS. */
export const IORING_OP_PROVIDE_BUFFERS = 31;
/** Opcode 32: IORING_OP_REMOVE_BUFFERS. */
export const IORING_OP_REMOVE_BUFFERS = 32;
/** Opcode 33: IORING_OP_TEE. */
export const IORING_OP_TEE = 33;
/** Opcode 34: IORING_OP_SHUTDOWN. */
export const IORING_OP_SHUTDOWN = 34;
/** Opcode 35: IORING_OP_RENAMEAT. */
export const IORING_OP_RENAMEAT = 35;
/** Opcode 36: IORING_OP_UNLINKAT. */
export const IORING_OP_UNLINKAT = 36;
/** Opcode 37: IORING_OP_MKDIRAT. */
export const IORING_OP_MKDIRAT = 37;
/** Opcode 38: IORING_OP_SYMLINKAT. */
export const IORING_OP_SYMLINKAT = 38;
/** Opcode 39: IORING_OP_LINKAT. */
export const IORING_OP_LINKAT = 39;
/** Opcode 40: IORING_OP_MSG_RING. */
export const IORING_OP_MSG_RING = 40;
/** Opcode 41: IORING_OP_FSETXATTR. */
export const IORING_OP_FSETXATTR = 41;
/** Opcode 42: IORING_OP_SETXATTR. */
export const IORING_OP_SETXATTR = 42;
/** Opcode 43: IORING_OP_FGETXATTR. */
export const IORING_OP_FGETXATTR = 43;
/** Opcode 44: IORING_OP_GETXATTR. */
export const IORING_OP_GETXATTR = 44;
/** Opcode 45: IORING_OP_SOCKET. */
export const IORING_OP_SOCKET = 45;
/** Opcode 46: IORING_OP_URING_CMD. */
export const IORING_OP_URING_CMD = 46;
/** Opcode 47: IORING_OP_SEND_ZC. */
export const IORING_OP_SEND_ZC = 47;
/** Opcode 48: IORING_OP_SENDMSG_ZC. */
export const IORING_OP_SENDMSG_ZC = 48;
/** Opcode 49: IORING_OP_READ_MULTISHOT. */
export const IORING_OP_READ_MULTISHOT = 49;
/** Opcode 50: IORING_OP_WAITID. */
export const IORING_OP_WAITID = 50;
/** Opcode 51: IORING_OP_FUTEX_WAIT. */
export const IORING_OP_FUTEX_WAIT = 51;
/** Opcode 52: IORING_OP_FUTEX_WAKE. */
export const IORING_OP_FUTEX_WAKE = 52;
/** Opcode 53: IORING_OP_FUTEX_WAITV. */
export const IORING_OP_FUTEX_WAITV = 53;
/** Opcode 54: IORING_OP_FIXED_FD_INSTALL. */
export const IORING_OP_FIXED_FD_INSTALL = 54;
/** Opcode 55: IORING_OP_FTRUNCATE. */
export const IORING_OP_FTRUNCATE = 55;
/** Opcode 56: IORING_OP_BIND. */
export const IORING_OP_BIND = 56;
/** Opcode 57: IORING_OP_LISTEN. */
export const IORING_OP_LISTEN = 57;
/** Opcode 58: IORING_OP_RECV_ZC. */
export const IORING_OP_RECV_ZC = 58;
/** Opcode 59: IORING_OP_EPOLL_WAIT. */
export const IORING_OP_EPOLL_WAIT = 59;
/** Opcode 60: IORING_OP_READV_FIXED. */
export const IORING_OP_READV_FIXED = 60;
/** Opcode 61: IORING_OP_WRITEV_FIXED. */
export const IORING_OP_WRITEV_FIXED = 61;
/** Opcode 62: IORING_OP_PIPE. */
export const IORING_OP_PIPE = 62;
/** Opcode 63: IORING_OP_NOP128. */
export const IORING_OP_NOP128 = 63;
/** Opcode 64: IORING_OP_URING_CMD128. */
export const IORING_OP_URING_CMD128 = 64;
/** Number of opcodes this library knows (IORING_OP_LAST when it was written). */
export const IORING_OP_LAST = 65;

/**
 * Opcode number → kernel name without the `IORING_OP_` prefix.
 *
 * @example
 * ```ts
 * import { OPCODE_NAMES, IORING_OP_READ } from "./constants.ts";
 * OPCODE_NAMES[IORING_OP_READ]; // "READ"
 * ```
 */
export const OPCODE_NAMES: readonly string[] = [
  "NOP",
  "READV",
  "WRITEV",
  "FSYNC",
  "READ_FIXED",
  "WRITE_FIXED",
  "POLL_ADD",
  "POLL_REMOVE",
  "SYNC_FILE_RANGE",
  "SENDMSG",
  "RECVMSG",
  "TIMEOUT",
  "TIMEOUT_REMOVE",
  "ACCEPT",
  "ASYNC_CANCEL",
  "LINK_TIMEOUT",
  "CONNECT",
  "FALLOCATE",
  "OPENAT",
  "CLOSE",
  "FILES_UPDATE",
  "STATX",
  "READ",
  "WRITE",
  "FADVISE",
  "MADVISE",
  "SEND",
  "RECV",
  "OPENAT2",
  "EPOLL_CTL",
  "SPLICE",
  "PROVIDE_BUFFERS",
  "REMOVE_BUFFERS",
  "TEE",
  "SHUTDOWN",
  "RENAMEAT",
  "UNLINKAT",
  "MKDIRAT",
  "SYMLINKAT",
  "LINKAT",
  "MSG_RING",
  "FSETXATTR",
  "SETXATTR",
  "FGETXATTR",
  "GETXATTR",
  "SOCKET",
  "URING_CMD",
  "SEND_ZC",
  "SENDMSG_ZC",
  "READ_MULTISHOT",
  "WAITID",
  "FUTEX_WAIT",
  "FUTEX_WAKE",
  "FUTEX_WAITV",
  "FIXED_FD_INSTALL",
  "FTRUNCATE",
  "BIND",
  "LISTEN",
  "RECV_ZC",
  "EPOLL_WAIT",
  "READV_FIXED",
  "WRITEV_FIXED",
  "PIPE",
  "NOP128",
  "URING_CMD128",
];

// ---- io_uring_setup flags (io_uring_params.flags) ----
/** Busy-poll for I/O completion (O_DIRECT on polled devices). */
export const IORING_SETUP_IOPOLL = 1 << 0;
/** A kernel thread polls the SQ. */
export const IORING_SETUP_SQPOLL = 1 << 1;
/** sq_thread_cpu is valid. */
export const IORING_SETUP_SQ_AFF = 1 << 2;
/** cq_entries is given by the application. */
export const IORING_SETUP_CQSIZE = 1 << 3;
/** Clamp SQ/CQ sizes to the maximum instead of failing. */
export const IORING_SETUP_CLAMP = 1 << 4;
/** Share the io-wq of the ring in wq_fd. */
export const IORING_SETUP_ATTACH_WQ = 1 << 5;
/** Start with the ring disabled. */
export const IORING_SETUP_R_DISABLED = 1 << 6;
/** Continue submitting a batch after an error. */
export const IORING_SETUP_SUBMIT_ALL = 1 << 7;
/** No IPI to run task work: it runs at the next kernel entry (5.19). */
export const IORING_SETUP_COOP_TASKRUN = 1 << 8;
/** Set IORING_SQ_TASKRUN when task work is pending (5.19). */
export const IORING_SETUP_TASKRUN_FLAG = 1 << 9;
/** SQEs are 128 bytes (5.19). */
export const IORING_SETUP_SQE128 = 1 << 10;
/** CQEs are 32 bytes (5.19). */
export const IORING_SETUP_CQE32 = 1 << 11;
/** Only one task submits (6.0). */
export const IORING_SETUP_SINGLE_ISSUER = 1 << 12;
/** Task work runs only when the issuer waits for events (6.1). */
export const IORING_SETUP_DEFER_TASKRUN = 1 << 13;
/** The application provides the ring memory (6.5). */
export const IORING_SETUP_NO_MMAP = 1 << 14;
/** Return a registered ring index, not an fd (6.5). */
export const IORING_SETUP_REGISTERED_FD_ONLY = 1 << 15;
/** No SQ index array: SQEs are used in ring order (6.6). */
export const IORING_SETUP_NO_SQARRAY = 1 << 16;
/** Hybrid polling for IOPOLL rings (6.13). */
export const IORING_SETUP_HYBRID_IOPOLL = 1 << 17;
/** Allow both 16- and 32-byte CQEs (6.18). */
export const IORING_SETUP_CQE_MIXED = 1 << 18;
/** Allow both 64- and 128-byte SQEs. */
export const IORING_SETUP_SQE_MIXED = 1 << 19;

// ---- io_uring_enter flags ----
/** Wait for min_complete completions. */
export const IORING_ENTER_GETEVENTS = 1 << 0;
/** Wake the SQPOLL thread. */
export const IORING_ENTER_SQ_WAKEUP = 1 << 1;
/** Wait for SQ space (SQPOLL). */
export const IORING_ENTER_SQ_WAIT = 1 << 2;
/** The last argument is a struct io_uring_getevents_arg. */
export const IORING_ENTER_EXT_ARG = 1 << 3;
/** The fd is a registered ring index. */
export const IORING_ENTER_REGISTERED_RING = 1 << 4;
/** The wait timeout is absolute. */
export const IORING_ENTER_ABS_TIMER = 1 << 5;
/** The extended argument is a registered wait region. */
export const IORING_ENTER_EXT_ARG_REG = 1 << 6;
/** Do not account the wait as iowait. */
export const IORING_ENTER_NO_IOWAIT = 1 << 7;

// ---- SQ ring flags (written by the kernel) ----
/** The SQPOLL thread sleeps: enter with IORING_ENTER_SQ_WAKEUP. */
export const IORING_SQ_NEED_WAKEUP = 1 << 0;
/** Completions overflowed the CQ ring and wait in the kernel. */
export const IORING_SQ_CQ_OVERFLOW = 1 << 1;
/** Task work is pending (IORING_SETUP_TASKRUN_FLAG). */
export const IORING_SQ_TASKRUN = 1 << 2;

// ---- CQ ring flags and CQE flags ----
/** Do not signal the registered eventfd. */
export const IORING_CQ_EVENTFD_DISABLED = 1 << 0;
/** The upper 16 bits of flags hold a buffer id. */
export const IORING_CQE_F_BUFFER = 1 << 0;
/** More completions will follow for this request. */
export const IORING_CQE_F_MORE = 1 << 1;
/** The socket has more data. */
export const IORING_CQE_F_SOCK_NONEMPTY = 1 << 2;
/** A zero-copy send notification. */
export const IORING_CQE_F_NOTIF = 1 << 3;
/** The provided buffer will be used again. */
export const IORING_CQE_F_BUF_MORE = 1 << 4;

// ---- io_uring_params.features ----
/** SQ and CQ rings share one mmap (5.4). */
export const IORING_FEAT_SINGLE_MMAP = 1 << 0;
/** Completions are never dropped: overflow is kept and flushed (5.5). */
export const IORING_FEAT_NODROP = 1 << 1;
/** Data of submitted SQEs is consumed at submit (5.5). */
export const IORING_FEAT_SUBMIT_STABLE = 1 << 2;
/** Offset -1 means the current file position (5.6). */
export const IORING_FEAT_RW_CUR_POS = 1 << 3;
/** Requests run with the submitter's credentials (5.6). */
export const IORING_FEAT_CUR_PERSONALITY = 1 << 4;
/** Internal poll for non-blocking files (5.7). */
export const IORING_FEAT_FAST_POLL = 1 << 5;
/** 32-bit poll masks (5.9). */
export const IORING_FEAT_POLL_32BITS = 1 << 6;
/** SQPOLL works without registered files (5.11). */
export const IORING_FEAT_SQPOLL_NONFIXED = 1 << 7;
/** io_uring_enter takes IORING_ENTER_EXT_ARG (5.11). */
export const IORING_FEAT_EXT_ARG = 1 << 8;
/** io-wq workers are native threads (5.12). */
export const IORING_FEAT_NATIVE_WORKERS = 1 << 9;
/** Registered resources take tags (5.13). */
export const IORING_FEAT_RSRC_TAGS = 1 << 10;
/** IOSQE_CQE_SKIP_SUCCESS is supported (5.17). */
export const IORING_FEAT_CQE_SKIP = 1 << 11;
/** Linked requests resolve their files late (5.17). */
export const IORING_FEAT_LINKED_FILE = 1 << 12;
/** Registering with a registered ring fd (6.3). */
export const IORING_FEAT_REG_REG_RING = 1 << 13;
/** Bundled send/recv (6.10). */
export const IORING_FEAT_RECVSEND_BUNDLE = 1 << 14;
/** Minimum wait timeouts (6.12). */
export const IORING_FEAT_MIN_TIMEOUT = 1 << 15;
/** Read/write attributes such as PI (6.14). */
export const IORING_FEAT_RW_ATTR = 1 << 16;
/** IORING_ENTER_NO_IOWAIT (6.15). */
export const IORING_FEAT_NO_IOWAIT = 1 << 17;

// ---- sqe.flags (IOSQE_*) ----
/** fd is an index into the registered file table. */
export const IOSQE_FIXED_FILE = 1 << 0;
/** Start only after every earlier request has completed. */
export const IOSQE_IO_DRAIN = 1 << 1;
/** The next SQE starts only after this one succeeds. */
export const IOSQE_IO_LINK = 1 << 2;
/** Like IOSQE_IO_LINK, but the chain goes on after a failure. */
export const IOSQE_IO_HARDLINK = 1 << 3;
/** Always punt to an io-wq worker. */
export const IOSQE_ASYNC = 1 << 4;
/** Pick a buffer from a provided buffer group. */
export const IOSQE_BUFFER_SELECT = 1 << 5;
/** Post no CQE when the request succeeds. */
export const IOSQE_CQE_SKIP_SUCCESS = 1 << 6;

// ---- io_uring_register opcodes ----
/** io_uring_register opcode 0. */
export const IORING_REGISTER_BUFFERS = 0;
/** io_uring_register opcode 1. */
export const IORING_UNREGISTER_BUFFERS = 1;
/** io_uring_register opcode 2. */
export const IORING_REGISTER_FILES = 2;
/** io_uring_register opcode 3. */
export const IORING_UNREGISTER_FILES = 3;
/** io_uring_register opcode 4. */
export const IORING_REGISTER_EVENTFD = 4;
/** io_uring_register opcode 5. */
export const IORING_UNREGISTER_EVENTFD = 5;
/** io_uring_register opcode 6. */
export const IORING_REGISTER_FILES_UPDATE = 6;
/** io_uring_register opcode 7. */
export const IORING_REGISTER_EVENTFD_ASYNC = 7;
/** io_uring_register opcode 8. */
export const IORING_REGISTER_PROBE = 8;
/** io_uring_register opcode 9. */
export const IORING_REGISTER_PERSONALITY = 9;
/** io_uring_register opcode 10. */
export const IORING_UNREGISTER_PERSONALITY = 10;
/** io_uring_register opcode 11. */
export const IORING_REGISTER_RESTRICTIONS = 11;
/** io_uring_register opcode 12. */
export const IORING_REGISTER_ENABLE_RINGS = 12;
/** io_uring_register opcode 13. */
export const IORING_REGISTER_FILES2 = 13;
/** io_uring_register opcode 14. */
export const IORING_REGISTER_FILES_UPDATE2 = 14;
/** io_uring_register opcode 15. */
export const IORING_REGISTER_BUFFERS2 = 15;
/** io_uring_register opcode 16. */
export const IORING_REGISTER_BUFFERS_UPDATE = 16;
/** io_uring_register opcode 17. */
export const IORING_REGISTER_IOWQ_AFF = 17;
/** io_uring_register opcode 18. */
export const IORING_UNREGISTER_IOWQ_AFF = 18;
/** io_uring_register opcode 19. */
export const IORING_REGISTER_IOWQ_MAX_WORKERS = 19;
/** io_uring_register opcode 20. */
export const IORING_REGISTER_RING_FDS = 20;
/** io_uring_register opcode 21. */
export const IORING_UNREGISTER_RING_FDS = 21;
/** io_uring_register opcode 22. */
export const IORING_REGISTER_PBUF_RING = 22;
/** io_uring_register opcode 23. */
export const IORING_UNREGISTER_PBUF_RING = 23;
/** io_uring_register opcode 24. */
export const IORING_REGISTER_SYNC_CANCEL = 24;
/** io_uring_register opcode 25. */
export const IORING_REGISTER_FILE_ALLOC_RANGE = 25;
/** io_uring_register opcode 26. */
export const IORING_REGISTER_PBUF_STATUS = 26;
/** io_uring_register opcode 27. */
export const IORING_REGISTER_NAPI = 27;
/** io_uring_register opcode 28. */
export const IORING_UNREGISTER_NAPI = 28;
/** io_uring_register opcode 29. */
export const IORING_REGISTER_CLOCK = 29;
/** io_uring_register opcode 30. */
export const IORING_REGISTER_CLONE_BUFFERS = 30;
/** io_uring_register opcode 31. */
export const IORING_REGISTER_SEND_MSG_RING = 31;
/** io_uring_register opcode 32. */
export const IORING_REGISTER_ZCRX_IFQ = 32;
/** io_uring_register opcode 33. */
export const IORING_REGISTER_RESIZE_RINGS = 33;
/** io_uring_register opcode 34. */
export const IORING_REGISTER_MEM_REGION = 34;
/** io_uring_rsrc_register.flags: register an empty (sparse) table. */
export const IORING_RSRC_REGISTER_SPARSE = 1 << 0;
/** In a files update: leave this slot as it is. */
export const IORING_REGISTER_FILES_SKIP: number = -2;
/** file_index value: let the kernel pick a free fixed-file slot. */
export const IORING_FILE_INDEX_ALLOC = 0xffffffff;

// ---- per-opcode flags ----
/** fsync_flags: fdatasync semantics. */
export const IORING_FSYNC_DATASYNC = 1 << 0;
/** timeout_flags: absolute time. */
export const IORING_TIMEOUT_ABS = 1 << 0;
/** timeout_flags: update an existing timeout. */
export const IORING_TIMEOUT_UPDATE = 1 << 1;
/** timeout_flags: CLOCK_BOOTTIME. */
export const IORING_TIMEOUT_BOOTTIME = 1 << 2;
/** timeout_flags: CLOCK_REALTIME. */
export const IORING_TIMEOUT_REALTIME = 1 << 3;
/** timeout_flags: update a linked timeout. */
export const IORING_LINK_TIMEOUT_UPDATE = 1 << 4;
/** timeout_flags: -ETIME counts as success for links. */
export const IORING_TIMEOUT_ETIME_SUCCESS = 1 << 5;
/** timeout_flags: fire repeatedly. */
export const IORING_TIMEOUT_MULTISHOT = 1 << 6;
/** cancel_flags: cancel every match, not the first. */
export const IORING_ASYNC_CANCEL_ALL = 1 << 0;
/** cancel_flags: match on fd, not user_data. */
export const IORING_ASYNC_CANCEL_FD = 1 << 1;
/** cancel_flags: match any request. */
export const IORING_ASYNC_CANCEL_ANY = 1 << 2;
/** cancel_flags: the fd is a fixed-file index. */
export const IORING_ASYNC_CANCEL_FD_FIXED = 1 << 3;
/** cancel_flags: match on user_data. */
export const IORING_ASYNC_CANCEL_USERDATA = 1 << 4;
/** cancel_flags: match on opcode. */
export const IORING_ASYNC_CANCEL_OP = 1 << 5;
/** nop_flags: complete with the result in sqe.len. */
export const IORING_NOP_INJECT_RESULT = 1 << 0;

// ---- mmap offsets of the ring regions ----
/** mmap offset of the SQ ring. */
export const IORING_OFF_SQ_RING = 0;
/** mmap offset of the CQ ring. */
export const IORING_OFF_CQ_RING = 0x8000000;
/** mmap offset of the SQE array. */
export const IORING_OFF_SQES = 0x10000000;

// ---- read/write attributes and integrity checks (Linux 6.14) ----
/** attr_type_mask bit: the attribute buffer holds a struct io_uring_attr_pi. */
export const IORING_RW_ATTR_FLAG_PI = 1 << 0;
/** io_uring_attr_pi.flags: the device checks the guard (checksum). */
export const IO_INTEGRITY_CHK_GUARD = 1 << 0;
/** io_uring_attr_pi.flags: the device checks the reference tag. */
export const IO_INTEGRITY_CHK_REFTAG = 1 << 1;
/** io_uring_attr_pi.flags: the device checks the application tag. */
export const IO_INTEGRITY_CHK_APPTAG = 1 << 2;
/** Every IO_INTEGRITY_CHK_* bit. */
export const IO_INTEGRITY_VALID_FLAGS = 0x7;
/** ioctl: _IO(0x12, 104), a block device's logical block size (int). */
export const BLKSSZGET = 0x1268;
/** ioctl: _IOWR(0x15, 2, struct logical_block_metadata_cap) (Linux 6.17). */
export const FS_IOC_GETLBMD_CAP = 0xc0101502;
/** lbmd_flags: the device stores integrity metadata. */
export const LBMD_PI_CAP_INTEGRITY = 1 << 0;
/** lbmd_flags: the reference tag is checked. */
export const LBMD_PI_CAP_REFTAG = 1 << 1;
/** lbmd_guard_tag_type: no guard. */
export const LBMD_PI_CSUM_NONE = 0;
/** lbmd_guard_tag_type: IP checksum guard. */
export const LBMD_PI_CSUM_IP = 1;
/** lbmd_guard_tag_type: CRC16 T10-DIF guard. */
export const LBMD_PI_CSUM_CRC16_T10DIF = 2;
/** lbmd_guard_tag_type: CRC64-NVMe guard. */
export const LBMD_PI_CSUM_CRC64_NVME = 4;

// ---- statx(2) ----
/** statx mask: stx_mode & S_IFMT. */
export const STATX_TYPE = 0x1;
/** statx mask: stx_mode & ~S_IFMT. */
export const STATX_MODE = 0x2;
/** statx mask: stx_nlink. */
export const STATX_NLINK = 0x4;
/** statx mask: stx_uid. */
export const STATX_UID = 0x8;
/** statx mask: stx_gid. */
export const STATX_GID = 0x10;
/** statx mask: stx_atime. */
export const STATX_ATIME = 0x20;
/** statx mask: stx_mtime. */
export const STATX_MTIME = 0x40;
/** statx mask: stx_ctime. */
export const STATX_CTIME = 0x80;
/** statx mask: stx_ino. */
export const STATX_INO = 0x100;
/** statx mask: stx_size. */
export const STATX_SIZE = 0x200;
/** statx mask: stx_blocks. */
export const STATX_BLOCKS = 0x400;
/** statx mask: every field of stat(2). */
export const STATX_BASIC_STATS = 0x7ff;
/** statx mask: stx_btime. */
export const STATX_BTIME = 0x800;
/** statx mask: stx_mnt_id. */
export const STATX_MNT_ID = 0x1000;
/** statx mask: stx_dio_mem_align and stx_dio_offset_align. */
export const STATX_DIOALIGN = 0x2000;
/** dirfd: the current working directory. */
export const AT_FDCWD: number = -100;
/** Do not follow a final symlink. */
export const AT_SYMLINK_NOFOLLOW = 0x100;
/** An empty path means dirfd itself. */
export const AT_EMPTY_PATH = 0x1000;
/** Mask of the file type bits in a mode. */
export const S_IFMT = 0o170000;
/** Regular file. */
export const S_IFREG = 0o100000;
/** Block device. */
export const S_IFBLK = 0o060000;
/** Directory. */
export const S_IFDIR = 0o040000;
/** FIFO (pipe). */
export const S_IFIFO = 0o010000;

// ---- fallocate(2), fcntl(2), mmap(2), eventfd(2), rlimits ----
/** fallocate: do not change the file size. */
export const FALLOC_FL_KEEP_SIZE = 0x01;
/** fallocate: deallocate the range (with KEEP_SIZE). */
export const FALLOC_FL_PUNCH_HOLE = 0x02;
/** fallocate: zero the range. */
export const FALLOC_FL_ZERO_RANGE = 0x10;
/** fcntl: read the fd flags. */
export const F_GETFD = 1;
/** fcntl: set the fd flags. */
export const F_SETFD = 2;
/** fcntl: read the file status flags (O_DIRECT, ...). */
export const F_GETFL = 3;
/** fd flag: close on exec. */
export const FD_CLOEXEC = 1;
/** mmap: pages may not be accessed at all. */
export const PROT_NONE = 0x0;
/** mmap: pages may be read. */
export const PROT_READ = 0x1;
/** mmap: pages may be written. */
export const PROT_WRITE = 0x2;
/** mmap: share the mapping. */
export const MAP_SHARED = 0x01;
/** mmap: private copy-on-write mapping. */
export const MAP_PRIVATE = 0x02;
/** mmap: not backed by a file. */
export const MAP_ANONYMOUS = 0x20;
/** mmap: place the mapping exactly at the address given, replacing what was there. */
export const MAP_FIXED = 0x10;
/** mmap: prefault the pages. */
export const MAP_POPULATE = 0x8000;
/** eventfd: non-blocking reads. */
export const EFD_NONBLOCK = 0o4000;
/** eventfd: close on exec. */
export const EFD_CLOEXEC = 0o2000000;
/** getrlimit: locked-in-memory bytes (charged by registered buffers). */
export const RLIMIT_MEMLOCK = 8;

// ---- open(2) flags: generic values, with the ones that differ on arm64 ----
const ARM = process.arch === "arm64";
/** open: read only. */
export const O_RDONLY = 0;
/** open: write only. */
export const O_WRONLY = 1;
/** open: read and write. */
export const O_RDWR = 2;
/** open: create if missing. */
export const O_CREAT = 0o100;
/** open: fail if it exists (with O_CREAT). */
export const O_EXCL = 0o200;
/** open: do not become the controlling terminal. */
export const O_NOCTTY = 0o400;
/** open: truncate to 0 bytes. */
export const O_TRUNC = 0o1000;
/** open: writes append. */
export const O_APPEND = 0o2000;
/** open: non-blocking. */
export const O_NONBLOCK = 0o4000;
/** open: data-integrity synchronous writes. */
export const O_DSYNC = 0o10000;
/** open: bypass the page cache (required for PI). */
export const O_DIRECT = ARM ? 0o200000 : 0o40000;
/** open: 64-bit offsets (implied on 64-bit kernels). */
export const O_LARGEFILE = ARM ? 0o400000 : 0o100000;
/** open: fail unless a directory. */
export const O_DIRECTORY = ARM ? 0o40000 : 0o200000;
/** open: do not follow a final symlink. */
export const O_NOFOLLOW = ARM ? 0o100000 : 0o400000;
/** open: do not update atime. */
export const O_NOATIME = 0o1000000;
/** open: close on exec. */
export const O_CLOEXEC = 0o2000000;
/** open: file-integrity synchronous writes. */
export const O_SYNC = 0o4010000;
/** open: a path-only descriptor. */
export const O_PATH = 0o10000000;
/** preadv2/pwritev2 and the read/write `rw_flags`: fail with EAGAIN rather than wait. */
export const RWF_NOWAIT = 0x8;
