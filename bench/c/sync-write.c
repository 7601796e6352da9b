/* What the disk and file system under an export give a local writer of
 * stable writes, the limit of bench/nfs-write.js's FILE_SYNC cells:
 * --threads threads each write the next 1 MiB of --file (cycling through its
 * first --size bytes, the file empty at the start, as the bench's NFS writes
 * do) for --seconds, each write one pwritev2 with RWF_SYNC (--stable 2,
 * FILE_SYNC, as knfsd and netboot write such a call; Ganesha makes a pwritev
 * and an fsync) or RWF_DSYNC (--stable 1, DATA_SYNC). No network, no RPC:
 * what is left is the copy into the page cache and the flushes. Prints one JSON line: MB/s, bytes, writes, seconds, this
 * process's CPU microseconds per write (getrusage) and the cache flushes the
 * file's block device completed per write (its /sys stat; every process's).
 *
 *   sync-write --file PATH --threads N --size BYTES --seconds S --stable 1|2
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif
#ifndef RWF_SYNC
#define RWF_SYNC 0x00000004
#endif

#define MIB (1024 * 1024)
#define MAX_THREADS 64

static int fd;
static int rwf;
static long slots;
static double end_at;
static atomic_long next_slot;
static atomic_long writes;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "sync-write: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void *writer(void *arg) {
  (void)arg;
  char *buf;
  if (posix_memalign((void **)&buf, 4096, MIB) != 0) die("posix_memalign");
  memset(buf, 0x5a, MIB);
  while (now() < end_at) {
    off_t at = (off_t)(atomic_fetch_add(&next_slot, 1) % slots) * MIB;
    struct iovec iov = {.iov_base = buf, .iov_len = MIB};
    size_t done = 0;
    while (done < MIB) {
      iov.iov_base = buf + done;
      iov.iov_len = MIB - done;
      ssize_t n = pwritev2(fd, &iov, 1, at + (off_t)done, rwf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) die("pwritev2");
      done += (size_t)n;
    }
    atomic_fetch_add(&writes, 1);
  }
  free(buf);
  return NULL;
}

/* Cache flushes completed by the block device holding `path` (field 16 of its stat), or -1. */
static long device_flushes(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return -1;
  char p[96];
  snprintf(p, sizeof p, "/sys/dev/block/%u:%u/stat", major(st.st_dev), minor(st.st_dev));
  FILE *f = fopen(p, "r");
  if (!f) return -1;
  long v[17] = {0};
  int got = 0;
  while (got < 17 && fscanf(f, "%ld", &v[got]) == 1) got++;
  fclose(f);
  return got >= 16 ? v[15] : -1;
}

static double cpu_seconds(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) + (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
  const char *file = NULL;
  long threads = 4, stable = 2;
  long long size = 256LL * MIB;
  double seconds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--file")) file = argv[i + 1];
    else if (!strcmp(argv[i], "--threads")) threads = strtol(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--size")) size = strtoll(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--seconds")) seconds = strtod(argv[i + 1], NULL);
    else if (!strcmp(argv[i], "--stable")) stable = strtol(argv[i + 1], NULL, 10);
    else {
      fprintf(stderr, "sync-write: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (!file || threads < 1 || threads > MAX_THREADS || size < MIB || !(seconds > 0 && seconds <= 60) || stable < 1 || stable > 2) {
    fprintf(stderr, "usage: sync-write --file PATH --threads 1-%d --size BYTES (>= 1 MiB) --seconds S (0-60] --stable 1|2\n", MAX_THREADS);
    return 2;
  }
  slots = (long)(size / MIB);
  rwf = stable == 2 ? RWF_SYNC : RWF_DSYNC;
  fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) die(file);
  long flushes0 = device_flushes(file);
  double cpu0 = cpu_seconds();
  double t0 = now();
  end_at = t0 + seconds;
  pthread_t tids[MAX_THREADS];
  for (long i = 0; i < threads; i++) {
    errno = pthread_create(&tids[i], NULL, writer, NULL);
    if (errno != 0) die("pthread_create");
  }
  for (long i = 0; i < threads; i++) pthread_join(tids[i], NULL);
  double elapsed = now() - t0;
  double cpu = cpu_seconds() - cpu0;
  long flushes1 = device_flushes(file);
  long n = atomic_load(&writes);
  close(fd);
  if (unlink(file) != 0) die("unlink");
  char flushes[32] = "null";
  if (flushes0 >= 0 && flushes1 >= 0 && n > 0) snprintf(flushes, sizeof flushes, "%.2f", (double)(flushes1 - flushes0) / (double)n);
  printf("{\"MBps\":%.0f,\"bytes\":%lld,\"writes\":%ld,\"seconds\":%.3f,\"cpuUsPerWrite\":%.1f,\"deviceFlushesPerWrite\":%s}\n",
         (double)n * MIB / 1e6 / elapsed, (long long)n * MIB, n, elapsed, n > 0 ? cpu * 1e6 / (double)n : 0.0, flushes);
  return 0;
}
