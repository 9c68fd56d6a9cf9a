/**
 * The neutral symbol tables of the native libraries this project calls:
 * the system liburing (raw syscall wrappers only), libc, and ISA-L.
 *
 * @module
 */
import type { SymbolTable } from "./types.ts";

/**
 * liburing's raw syscall wrappers. They return the result or `-errno`
 * directly, so no errno read is needed on the hot path.
 *
 * @example
 * ```ts
 * import { LIBURING_SYMBOLS } from "./symbols.ts";
 * LIBURING_SYMBOLS.io_uring_enter.args.length; // 5
 * ```
 */
export const LIBURING_SYMBOLS = {
  /** int io_uring_setup(unsigned entries, struct io_uring_params *p) */
  io_uring_setup: { args: ["u32", "buffer"], result: "i32" },
  /** int io_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, sigset_t *sig) */
  io_uring_enter: {
    args: ["i32", "u32", "u32", "u32", "address"],
    result: "i32",
  },
  /** int io_uring_enter2(fd, to_submit, min_complete, flags, void *arg, size_t sz) */
  io_uring_enter2: {
    args: ["i32", "u32", "u32", "u32", "address", "u64"],
    result: "i32",
  },
  /** int io_uring_register(int fd, unsigned opcode, const void *arg, unsigned nr_args) */
  io_uring_register: {
    args: ["i32", "u32", "address", "u32"],
    result: "i32",
  },
} as const satisfies SymbolTable;

/**
 * libc functions. These report failure through errno (read with
 * `__errno_location` right after the call, on the same thread).
 *
 * @example
 * ```ts
 * import { LIBC_SYMBOLS } from "./symbols.ts";
 * LIBC_SYMBOLS.mmap.result; // "address"
 * ```
 */
export const LIBC_SYMBOLS = {
  mmap: {
    args: ["address", "u64", "i32", "i32", "i32", "i64"],
    result: "address",
  },
  munmap: { args: ["address", "u64"], result: "i32" },
  open: { args: ["buffer", "i32", "u32"], result: "i32" },
  close: { args: ["i32"], result: "i32" },
  read: { args: ["i32", "address", "u64"], result: "i64" },
  write: { args: ["i32", "address", "u64"], result: "i64" },
  /** ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags): RWF_NOWAIT reads of cached data */
  preadv2: { args: ["i32", "address", "i32", "i64", "i32"], result: "i64" },
  /** ssize_t pread(int fd, void *buf, size_t count, off_t offset): reads of tmpfs files on the JS thread (sys/read_now.ts) */
  pread: { args: ["i32", "address", "u64", "i64"], result: "i64" },
  /** int fstatfs(int fd, struct statfs *buf): which file system a file is on */
  fstatfs: { args: ["i32", "buffer"], result: "i32" },
  pipe2: { args: ["buffer", "i32"], result: "i32" },
  eventfd: { args: ["u32", "i32"], result: "i32" },
  ioctl: { args: ["i32", "u64", "address"], result: "i32" },
  fcntl: { args: ["i32", "i32", "i64"], result: "i32" },
  fstat: { args: ["i32", "buffer"], result: "i32" },
  /** int ftruncate(int fd, off_t length) */
  ftruncate: { args: ["i32", "i64"], result: "i32" },
  /** int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf) (glibc 2.28) */
  statx: { args: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  getrlimit: { args: ["i32", "buffer"], result: "i32" },
  /** int clock_gettime(clockid_t clock, struct timespec *ts) (vDSO: no system call) */
  clock_gettime: { args: ["i32", "buffer"], result: "i32" },
  __errno_location: { args: [], result: "address" },
  uname: { args: ["buffer"], result: "i32" },
  malloc: { args: ["u64"], result: "address" },
  free: { args: ["address"], result: "void" },
  memcpy: { args: ["address", "address", "u64"], result: "address" },
  /** pid_t gettid(void) (glibc 2.30) */
  gettid: { args: [], result: "i32" },
  /** int prctl(int option, unsigned long arg2, ...) (variadic: every argument passed as a long) */
  prctl: { args: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  /** int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data) */
  mount: {
    args: ["buffer", "buffer", "buffer", "u64", "buffer"],
    result: "i32",
  },
  /** int poll(struct pollfd *fds, nfds_t nfds, int timeout) */
  poll: { args: ["buffer", "u64", "i32"], result: "i32" },
  /** long syscall(long number, ...): for calls glibc has no wrapper for (seccomp, openat2); unused trailing arguments are passed as 0 */
  syscall: { args: ["i64", "i64", "i64", "address", "u64"], result: "i64" },
  /** DIR *opendir(const char *name): /proc listings without a runtime permission */
  opendir: { args: ["buffer"], result: "address" },
  /** struct dirent *readdir(DIR *dirp) */
  readdir: { args: ["address"], result: "address" },
  /** int closedir(DIR *dirp) */
  closedir: { args: ["address"], result: "i32" },
  /** ssize_t readlink(const char *path, char *buf, size_t size) */
  readlink: { args: ["buffer", "buffer", "u64"], result: "i64" },
} as const satisfies SymbolTable;

/**
 * The blocking file calls of the fallback backend (used when io_uring is
 * unavailable). They run on the threads of a `BlockingIo` pool, never on
 * the JS thread, and report failure through the calling thread's errno.
 *
 * @example
 * ```ts
 * import { BLOCKING_IO_SYMBOLS } from "./symbols.ts";
 * BLOCKING_IO_SYMBOLS.pread.args.length; // 4
 * ```
 */
export const BLOCKING_IO_SYMBOLS = {
  read: { args: ["i32", "address", "u64"], result: "i64" },
  write: { args: ["i32", "address", "u64"], result: "i64" },
  pread: { args: ["i32", "address", "u64", "i64"], result: "i64" },
  pwrite: { args: ["i32", "address", "u64", "i64"], result: "i64" },
  readv: { args: ["i32", "address", "i32"], result: "i64" },
  writev: { args: ["i32", "address", "i32"], result: "i64" },
  preadv: { args: ["i32", "address", "i32", "i64"], result: "i64" },
  pwritev: { args: ["i32", "address", "i32", "i64"], result: "i64" },
  fsync: { args: ["i32"], result: "i32" },
  fdatasync: { args: ["i32"], result: "i32" },
  openat: { args: ["i32", "address", "i32", "u32"], result: "i32" },
  close: { args: ["i32"], result: "i32" },
  statx: {
    args: ["i32", "address", "i32", "u32", "address"],
    result: "i32",
  },
  /** int fallocate(int fd, int mode, off_t offset, off_t len) */
  fallocate: { args: ["i32", "i32", "i64", "i64"], result: "i32" },
  /** int ftruncate(int fd, off_t length) */
  ftruncate: { args: ["i32", "i64"], result: "i32" },
  /**
   * ssize_t copy_file_range(int fd_in, off64_t *off_in, int fd_out,
   * off64_t *off_out, size_t len, unsigned int flags)
   */
  copy_file_range: {
    args: ["i32", "address", "i32", "address", "u64", "u32"],
    result: "i64",
  },
  /** int poll(struct pollfd *fds, nfds_t nfds, int timeout): waits for the fd or a cancel */
  poll: { args: ["address", "u64", "i32"], result: "i32" },
  /** preadv2/pwritev2 with RWF_NOWAIT: a pipe or socket read that cannot block */
  preadv2: { args: ["i32", "address", "i32", "i64", "i32"], result: "i64" },
  pwritev2: { args: ["i32", "address", "i32", "i64", "i32"], result: "i64" },
  __errno_location: { args: [], result: "address" },
} as const satisfies SymbolTable;

/**
 * ISA-L checksum kernels (Debian `libisal2`), used when present.
 *
 * @example
 * ```ts
 * import { ISAL_SYMBOLS } from "./symbols.ts";
 * ISAL_SYMBOLS.crc16_t10dif.args; // ["u16", "buffer", "u64"]
 * ```
 */
export const ISAL_SYMBOLS = {
  /** uint16_t crc16_t10dif(uint16_t init_crc, const unsigned char *buf, uint64_t len) */
  crc16_t10dif: { args: ["u16", "buffer", "u64"], result: "u16" },
  /** unsigned int crc32_iscsi(unsigned char *buffer, int len, unsigned int init_crc) */
  crc32_iscsi: { args: ["buffer", "i32", "u32"], result: "u32" },
} as const satisfies SymbolTable;
