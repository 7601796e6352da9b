/*
 * NFSv3 load client for the NFS benchmarks, in C on libnfs' raw async API so
 * that the client costs little next to the server it measures (a Node client
 * needs about as much CPU as the server and shares the same cores).
 *
 * One TCP connection to MOUNT (to get the export's root handle) and one to
 * NFS, AUTH_SYS as the calling user, N calls kept in flight from a poll loop.
 * Built by bench/lib/c-client.js with gcc against libnfs-dev when a bench
 * runs; never committed as a binary.
 *
 *   nfs-bench --export PATH --file NAME --op read|random|getattr|lookup|write
 *             [--host 127.0.0.1] [--nfs-port 2049] [--mount-port 20048]
 *             [--io BYTES] [--inflight N] [--size BYTES] [--seconds S]
 *             [--warm-ms MS] [--count N] [--stable 0|1|2] [--pause]
 *
 * Prints one JSON line: opsPerSecond, MBps (of the timed part), bytes and ops
 * (all, warm-up included, as the server's CPU time is), measuredBytes,
 * measuredOps, seconds, clientCpuSeconds (timed part). read/random/getattr/lookup run --warm-ms first (not
 * counted), then --seconds (or exactly --count calls). write times from the
 * first WRITE to the reply of the COMMIT that follows UNSTABLE writes. With
 * --pause it prints "ready" after the warm-up and waits for a line on stdin
 * (bench/nfs-cost.js attaches its counters to the server meanwhile).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-mount.h>
#include <nfsc/libnfs-raw-nfs.h>

enum op { OP_READ, OP_RANDOM, OP_GETATTR, OP_LOOKUP, OP_WRITE };

static const char *host = "127.0.0.1";
static int nfs_port = 2049, mount_port = 20048;
static const char *export_path, *file_name;
static enum op op = OP_READ;
static uint32_t io = 1024 * 1024;
static int inflight = 1;
static uint64_t size;
static double seconds = 3, warm_ms = 300;
static long long count;
static int stable = 0, pause_after_warm;

static struct rpc_context *nfs;
static nfs_fh3 root_fh, file_fh;
static char *write_buf;
static uint64_t next_offset;
static int outstanding, stopping, counting, failed;
static long long ops, all_ops;
static uint64_t bytes, all_bytes;
static double t_end;
static unsigned rng = 12345;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why) {
  fprintf(stderr, "nfs-bench: %s: %s\n", what, why ? why : "(no detail)");
  exit(1);
}

/* Runs the poll loop until *done is set. */
static void wait_for(struct rpc_context *rpc, int *done) {
  while (!*done) {
    struct pollfd pfd = { .fd = rpc_get_fd(rpc), .events = rpc_which_events(rpc) };
    if (poll(&pfd, 1, 1000) < 0 && errno != EINTR) die("poll", strerror(errno));
    if (rpc_service(rpc, pfd.revents) < 0) die("rpc_service", rpc_get_error(rpc));
  }
}

static void connected(struct rpc_context *rpc, int status, void *data, void *priv) {
  (void)rpc;
  if (status != RPC_STATUS_SUCCESS) die("connect", data);
  *(int *)priv = 1;
}

static struct rpc_context *connect_to(int port) {
  struct rpc_context *rpc = rpc_init_context();
  int done = 0;
  if (!rpc) die("rpc_init_context", "out of memory");
  if (rpc_connect_async(rpc, host, port, connected, &done) != 0) die("connect", rpc_get_error(rpc));
  wait_for(rpc, &done);
  return rpc;
}

static void copy_fh(nfs_fh3 *to, const char *val, u_int len) {
  to->data.data_len = len;
  to->data.data_val = malloc(len);
  memcpy(to->data.data_val, val, len);
}

static void mounted(struct rpc_context *rpc, int status, void *data, void *priv) {
  mountres3 *r = data;
  (void)rpc;
  if (status != RPC_STATUS_SUCCESS) die("MNT", data);
  if (r->fhs_status != MNT3_OK) die("MNT", "the server refused the export");
  copy_fh(&root_fh, r->mountres3_u.mountinfo.fhandle.fhandle3_val, r->mountres3_u.mountinfo.fhandle.fhandle3_len);
  *(int *)priv = 1;
}

static void looked_up(struct rpc_context *rpc, int status, void *data, void *priv) {
  LOOKUP3res *r = data;
  (void)rpc;
  if (status != RPC_STATUS_SUCCESS) die("LOOKUP", data);
  if (r->status != NFS3_OK) die("LOOKUP", nfsstat3_to_str(r->status));
  copy_fh(&file_fh, r->LOOKUP3res_u.resok.object.data.data_val, r->LOOKUP3res_u.resok.object.data.data_len);
  *(int *)priv = 1;
}

static void issue(void);

/* One reply: count it, then keep the number in flight unless time is up. */
static void replied(struct rpc_context *rpc, int status, void *data, void *priv) {
  uint64_t n = 0;
  int nfsstatus;
  (void)priv;
  outstanding--;
  if (status != RPC_STATUS_SUCCESS) die("call", status == RPC_STATUS_ERROR ? data : "cancelled or timed out");
  switch (op) {
  case OP_READ:
  case OP_RANDOM: {
    READ3res *r = data;
    nfsstatus = r->status;
    if (nfsstatus == NFS3_OK) n = r->READ3res_u.resok.count;
    break;
  }
  case OP_GETATTR: nfsstatus = ((GETATTR3res *)data)->status; break;
  case OP_LOOKUP: nfsstatus = ((LOOKUP3res *)data)->status; break;
  default: {
    WRITE3res *r = data;
    nfsstatus = r->status;
    if (nfsstatus == NFS3_OK) n = r->WRITE3res_u.resok.count;
    if (nfsstatus == NFS3_OK && n != io) die("WRITE", "short write");
  }
  }
  (void)rpc;
  if (nfsstatus != NFS3_OK) {
    fprintf(stderr, "nfs-bench: call failed: %s\n", nfsstat3_to_str(nfsstatus));
    failed = 1;
    stopping = 1;
    return;
  }
  all_ops++;
  all_bytes += n;
  if (counting) {
    ops++;
    bytes += n;
    if (count > 0 ? ops + outstanding >= count : now() >= t_end) stopping = 1;
  }
  if (!stopping) issue();
}

static void issue(void) {
  int rc;
  uint64_t offset = 0;
  if (op == OP_READ || op == OP_WRITE) {
    offset = next_offset;
    next_offset += io;
    if (next_offset >= size) next_offset = 0;
  } else if (op == OP_RANDOM) {
    rng = rng * 1103515245u + 12345u;
    offset = ((uint64_t)(rng >> 1) % (size / io)) * io;
  }
  switch (op) {
  case OP_READ:
  case OP_RANDOM: {
    READ3args a = { .file = file_fh, .offset = offset, .count = io };
    rc = rpc_nfs3_read_async(nfs, replied, &a, NULL);
    break;
  }
  case OP_GETATTR: {
    GETATTR3args a = { .object = file_fh };
    rc = rpc_nfs3_getattr_async(nfs, replied, &a, NULL);
    break;
  }
  case OP_LOOKUP: {
    LOOKUP3args a = { .what = { .dir = root_fh, .name = (char *)file_name } };
    rc = rpc_nfs3_lookup_async(nfs, replied, &a, NULL);
    break;
  }
  default: {
    WRITE3args a = { .file = file_fh, .offset = offset, .count = io, .stable = stable };
    a.data.data_len = io;
    a.data.data_val = write_buf;
    rc = rpc_nfs3_write_async(nfs, replied, &a, NULL);
  }
  }
  if (rc != 0) die("queue call", rpc_get_error(nfs));
  outstanding++;
}

static void committed(struct rpc_context *rpc, int status, void *data, void *priv) {
  (void)rpc;
  if (status != RPC_STATUS_SUCCESS) die("COMMIT", data);
  if (((COMMIT3res *)data)->status != NFS3_OK) die("COMMIT", nfsstat3_to_str(((COMMIT3res *)data)->status));
  *(int *)priv = 1;
}

/* Keeps `inflight` calls going until stopping is set and all have replied. */
static void run_until_stopped(void) {
  stopping = 0;
  for (int i = 0; i < inflight; i++) issue();
  while (outstanding > 0) {
    struct pollfd pfd = { .fd = rpc_get_fd(nfs), .events = rpc_which_events(nfs) };
    if (poll(&pfd, 1, 1000) < 0 && errno != EINTR) die("poll", strerror(errno));
    if (rpc_service(nfs, pfd.revents) < 0) die("rpc_service", rpc_get_error(nfs));
  }
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--pause")) { pause_after_warm = 1; continue; }
    if (!v) die(a, "needs a value");
    i++;
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--nfs-port")) nfs_port = atoi(v);
    else if (!strcmp(a, "--mount-port")) mount_port = atoi(v);
    else if (!strcmp(a, "--export")) export_path = v;
    else if (!strcmp(a, "--file")) file_name = v;
    else if (!strcmp(a, "--io")) io = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--inflight")) inflight = atoi(v);
    else if (!strcmp(a, "--size")) size = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--seconds")) seconds = atof(v);
    else if (!strcmp(a, "--warm-ms")) warm_ms = atof(v);
    else if (!strcmp(a, "--count")) count = atoll(v);
    else if (!strcmp(a, "--stable")) stable = atoi(v);
    else if (!strcmp(a, "--op")) {
      if (!strcmp(v, "read")) op = OP_READ;
      else if (!strcmp(v, "random")) op = OP_RANDOM;
      else if (!strcmp(v, "getattr")) op = OP_GETATTR;
      else if (!strcmp(v, "lookup")) op = OP_LOOKUP;
      else if (!strcmp(v, "write")) op = OP_WRITE;
      else die("--op", "expected read, random, getattr, lookup or write");
    } else die(a, "unknown option");
  }
  if (!export_path || !file_name) die("usage", "--export PATH and --file NAME are required");
  if (inflight < 1 || inflight > 1024 || io < 1 || io > 64 * 1024 * 1024) die("usage", "--inflight 1-1024, --io 1-64 MiB");
  if ((op == OP_READ || op == OP_RANDOM || op == OP_WRITE) && size < io) die("usage", "--size must be at least --io");

  struct rpc_context *mnt = connect_to(mount_port);
  int done = 0;
  if (rpc_mount3_mnt_async(mnt, mounted, (char *)export_path, &done) != 0) die("MNT", rpc_get_error(mnt));
  wait_for(mnt, &done);
  rpc_destroy_context(mnt);

  nfs = connect_to(nfs_port);
  LOOKUP3args la = { .what = { .dir = root_fh, .name = (char *)file_name } };
  done = 0;
  if (rpc_nfs3_lookup_async(nfs, looked_up, &la, &done) != 0) die("LOOKUP", rpc_get_error(nfs));
  wait_for(nfs, &done);

  if (op == OP_WRITE) {
    write_buf = malloc(io);
    for (uint32_t i = 0; i < io; i++) write_buf[i] = (char)(rng = rng * 1103515245u + 12345u) >> 16;
    double t0 = now();
    counting = 1;
    t_end = t0 + seconds;
    run_until_stopped();
    if (!failed && stable == UNSTABLE) {
      COMMIT3args ca = { .file = file_fh, .offset = 0, .count = 0 };
      done = 0;
      if (rpc_nfs3_commit_async(nfs, committed, &ca, &done) != 0) die("COMMIT", rpc_get_error(nfs));
      wait_for(nfs, &done);
    }
    double s = now() - t0;
    printf("{\"opsPerSecond\":%.0f,\"MBps\":%.0f,\"bytes\":%llu,\"ops\":%lld,\"measuredBytes\":%llu,\"measuredOps\":%lld,"
           "\"seconds\":%.3f,\"clientCpuSeconds\":%.2f}\n",
           ops / s, bytes / 1e6 / s, (unsigned long long)bytes, ops, (unsigned long long)bytes, ops, s, cpu_seconds());
    rpc_destroy_context(nfs);
    return failed;
  }

  if (warm_ms > 0) {
    t_end = now() + warm_ms / 1000;
    counting = 0;
    /* warm-up: count nothing, stop at t_end */
    stopping = 0;
    for (int i = 0; i < inflight; i++) issue();
    while (outstanding > 0) {
      struct pollfd pfd = { .fd = rpc_get_fd(nfs), .events = rpc_which_events(nfs) };
      if (poll(&pfd, 1, 1000) < 0 && errno != EINTR) die("poll", strerror(errno));
      if (rpc_service(nfs, pfd.revents) < 0) die("rpc_service", rpc_get_error(nfs));
      if (now() >= t_end) stopping = 1;
    }
  }
  if (pause_after_warm) {
    char line[16];
    printf("ready\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) die("--pause", "stdin closed");
  }
  double cpu0 = cpu_seconds();
  double t0 = now();
  t_end = t0 + seconds;
  counting = 1;
  run_until_stopped();
  double s = now() - t0;
  printf("{\"opsPerSecond\":%.0f,\"MBps\":%.0f,\"bytes\":%llu,\"ops\":%lld,\"measuredBytes\":%llu,\"measuredOps\":%lld,"
         "\"seconds\":%.3f,\"clientCpuSeconds\":%.2f}\n",
         ops / s, bytes / 1e6 / s, (unsigned long long)all_bytes, all_ops, (unsigned long long)bytes, ops, s, cpu_seconds() - cpu0);
  rpc_destroy_context(nfs);
  return failed;
}
