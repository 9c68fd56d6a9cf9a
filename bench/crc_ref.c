/*
 * ISA-L called from C: the ceiling the TypeScript binding is measured
 * against (bench/crc_bench.ts runs this and prints the ratios).
 *
 * Prints one JSON object: GB/s of crc16_t10dif and crc32_iscsi over a
 * 1 MiB and a 32 MiB buffer, and over a 1 MiB buffer in 512 B and 4 KiB
 * pieces (one call per protection interval, as a PI generator makes them).
 *
 * Build: gcc -O2 -o bench/out/crc_ref bench/crc_ref.c -lisal
 */
#include <isa-l/crc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Keeps the compiler from dropping calls whose results are unused. */
static volatile uint32_t sink;

enum kind { CRC16, CRC32C };

static void run_once(enum kind kind, const unsigned char *buf, size_t len,
                     size_t piece) {
  uint32_t acc = 0;
  for (size_t at = 0; at < len; at += piece) {
    if (kind == CRC16)
      acc ^= crc16_t10dif(0, buf + at, piece);
    else
      acc ^= crc32_iscsi((unsigned char *)buf + at, (int)piece, 0xffffffffu);
  }
  sink = acc;
}

/* Best of 5 rounds of at least 0.1 s each: the least disturbed rate. */
static double gbps(enum kind kind, const unsigned char *buf, size_t len,
                   size_t piece) {
  double best = 0;
  for (int round = 0; round < 5; round++) {
    long reps = 0;
    double start = now_seconds(), elapsed;
    do {
      run_once(kind, buf, len, piece);
      reps++;
      elapsed = now_seconds() - start;
    } while (elapsed < 0.1);
    double rate = (double)len * reps / elapsed / 1e9;
    if (rate > best) best = rate;
  }
  return best;
}

int main(void) {
  const size_t mib = 1 << 20, big = 32 << 20;
  unsigned char *buf = malloc(big);
  if (buf == NULL) return 1;
  uint32_t x = 2463534242u; /* xorshift32: reproducible, not all zeros */
  for (size_t i = 0; i < big; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    buf[i] = (unsigned char)x;
  }
  printf("{\"crc16_1m\": %.3f, \"crc32c_1m\": %.3f, ",
         gbps(CRC16, buf, mib, mib), gbps(CRC32C, buf, mib, mib));
  printf("\"crc16_32m\": %.3f, \"crc32c_32m\": %.3f, ",
         gbps(CRC16, buf, big, big), gbps(CRC32C, buf, big, big));
  printf("\"crc16_512\": %.3f, \"crc32c_512\": %.3f, ",
         gbps(CRC16, buf, mib, 512), gbps(CRC32C, buf, mib, 512));
  printf("\"crc16_4k\": %.3f, \"crc32c_4k\": %.3f}\n",
         gbps(CRC16, buf, mib, 4096), gbps(CRC32C, buf, mib, 4096));
  free(buf);
  return 0;
}
