/*
 * NOP submit+reap with C liburing: the reference for bench/nop.ts.
 *
 *   nop_ref BATCH OPS      prints "ops_per_sec N"
 *
 * Each round prepares BATCH NOPs, submits them with one
 * io_uring_submit_and_wait(BATCH) and reaps them with
 * io_uring_for_each_cqe + io_uring_cq_advance, until OPS operations are done.
 * The ring is set up with the same flags the TypeScript side uses (none but
 * NO_SQARRAY where the kernel has it: liburing 2.5+ asks for it itself).
 */
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s BATCH OPS\n", argv[0]);
    return 2;
  }
  unsigned batch = (unsigned)atoi(argv[1]);
  long ops = atol(argv[2]);
  if (batch < 1 || ops < 1) {
    fprintf(stderr, "BATCH and OPS must be positive\n");
    return 2;
  }
  unsigned entries = batch < 128 ? 128 : batch;
  struct io_uring ring;
  int ret = io_uring_queue_init(entries, &ring, 0);
  if (ret < 0) {
    fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-ret));
    return 1;
  }
  unsigned long long sink = 0;
  long done = 0;
  double start = now();
  while (done < ops) {
    for (unsigned i = 0; i < batch; i++) {
      struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
      io_uring_prep_nop(sqe);
      sqe->user_data = i;
    }
    ret = io_uring_submit_and_wait(&ring, batch);
    if (ret < 0) {
      fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-ret));
      return 1;
    }
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      sink += cqe->user_data + (unsigned)cqe->res;
      seen++;
    }
    io_uring_cq_advance(&ring, seen);
    done += seen;
  }
  double elapsed = now() - start;
  printf("ops_per_sec %.0f\n", done / elapsed);
  io_uring_queue_exit(&ring);
  return sink == 0xffffffffffffffffULL; /* keeps the reads alive */
}
