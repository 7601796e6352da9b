/*
 * NFSv3 load client for the NFS benchmarks, in C on libnfs' raw async API so
 * that the client costs little next to the server it measures (a Node client
 * needs about as much CPU as the server and shares the same cores).
 *
 * One TCP connection to MOUNT (to get the export's root handle) and one to
 * NFS (or --connections C, the calls in flight spread over them: a server
 * with worker threads serves each connection on one thread), AUTH_SYS as the
 * calling user, N calls kept in flight from a poll loop.
 * Built by bench/lib/c-client.js with gcc against libnfs-dev when a bench
 * runs; never committed as a binary.
 *
 *   nfs-bench --export PATH --file NAME --op read|random|getattr|lookup|write|walk
 *             [--host 127.0.0.1] [--nfs-port 2049] [--mount-port 20048]
 *             [--io BYTES] [--inflight N] [--size BYTES] [--seconds S]
 *             [--warm-ms MS] [--count N] [--stable 0|1|2] [--connections C] [--pause] [--dir PATH]
 *
 * Prints one JSON line: opsPerSecond, MBps (of the timed part), bytes and ops
 * (all, warm-up included, as the server's CPU time is), measuredBytes,
 * measuredOps, seconds, clientCpuSeconds (timed part). read/random/getattr/lookup run --warm-ms first (not
 * counted), then --seconds (or exactly --count calls). write times from the
 * first WRITE to the reply of the COMMIT that follows UNSTABLE writes (with
 * --pause, after --warm-ms of writes). With
 * --pause it prints "ready" after the warm-up and waits for a line on stdin
 * (bench/nfs-cost.js attaches its counters to the server meanwhile).
 *
 * walk lists the whole export once as libnfs' `nfs-ls -R` does (its
 * nfs_opendir per directory): the directory's path resolved from the root
 * handle by one LOOKUP per component, READDIRPLUS pages with dircount and
 * maxcount 8192 until eof, a LOOKUP for every entry that came without
 * attributes, then each subdirectory in turn; one call in flight. It starts
 * at --dir (a path from the export root, which its own LOOKUPs resolve too) or
 * at the root; --file is not used; --pause waits before the walk instead. It prints walkMs, the calls by procedure (readdirplus, lookup),
 * the entries and directories seen, and clientCpuSeconds.
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

enum op { OP_READ, OP_RANDOM, OP_GETATTR, OP_LOOKUP, OP_WRITE, OP_WALK };

static const char *host = "127.0.0.1";
static int nfs_port = 2049, mount_port = 20048;
static const char *export_path, *file_name, *walk_from;
static enum op op = OP_READ;
static uint32_t io = 1024 * 1024;
static int inflight = 1;
static uint64_t size;
static double seconds = 3, warm_ms = 300;
static long long count;
static int stable = 0, pause_after_warm;

static struct rpc_context *nfs;
/* The NFS connections calls go out on (conns[0] is nfs); a reply's next call goes on its connection. */
#define MAX_CONNECTIONS 64
static struct rpc_context *conns[MAX_CONNECTIONS];
static int nconns = 1;
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

static void issue(struct rpc_context *on);

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
  if (!stopping) issue(rpc);
}

static void issue(struct rpc_context *on) {
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
    rc = rpc_nfs3_read_async(on, replied, &a, NULL);
    break;
  }
  case OP_GETATTR: {
    GETATTR3args a = { .object = file_fh };
    rc = rpc_nfs3_getattr_async(on, replied, &a, NULL);
    break;
  }
  case OP_LOOKUP: {
    LOOKUP3args a = { .what = { .dir = root_fh, .name = (char *)file_name } };
    rc = rpc_nfs3_lookup_async(on, replied, &a, NULL);
    break;
  }
  default: {
    WRITE3args a = { .file = file_fh, .offset = offset, .count = io, .stable = stable };
    a.data.data_len = io;
    a.data.data_val = write_buf;
    rc = rpc_nfs3_write_async(on, replied, &a, NULL);
  }
  }
  if (rc != 0) die("queue call", rpc_get_error(on));
  outstanding++;
}


/* ---- walk: a cold `nfs-ls -R` ---- */

#define WALK_MAX_DEPTH 64
#define WALK_PATH_MAX 4096

static long long walk_lookups, walk_readdirplus, walk_entries, walk_dirs;

struct walk_entry {
  char *name;
  int has_attr;
  ftype3 type;
};

struct walk_page {
  int done;
  struct walk_entry *entries;
  size_t n, cap;
  cookie3 last_cookie;
  cookieverf3 verf;
  int eof;
};

struct walk_lookup {
  int done;
  nfs_fh3 fh;
  int has_attr;
  ftype3 type;
};

static void walk_looked_up(struct rpc_context *rpc, int status, void *data, void *priv) {
  struct walk_lookup *w = priv;
  LOOKUP3res *r = data;
  (void)rpc;
  if (status != RPC_STATUS_SUCCESS) die("LOOKUP", status == RPC_STATUS_ERROR ? data : "cancelled or timed out");
  if (r->status != NFS3_OK) die("LOOKUP", nfsstat3_to_str(r->status));
  copy_fh(&w->fh, r->LOOKUP3res_u.resok.object.data.data_val, r->LOOKUP3res_u.resok.object.data.data_len);
  w->has_attr = r->LOOKUP3res_u.resok.obj_attributes.attributes_follow;
  w->type = w->has_attr ? r->LOOKUP3res_u.resok.obj_attributes.post_op_attr_u.attributes.type : 0;
  w->done = 1;
}

/* One LOOKUP of `name` in `dir`, waited for. */
static struct walk_lookup walk_lookup(nfs_fh3 dir, char *name) {
  struct walk_lookup w = { 0 };
  LOOKUP3args a = { .what = { .dir = dir, .name = name } };
  if (rpc_nfs3_lookup_async(nfs, walk_looked_up, &a, &w) != 0) die("LOOKUP", rpc_get_error(nfs));
  walk_lookups++;
  wait_for(nfs, &w.done);
  return w;
}

static void walk_listed(struct rpc_context *rpc, int status, void *data, void *priv) {
  struct walk_page *p = priv;
  READDIRPLUS3res *r = data;
  (void)rpc;
  if (status != RPC_STATUS_SUCCESS) die("READDIRPLUS", status == RPC_STATUS_ERROR ? data : "cancelled or timed out");
  if (r->status != NFS3_OK) die("READDIRPLUS", nfsstat3_to_str(r->status));
  for (entryplus3 *e = r->READDIRPLUS3res_u.resok.reply.entries; e; e = e->nextentry) {
    p->last_cookie = e->cookie;
    if (!strcmp(e->name, ".") || !strcmp(e->name, "..")) continue;
    if (p->n == p->cap) {
      p->cap = p->cap ? p->cap * 2 : 64;
      p->entries = realloc(p->entries, p->cap * sizeof *p->entries);
      if (!p->entries) die("READDIRPLUS", "out of memory");
    }
    struct walk_entry *w = &p->entries[p->n++];
    w->name = strdup(e->name);
    w->has_attr = e->name_attributes.attributes_follow;
    w->type = w->has_attr ? e->name_attributes.post_op_attr_u.attributes.type : 0;
  }
  memcpy(p->verf, r->READDIRPLUS3res_u.resok.cookieverf, sizeof p->verf);
  p->eof = r->READDIRPLUS3res_u.resok.reply.eof;
  p->done = 1;
}

/* Lists the directory at `path` (components from the export root joined by '/') and then each subdirectory. */
static void walk_dir(char *path, int depth) {
  nfs_fh3 fh = root_fh;
  char *comp = path;
  walk_dirs++;
  /* libnfs resolves every opendir's path from the root, one LOOKUP per component. */
  while (*comp) {
    char *slash = strchr(comp, '/');
    if (slash) *slash = 0;
    struct walk_lookup w = walk_lookup(fh, comp);
    if (fh.data.data_val != root_fh.data.data_val) free(fh.data.data_val);
    fh = w.fh;
    if (!slash) break;
    *slash = '/';
    comp = slash + 1;
  }
  struct walk_page p = { 0 };
  while (!p.eof) {
    READDIRPLUS3args a = { .dir = fh, .cookie = p.last_cookie, .dircount = 8192, .maxcount = 8192 };
    memcpy(a.cookieverf, p.verf, sizeof p.verf);
    p.done = 0;
    if (rpc_nfs3_readdirplus_async(nfs, walk_listed, &a, &p) != 0) die("READDIRPLUS", rpc_get_error(nfs));
    walk_readdirplus++;
    wait_for(nfs, &p.done);
  }
  walk_entries += p.n;
  for (size_t i = 0; i < p.n; i++) {
    if (p.entries[i].has_attr) continue;
    struct walk_lookup w = walk_lookup(fh, p.entries[i].name);
    p.entries[i].type = w.type;
    free(w.fh.data.data_val);
  }
  size_t len = strlen(path);
  for (size_t i = 0; i < p.n; i++) {
    if (p.entries[i].type == NF3DIR) {
      if (depth >= WALK_MAX_DEPTH) die("walk", "deeper than 64 directories");
      char *sub = malloc(WALK_PATH_MAX);
      if (!sub) die("walk", "out of memory");
      if (snprintf(sub, WALK_PATH_MAX, len ? "%s/%s" : "%s%s", path, p.entries[i].name) >= WALK_PATH_MAX) die("walk", "path too long");
      walk_dir(sub, depth + 1);
      free(sub);
    }
    free(p.entries[i].name);
  }
  free(p.entries);
  if (fh.data.data_val != root_fh.data.data_val) free(fh.data.data_val);
}

static void committed(struct rpc_context *rpc, int status, void *data, void *priv) {
  (void)rpc;
  if (status != RPC_STATUS_SUCCESS) die("COMMIT", data);
  if (((COMMIT3res *)data)->status != NFS3_OK) die("COMMIT", nfsstat3_to_str(((COMMIT3res *)data)->status));
  *(int *)priv = 1;
}

/* One poll over every NFS connection, then each serviced. */
static void service_all(void) {
  struct pollfd pfd[MAX_CONNECTIONS];
  for (int i = 0; i < nconns; i++) pfd[i] = (struct pollfd){ .fd = rpc_get_fd(conns[i]), .events = rpc_which_events(conns[i]) };
  if (poll(pfd, nconns, 1000) < 0 && errno != EINTR) die("poll", strerror(errno));
  for (int i = 0; i < nconns; i++)
    if (rpc_service(conns[i], pfd[i].revents) < 0) die("rpc_service", rpc_get_error(conns[i]));
}

/* Keeps `inflight` calls going until stopping is set and all have replied. */
static void run_until_stopped(void) {
  stopping = 0;
  for (int i = 0; i < inflight; i++) issue(conns[i % nconns]);
  while (outstanding > 0) service_all();
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* --warm-ms of calls, counted nowhere, then with --pause "ready" and a wait for a line on stdin. */
static void warm_up_and_pause(void) {
  if (warm_ms > 0) {
    t_end = now() + warm_ms / 1000;
    counting = 0;
    stopping = 0;
    for (int i = 0; i < inflight; i++) issue(conns[i % nconns]);
    while (outstanding > 0) {
      service_all();
      if (now() >= t_end) stopping = 1;
    }
  }
  if (pause_after_warm) {
    char line[16];
    printf("ready\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) die("--pause", "stdin closed");
  }
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
    else if (!strcmp(a, "--dir")) walk_from = v;
    else if (!strcmp(a, "--io")) io = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--inflight")) inflight = atoi(v);
    else if (!strcmp(a, "--size")) size = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--seconds")) seconds = atof(v);
    else if (!strcmp(a, "--warm-ms")) warm_ms = atof(v);
    else if (!strcmp(a, "--count")) count = atoll(v);
    else if (!strcmp(a, "--stable")) stable = atoi(v);
    else if (!strcmp(a, "--connections")) nconns = atoi(v);
    else if (!strcmp(a, "--op")) {
      if (!strcmp(v, "read")) op = OP_READ;
      else if (!strcmp(v, "random")) op = OP_RANDOM;
      else if (!strcmp(v, "getattr")) op = OP_GETATTR;
      else if (!strcmp(v, "lookup")) op = OP_LOOKUP;
      else if (!strcmp(v, "write")) op = OP_WRITE;
      else if (!strcmp(v, "walk")) op = OP_WALK;
      else die("--op", "expected read, random, getattr, lookup, write or walk");
    } else die(a, "unknown option");
  }
  if (!export_path || (!file_name && op != OP_WALK)) die("usage", "--export PATH and --file NAME are required");
  if (inflight < 1 || inflight > 1024 || io < 1 || io > 64 * 1024 * 1024) die("usage", "--inflight 1-1024, --io 1-64 MiB");
  if ((op == OP_READ || op == OP_RANDOM || op == OP_WRITE) && size < io) die("usage", "--size must be at least --io");
  if (nconns < 1 || nconns > MAX_CONNECTIONS) die("usage", "--connections 1-64");

  struct rpc_context *mnt = connect_to(mount_port);
  int done = 0;
  if (rpc_mount3_mnt_async(mnt, mounted, (char *)export_path, &done) != 0) die("MNT", rpc_get_error(mnt));
  wait_for(mnt, &done);
  rpc_destroy_context(mnt);

  nfs = connect_to(nfs_port);
  conns[0] = nfs;
  for (int i = 1; i < nconns; i++) conns[i] = connect_to(nfs_port);
  if (op == OP_WALK) {
    char *top = strdup(walk_from ? walk_from : "");
    if (pause_after_warm) {
      char line[16];
      printf("ready\n");
      fflush(stdout);
      if (!fgets(line, sizeof line, stdin)) die("--pause", "stdin closed");
    }
    double cpu0 = cpu_seconds(), t0 = now();
    walk_dir(top, 0);
    free(top);
    double s = now() - t0;
    long long calls = walk_readdirplus + walk_lookups;
    printf("{\"walkMs\":%.2f,\"readdirplus\":%lld,\"lookup\":%lld,\"calls\":%lld,\"entries\":%lld,\"dirs\":%lld,"
           "\"measuredOps\":%lld,\"opsPerSecond\":%.0f,\"seconds\":%.3f,\"clientCpuSeconds\":%.3f}\n",
           s * 1000, walk_readdirplus, walk_lookups, calls, walk_entries, walk_dirs, calls, calls / s, s, cpu_seconds() - cpu0);
    rpc_destroy_context(nfs);
    return 0;
  }
  LOOKUP3args la = { .what = { .dir = root_fh, .name = (char *)file_name } };
  done = 0;
  if (rpc_nfs3_lookup_async(nfs, looked_up, &la, &done) != 0) die("LOOKUP", rpc_get_error(nfs));
  wait_for(nfs, &done);

  if (op == OP_WRITE) {
    write_buf = malloc(io);
    for (uint32_t i = 0; i < io; i++) write_buf[i] = (char)(rng = rng * 1103515245u + 12345u) >> 16;
    /* Only with --pause (a cost count): the plain timing starts cold, as the MB/s figures always have. */
    if (pause_after_warm) warm_up_and_pause();
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

  warm_up_and_pause();
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
