/*
 * The file-system rules a POSIX client relies on, checked from inside the
 * diskless guest through the kernel's NFS client. Written for netboot's
 * tests; compiled statically at test time and copied into the node's root.
 *
 *   fscheck DIR [LOCKDIR]
 *
 * DIR is a fresh directory on the file system under test; LOCKDIR, when
 * given, one on an NFS mount with locking (NLM) for the lock checks. Each
 * check prints "FSCHECK-OK <id>" or "FSCHECK-FAIL <id> <what>"; the last
 * line is "FSCHECK-END ok=N fail=M". Runs as root; the unprivileged checks
 * switch the effective (file-system) ids and back, so the NFS client sends
 * those ids in AUTH_SYS.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define U1 1000 /* the unprivileged user the checks run as */
#define G1 1000
#define U2 2000 /* another unprivileged user */
#define G2 2000
#define G3 3000 /* a supplementary group of U1 */

static int oks, fails;

static void report(const char *id, int ok, const char *fmt, ...) {
  if (ok) {
    printf("FSCHECK-OK %s\n", id);
    oks++;
  } else {
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    printf("FSCHECK-FAIL %s %s\n", id, what);
    fails++;
  }
  fflush(stdout);
}

/* rc is a syscall's return; passes when it failed with errno e (or e2 when not 0). */
#define EXPECT_ERR(id, call, e, e2)                                                                    \
  do {                                                                                                  \
    errno = 0;                                                                                          \
    long rc_ = (long)(call);                                                                            \
    int er_ = errno;                                                                                    \
    report(id, rc_ == -1 && (er_ == (e) || ((e2) != 0 && er_ == (e2))), "%s: rc=%ld %s, wanted %s", #call, \
           rc_, rc_ == -1 ? strerror(er_) : "", strerror(e));                                           \
  } while (0)

#define EXPECT_OK(id, call)                                                            \
  do {                                                                                  \
    errno = 0;                                                                          \
    long rc_ = (long)(call);                                                            \
    report(id, rc_ != -1, "%s: %s", #call, rc_ == -1 ? strerror(errno) : ""); \
  } while (0)

static void die(const char *what) {
  printf("FSCHECK-FAIL setup %s: %s\n", what, strerror(errno));
  fflush(stdout);
  exit(2);
}

/* Acts as uid/gid (supplementary groups: extra, when not 0) until be_root(). */
static void be(uid_t uid, gid_t gid, gid_t extra) {
  gid_t groups[1] = {extra};
  if (seteuid(0) != 0) die("back to root first");
  if (setgroups(extra ? 1 : 0, groups) != 0 || setegid(gid) != 0 || seteuid(uid) != 0) die("switching ids");
}

static void be_root(void) {
  if (seteuid(0) != 0 || setegid(0) != 0 || setgroups(0, NULL) != 0) die("back to root");
}

static void drop_caches(void) {
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd >= 0) {
    if (write(fd, "3\n", 2) < 0) { /* best effort: attributes are revalidated anyway */
    }
    close(fd);
  }
}

static int touch(const char *path, mode_t mode) {
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
  if (fd < 0) return -1;
  return close(fd);
}

static int put(const char *path, const char *data) {
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return -1;
  ssize_t n = write(fd, data, strlen(data));
  close(fd);
  return n == (ssize_t)strlen(data) ? 0 : -1;
}

static mode_t mode_of(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static struct stat st_of(const char *path) {
  struct stat st;
  memset(&st, 0, sizeof st);
  if (lstat(path, &st) != 0) st.st_ino = 0;
  return st;
}

static int ts_eq(struct timespec a, struct timespec b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

/* Sets mtime and atime back to a fixed past time, so any later change shows. */
static int age(const char *path) {
  struct timespec t[2] = {{1000000000, 0}, {1000000000, 0}};
  return utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW);
}

static int ctime_aged(const char *path, struct timespec *before) {
  /* ctime cannot be set: wait until the clock moves past it (bounded). */
  struct stat st = st_of(path);
  *before = st.st_ctim;
  for (int i = 0; i < 200; i++) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec > before->tv_sec + 1) return 0;
    struct timespec nap = {0, 20 * 1000 * 1000};
    nanosleep(&nap, NULL);
  }
  return 0;
}

static int rm_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode)) return unlink(path);
  DIR *d = opendir(path);
  if (!d) return -1;
  struct dirent *e;
  char sub[PATH_MAX];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
    if (rm_tree(sub) != 0) {
      closedir(d);
      return -1;
    }
  }
  closedir(d);
  return rmdir(path);
}

static int count_entries(const char *path, const char *prefix) {
  DIR *d = opendir(path);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (!prefix || !strncmp(e->d_name, prefix, strlen(prefix))) n++;
  }
  closedir(d);
  return n;
}

/* ---- chmod ---- */
static void check_chmod(void) {
  struct timespec c0;
  touch("chmod.f", 0644);
  ctime_aged("chmod.f", &c0);
  EXPECT_OK("chmod-01", chmod("chmod.f", 0751));
  struct stat st = st_of("chmod.f");
  report("chmod-02", (st.st_mode & 07777) == 0751, "mode %o, wanted 751", st.st_mode & 07777);
  report("chmod-03", !ts_eq(st.st_ctim, c0), "ctime unchanged by chmod");
  symlink("chmod.f", "chmod.l");
  chmod("chmod.l", 0600);
  report("chmod-04", mode_of("chmod.f") == 0600 && S_ISLNK(st_of("chmod.l").st_mode), "chmod through a symlink: target %o", mode_of("chmod.f"));
  be(U1, G1, 0);
  EXPECT_ERR("chmod-05", chmod("chmod.f", 0777), EPERM, 0);
  be_root();
  touch("chmod.u", 0644);
  chown("chmod.u", U1, G1);
  be(U1, G1, 0);
  EXPECT_OK("chmod-06", chmod("chmod.u", 0640));
  /* An owner outside the file's group asking for setgid: the bit is dropped, the call succeeds. */
  be_root();
  chown("chmod.u", U1, G2);
  be(U1, G1, 0);
  int rc = chmod("chmod.u", 02755);
  be_root();
  report("chmod-07", rc == 0 && mode_of("chmod.u") == 0755, "setgid by a non-member owner: rc=%d mode %o, wanted 0755", rc, mode_of("chmod.u"));
  EXPECT_ERR("chmod-08", chmod("chmod.missing", 0644), ENOENT, 0);
  EXPECT_ERR("chmod-09", chmod("chmod.f/x", 0644), ENOTDIR, 0);
  /* A write by anyone without CAP_FSETID clears setuid and setgid (with group exec). */
  static const struct { const char *id; mode_t mode; mode_t after; } privs[] = {
      {"chmod-10", 04777, 0777}, {"chmod-11", 02777, 0777}, {"chmod-12", 06777, 0777}};
  for (unsigned i = 0; i < sizeof privs / sizeof privs[0]; i++) {
    touch("chmod.s", 0644);
    chmod("chmod.s", privs[i].mode);
    be(U1, G1, 0);
    int fd = open("chmod.s", O_WRONLY);
    ssize_t n = fd >= 0 ? write(fd, "x", 1) : -1;
    if (fd >= 0) close(fd);
    be_root();
    drop_caches();
    report(privs[i].id, n == 1 && mode_of("chmod.s") == privs[i].after, "a non-owner's write to a %o file: wrote %zd, mode now %o, wanted %o",
           privs[i].mode, n, mode_of("chmod.s"), privs[i].after);
    unlink("chmod.s");
  }
  touch("chmod.s", 0644);
  chown("chmod.s", U1, G1);
  chmod("chmod.s", 06777);
  be(U1, G1, 0);
  int fd = open("chmod.s", O_WRONLY);
  ssize_t n = fd >= 0 ? write(fd, "x", 1) : -1;
  if (fd >= 0) close(fd);
  be_root();
  drop_caches();
  report("chmod-13", n == 1 && mode_of("chmod.s") == 0777, "the owner's own write to a 6777 file: mode %o, wanted 777", mode_of("chmod.s"));
  chmod("chmod.s", 06777);
  fd = open("chmod.s", O_WRONLY);
  n = fd >= 0 ? write(fd, "y", 1) : -1;
  if (fd >= 0) close(fd);
  drop_caches();
  report("chmod-14", n == 1 && mode_of("chmod.s") == 06777, "root's write keeps setuid/setgid: mode %o", mode_of("chmod.s"));
}

/* ---- chown ---- */
static void check_chown(void) {
  touch("chown.f", 0644);
  EXPECT_OK("chown-01", chown("chown.f", U1, G1));
  drop_caches();
  struct stat st = st_of("chown.f");
  report("chown-02", st.st_uid == U1 && st.st_gid == G1, "owner %u:%u, wanted %u:%u", st.st_uid, st.st_gid, U1, G1);
  be(U2, G2, 0);
  EXPECT_ERR("chown-03", chown("chown.f", U2, -1), EPERM, 0);
  /* To the file's current owner: still refused to a non-owner. */
  EXPECT_ERR("chown-04", chown("chown.f", U1, -1), EPERM, 0);
  EXPECT_ERR("chown-05", chown("chown.f", -1, G1), EPERM, 0);
  be(U1, G1, G3);
  EXPECT_ERR("chown-06", chown("chown.f", U2, -1), EPERM, 0);
  EXPECT_OK("chown-07", chown("chown.f", -1, G3));
  EXPECT_ERR("chown-08", chown("chown.f", -1, G2), EPERM, 0);
  be_root();
  report("chown-09", st_of("chown.f").st_gid == G3, "group %u, wanted %u", st_of("chown.f").st_gid, G3);
  /* A change of owner clears setuid, and setgid with group exec. */
  chmod("chown.f", 06755);
  chown("chown.f", U2, G2);
  drop_caches();
  report("chown-10", mode_of("chown.f") == 0755, "mode after chown of a 6755 file: %o, wanted 755", mode_of("chown.f"));
  symlink("chown.f", "chown.l");
  EXPECT_OK("chown-11", lchown("chown.l", U1, G1));
  st = st_of("chown.l");
  report("chown-12", st.st_uid == U1 && st_of("chown.f").st_uid == U2, "lchown changed the link (%u), not its target (%u)", st.st_uid, st_of("chown.f").st_uid);
}

/* ---- link / unlink ---- */
static void check_link(void) {
  put("link.a", "link");
  struct timespec c0;
  ctime_aged("link.a", &c0);
  EXPECT_OK("link-01", link("link.a", "link.b"));
  struct stat a = st_of("link.a"), b = st_of("link.b");
  report("link-02", a.st_ino == b.st_ino && a.st_nlink == 2, "ino %lu/%lu nlink %lu", (unsigned long)a.st_ino, (unsigned long)b.st_ino, (unsigned long)a.st_nlink);
  report("link-03", !ts_eq(a.st_ctim, c0), "link did not change the file's ctime");
  EXPECT_ERR("link-04", link("link.a", "link.b"), EEXIST, 0);
  mkdir("link.d", 0755);
  EXPECT_ERR("link-05", link("link.d", "link.d2"), EPERM, 0);
  EXPECT_ERR("link-06", link("link.missing", "link.c"), ENOENT, 0);
  mkdir("link.ro", 0755);
  chown("link.a", U1, G1); /* a link to someone else's file is refused for its own reason (protected_hardlinks) */
  be(U1, G1, 0);
  EXPECT_ERR("link-07", link("link.a", "link.ro/x"), EACCES, 0);
  be_root();
  EXPECT_OK("link-08", unlink("link.b"));
  report("link-09", st_of("link.a").st_nlink == 1, "nlink after unlink %lu", (unsigned long)st_of("link.a").st_nlink);
}

static void check_unlink(void) {
  touch("unlink.f", 0644);
  struct timespec c0;
  mkdir("unlink.d", 0777);
  touch("unlink.d/f", 0644);
  age("unlink.d");
  c0 = st_of("unlink.d").st_mtim;
  EXPECT_OK("unlink-01", unlink("unlink.d/f"));
  report("unlink-02", access("unlink.d/f", F_OK) != 0 && errno == ENOENT && !ts_eq(st_of("unlink.d").st_mtim, c0), "the name is gone and the directory's mtime moved");
  EXPECT_ERR("unlink-03", unlink("unlink.d"), EISDIR, 0);
  symlink("unlink.f", "unlink.l");
  unlink("unlink.l");
  report("unlink-04", access("unlink.f", F_OK) == 0 && access("unlink.l", F_OK) != 0, "unlink of a symlink removes the link only");
  /* Sticky directory: only the file's owner, the directory's owner or root removes. */
  mkdir("unlink.t", 0777);
  chmod("unlink.t", 01777);
  touch("unlink.t/f", 0644);
  chown("unlink.t/f", U1, G1);
  be(U2, G2, 0);
  EXPECT_ERR("unlink-05", unlink("unlink.t/f"), EPERM, EACCES);
  be(U1, G1, 0);
  EXPECT_OK("unlink-06", unlink("unlink.t/f"));
  be_root();
  mkdir("unlink.ro", 0755);
  touch("unlink.ro/f", 0666);
  be(U1, G1, 0);
  EXPECT_ERR("unlink-07", unlink("unlink.ro/f"), EACCES, 0);
  be_root();
  mkfifo("unlink.p", 0644);
  mknod("unlink.c", S_IFCHR | 0600, makedev(1, 3));
  report("unlink-08", unlink("unlink.p") == 0 && unlink("unlink.c") == 0, "unlink of a fifo and a device: %s", strerror(errno));
}

/* ---- mkdir / rmdir ---- */
static void check_mkdir(void) {
  struct stat p0 = st_of(".");
  age(".");
  struct timespec m0 = st_of(".").st_mtim;
  be(U1, G1, 0);
  EXPECT_OK("mkdir-01", mkdir("mkdir.d", 0755));
  be_root();
  struct stat st = st_of("mkdir.d");
  report("mkdir-02", S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755 && st.st_uid == U1 && st.st_gid == G1, "mode %o owner %u:%u", st.st_mode & 07777, st.st_uid, st.st_gid);
  struct stat p1 = st_of(".");
  report("mkdir-03", p1.st_nlink == p0.st_nlink + 1 && !ts_eq(p1.st_mtim, m0), "parent nlink %lu -> %lu, mtime moved %d", (unsigned long)p0.st_nlink,
         (unsigned long)p1.st_nlink, !ts_eq(p1.st_mtim, m0));
  EXPECT_ERR("mkdir-04", mkdir("mkdir.d", 0755), EEXIST, 0);
  mkdir("mkdir.ro", 0755);
  be(U1, G1, 0);
  EXPECT_ERR("mkdir-05", mkdir("mkdir.ro/x", 0755), EACCES, 0);
  be_root();
  report("mkdir-06", st_of("mkdir.d").st_nlink == 2, "a new directory has nlink %lu", (unsigned long)st_of("mkdir.d").st_nlink);
  mkdir("mkdir.sg", 0755);
  chown("mkdir.sg", 0, G3);
  chmod("mkdir.sg", 02775);
  mkdir("mkdir.sg/sub", 0755);
  st = st_of("mkdir.sg/sub");
  report("mkdir-07", st.st_gid == G3 && (st.st_mode & 02000), "in a setgid directory: group %u mode %o", st.st_gid, st.st_mode & 07777);
}

static void check_rmdir(void) {
  mkdir("rmdir.d", 0755);
  nlink_t n0 = st_of(".").st_nlink;
  EXPECT_OK("rmdir-01", rmdir("rmdir.d"));
  report("rmdir-02", st_of(".").st_nlink == n0 - 1, "parent nlink %lu -> %lu", (unsigned long)n0, (unsigned long)st_of(".").st_nlink);
  mkdir("rmdir.full", 0755);
  touch("rmdir.full/f", 0644);
  EXPECT_ERR("rmdir-03", rmdir("rmdir.full"), ENOTEMPTY, EEXIST);
  touch("rmdir.f", 0644);
  EXPECT_ERR("rmdir-04", rmdir("rmdir.f"), ENOTDIR, 0);
  mkdir("rmdir.full/sub", 0755);
  EXPECT_ERR("rmdir-05", rmdir("rmdir.full/sub/."), EINVAL, 0);
  mkdir("rmdir.t", 0777);
  chmod("rmdir.t", 01777);
  mkdir("rmdir.t/d", 0755);
  chown("rmdir.t/d", U1, G1);
  be(U2, G2, 0);
  EXPECT_ERR("rmdir-06", rmdir("rmdir.t/d"), EPERM, EACCES);
  be_root();
  EXPECT_ERR("rmdir-07", rmdir("rmdir.missing"), ENOENT, 0);
}

/* ---- mkfifo / mknod ---- */
static void check_nodes(void) {
  EXPECT_OK("mkfifo-01", mkfifo("fifo.p", 0640));
  drop_caches();
  struct stat st = st_of("fifo.p");
  report("mkfifo-02", S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0640, "mode %o", st.st_mode);
  EXPECT_ERR("mkfifo-03", mkfifo("fifo.p", 0640), EEXIST, 0);
  /* The fifo is local to this client, but must open and pass data. */
  pid_t pid = fork();
  if (pid == 0) {
    int w = open("fifo.p", O_WRONLY);
    if (w >= 0 && write(w, "fifo", 4) == 4) _exit(0);
    _exit(1);
  }
  int r = open("fifo.p", O_RDONLY);
  char buf[8] = {0};
  ssize_t got = r >= 0 ? read(r, buf, sizeof buf) : -1;
  if (r >= 0) close(r);
  int status = 0;
  waitpid(pid, &status, 0);
  report("mkfifo-04", got == 4 && !memcmp(buf, "fifo", 4), "read %zd bytes through the fifo", got);

  EXPECT_OK("mknod-01", mknod("nod.c", S_IFCHR | 0620, makedev(1, 3)));
  EXPECT_OK("mknod-02", mknod("nod.b", S_IFBLK | 0640, makedev(8, 17)));
  drop_caches();
  st = st_of("nod.c");
  struct stat sb = st_of("nod.b");
  report("mknod-03", S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) && (st.st_mode & 07777) == 0620 && S_ISBLK(sb.st_mode) &&
                         sb.st_rdev == makedev(8, 17),
         "char %u:%u mode %o, block %u:%u", major(st.st_rdev), minor(st.st_rdev), st.st_mode & 07777, major(sb.st_rdev), minor(sb.st_rdev));
  EXPECT_OK("mknod-04", mknod("nod.big", S_IFCHR | 0600, makedev(4095, 1048575)));
  drop_caches();
  st = st_of("nod.big");
  report("mknod-05", st.st_rdev == makedev(4095, 1048575), "device %u:%u, wanted 4095:1048575", major(st.st_rdev), minor(st.st_rdev));
  EXPECT_OK("mknod-06", mknod("nod.p", S_IFIFO | 0600, 0));
  EXPECT_OK("mknod-07", mknod("nod.s", S_IFSOCK | 0600, 0));
  report("mknod-08", S_ISFIFO(st_of("nod.p").st_mode) && S_ISSOCK(st_of("nod.s").st_mode), "types fifo %o, socket %o", st_of("nod.p").st_mode,
         st_of("nod.s").st_mode);
  be(U1, G1, 0);
  EXPECT_ERR("mknod-09", mknod("nod.u", S_IFCHR | 0600, makedev(1, 3)), EPERM, 0);
  be_root();
  EXPECT_ERR("mknod-10", mknod("nod.c", S_IFCHR | 0600, makedev(1, 3)), EEXIST, 0);
  /* A UNIX socket bound on the file system. */
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  strcpy(sun.sun_path, "nod.bound");
  int b = bind(s, (struct sockaddr *)&sun, sizeof sun);
  close(s);
  report("mknod-11", b == 0 && S_ISSOCK(st_of("nod.bound").st_mode), "bind of a UNIX socket: %s", b == 0 ? "no socket file" : strerror(errno));
}

/* ---- open ---- */
static void check_open(void) {
  umask(022);
  be(U1, G1, 0);
  int fd = open("open.f", O_CREAT | O_EXCL | O_WRONLY, 0666);
  be_root();
  struct stat st = st_of("open.f");
  report("open-01", fd >= 0 && (st.st_mode & 07777) == 0644 && st.st_uid == U1 && st.st_gid == G1, "create as %u: mode %o owner %u:%u", U1,
         st.st_mode & 07777, st.st_uid, st.st_gid);
  if (fd >= 0) close(fd);
  umask(0);
  EXPECT_ERR("open-02", open("open.f", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST, 0);
  chmod("open.f", 0600);
  fd = open("open.f", O_CREAT | O_WRONLY, 0777);
  report("open-03", fd >= 0 && mode_of("open.f") == 0600, "O_CREAT of an existing file keeps its mode: %o", mode_of("open.f"));
  if (fd >= 0) close(fd);
  put("open.t", "0123456789");
  age("open.t");
  fd = open("open.t", O_WRONLY | O_TRUNC);
  if (fd >= 0) close(fd);
  st = st_of("open.t");
  report("open-04", fd >= 0 && st.st_size == 0 && st.st_mtim.tv_sec != 1000000000, "O_TRUNC: size %lld, mtime %lld", (long long)st.st_size,
         (long long)st.st_mtim.tv_sec);
  put("open.ro", "x");
  chown("open.ro", U1, G1);
  chmod("open.ro", 0200);
  be(U1, G1, 0);
  EXPECT_ERR("open-05", open("open.ro", O_RDONLY), EACCES, 0);
  be_root();
  chmod("open.ro", 0400);
  be(U1, G1, 0);
  EXPECT_ERR("open-06", open("open.ro", O_WRONLY), EACCES, 0);
  be(U2, G2, 0);
  chmod("open.ro", 0444);
  EXPECT_ERR("open-07", open("open.ro", O_RDWR), EACCES, 0);
  be_root();
  mkdir("open.ro.d", 0755);
  be(U1, G1, 0);
  EXPECT_ERR("open-08", open("open.ro.d/new", O_CREAT | O_WRONLY, 0644), EACCES, 0);
  be_root();
  mkdir("open.nox", 0766);
  touch("open.nox/f", 0666);
  be(U1, G1, 0);
  EXPECT_ERR("open-09", open("open.nox/f", O_RDONLY), EACCES, 0);
  be_root();
  EXPECT_ERR("open-10", open("open.t", O_RDONLY | O_DIRECTORY), ENOTDIR, 0);
  symlink("open.t", "open.l");
  EXPECT_ERR("open-11", open("open.l", O_RDONLY | O_NOFOLLOW), ELOOP, 0);
  EXPECT_ERR("open-12", open("open.ro.d", O_WRONLY), EISDIR, 0);
  /* Created with mode 0 by its owner: the descriptor still writes (the server lets the owner through). */
  chmod(".", 0777);
  be(U1, G1, 0);
  fd = open("open.zero", O_CREAT | O_EXCL | O_RDWR, 0);
  ssize_t n = fd >= 0 ? write(fd, "data", 4) : -1;
  int tr = fd >= 0 ? ftruncate(fd, 2) : -1;
  if (fd >= 0) close(fd);
  be_root();
  report("open-13", fd >= 0 && n == 4 && tr == 0 && st_of("open.zero").st_size == 2 && mode_of("open.zero") == 0, "mode-0 file written by its creator: write %zd ftruncate %d size %lld", n,
         tr, (long long)st_of("open.zero").st_size);
  put("open.app", "abc");
  int a1 = open("open.app", O_WRONLY | O_APPEND), a2 = open("open.app", O_WRONLY | O_APPEND);
  n = write(a1, "de", 2) + write(a2, "fg", 2) + write(a1, "h", 1);
  close(a1);
  close(a2);
  char buf[16] = {0};
  fd = open("open.app", O_RDONLY);
  ssize_t got = read(fd, buf, sizeof buf - 1);
  close(fd);
  report("open-14", got == 8 && !strcmp(buf, "abcdefgh"), "O_APPEND from two descriptors: \"%s\"", buf);
  EXPECT_ERR("open-15", open("open.missing/x", O_RDONLY), ENOENT, 0);
}

/* ---- rename ---- */
static void check_rename(void) {
  put("ren.a", "A");
  put("ren.b", "B");
  ino_t ia = st_of("ren.a").st_ino;
  EXPECT_OK("rename-01", rename("ren.a", "ren.b"));
  drop_caches();
  char buf[4] = {0};
  int fd = open("ren.b", O_RDONLY);
  if (read(fd, buf, 3) < 0) buf[0] = 0;
  close(fd);
  report("rename-02", access("ren.a", F_OK) != 0 && st_of("ren.b").st_ino == ia && !strcmp(buf, "A"), "over a file: the source's inode and data under the new name");
  mkdir("ren.d1", 0755);
  mkdir("ren.d2", 0755);
  EXPECT_OK("rename-03", rename("ren.d1", "ren.d2"));
  mkdir("ren.d3", 0755);
  mkdir("ren.d4", 0755);
  touch("ren.d4/f", 0644);
  EXPECT_ERR("rename-04", rename("ren.d3", "ren.d4"), ENOTEMPTY, EEXIST);
  int made = mkdir("ren.d3/sub", 0755);
  int made_errno = errno;
  errno = 0;
  int into = rename("ren.d3", "ren.d3/sub/in");
  report("rename-05", into == -1 && errno == EINVAL, "a directory into its own subdirectory: rc=%d %s (mkdir of the subdirectory: %d %s), wanted EINVAL", into,
         strerror(errno), made, made ? strerror(made_errno) : "");
  EXPECT_ERR("rename-06", rename("ren.b", "ren.d3"), EISDIR, 0);
  EXPECT_ERR("rename-07", rename("ren.d3", "ren.b"), ENOTDIR, 0);
  link("ren.b", "ren.h");
  EXPECT_OK("rename-08", rename("ren.b", "ren.h"));
  report("rename-09", access("ren.b", F_OK) == 0 && access("ren.h", F_OK) == 0 && st_of("ren.b").st_nlink == 2, "rename between two links of one file does nothing");
  /* A directory moved to another parent: nlinks of both parents and its "..". */
  mkdir("ren.p1", 0755);
  mkdir("ren.p2", 0755);
  mkdir("ren.p1/c", 0755);
  nlink_t n1 = st_of("ren.p1").st_nlink, n2 = st_of("ren.p2").st_nlink;
  EXPECT_OK("rename-10", rename("ren.p1/c", "ren.p2/c"));
  drop_caches();
  report("rename-11",
         st_of("ren.p1").st_nlink == n1 - 1 && st_of("ren.p2").st_nlink == n2 + 1 && st_of("ren.p2/c/..").st_ino == st_of("ren.p2").st_ino,
         "parents' nlink %lu->%lu %lu->%lu, .. is the new parent", (unsigned long)n1, (unsigned long)st_of("ren.p1").st_nlink, (unsigned long)n2,
         (unsigned long)st_of("ren.p2").st_nlink);
  struct timespec c0;
  ctime_aged("ren.b", &c0);
  rename("ren.b", "ren.c");
  report("rename-12", !ts_eq(st_of("ren.c").st_ctim, c0), "rename changes the file's ctime (Linux)");
  mkdir("ren.t", 0777);
  chmod("ren.t", 01777);
  touch("ren.t/f", 0644);
  chown("ren.t/f", U1, G1);
  be(U2, G2, 0);
  EXPECT_ERR("rename-13", rename("ren.t/f", "ren.t/g"), EPERM, EACCES);
  be_root();
  EXPECT_ERR("rename-14", rename("ren.missing", "ren.x"), ENOENT, 0);
  /* Over a symlink: the link is replaced, not its target. */
  put("ren.tgt", "T");
  symlink("ren.tgt", "ren.sl");
  put("ren.new", "N");
  rename("ren.new", "ren.sl");
  report("rename-15", S_ISREG(st_of("ren.sl").st_mode) && st_of("ren.tgt").st_size == 1, "a file renamed over a symlink replaces the link");
}

/* ---- symlink / readlink ---- */
static void check_symlink(void) {
  EXPECT_OK("symlink-01", symlink("some/where/else", "sym.l"));
  drop_caches();
  char buf[2048];
  ssize_t n = readlink("sym.l", buf, sizeof buf);
  struct stat st = st_of("sym.l");
  report("symlink-02", n == 15 && !memcmp(buf, "some/where/else", 15) && S_ISLNK(st.st_mode) && st.st_size == 15, "readlink %zd bytes, size %lld", n,
         (long long)st.st_size);
  EXPECT_ERR("symlink-03", symlink("x", "sym.l"), EEXIST, 0);
  char target[1001];
  memset(target, 'a', 1000);
  for (int i = 100; i < 1000; i += 100) target[i] = '/';
  target[1000] = 0;
  EXPECT_OK("symlink-04", symlink(target, "sym.long"));
  n = readlink("sym.long", buf, sizeof buf);
  report("symlink-05", n == 1000 && !memcmp(buf, target, 1000), "a 1000-byte target read back: %zd", n);
  symlink("sym.b", "sym.a");
  symlink("sym.a", "sym.b");
  EXPECT_ERR("symlink-06", open("sym.a", O_RDONLY), ELOOP, 0);
  touch("sym.f", 0644);
  EXPECT_ERR("symlink-07", readlink("sym.f", buf, sizeof buf), EINVAL, 0);
  EXPECT_ERR("symlink-08", stat("sym.l", &st), ENOENT, 0);
  /* Bytes that are not UTF-8, and a leading slash, kept as written. */
  static const char odd[] = "/\xff\xfe/../x";
  symlink(odd, "sym.odd");
  n = readlink("sym.odd", buf, sizeof buf);
  report("symlink-09", n == (ssize_t)strlen(odd) && !memcmp(buf, odd, n), "target bytes kept");
  mkdir("sym.ro", 0755);
  be(U1, G1, 0);
  EXPECT_ERR("symlink-10", symlink("x", "sym.ro/l"), EACCES, 0);
  be_root();
}

/* ---- truncate ---- */
static void check_truncate(void) {
  put("tr.f", "abcdef");
  age("tr.f");
  EXPECT_OK("truncate-01", truncate("tr.f", 100000));
  drop_caches();
  char buf[16];
  int fd = open("tr.f", O_RDONLY);
  ssize_t n = pread(fd, buf, 4, 50000);
  close(fd);
  struct stat st = st_of("tr.f");
  report("truncate-02", st.st_size == 100000 && n == 4 && !memcmp(buf, "\0\0\0\0", 4) && st.st_mtim.tv_sec != 1000000000,
         "grown: size %lld, zeros, mtime moved", (long long)st.st_size);
  truncate("tr.f", 3);
  fd = open("tr.f", O_RDONLY);
  n = read(fd, buf, sizeof buf);
  close(fd);
  report("truncate-03", n == 3 && !memcmp(buf, "abc", 3), "shrunk: read %zd", n);
  fd = open("tr.f", O_RDONLY);
  EXPECT_ERR("truncate-04", ftruncate(fd, 0), EINVAL, EBADF);
  close(fd);
  EXPECT_ERR("truncate-05", truncate("tr.f", -1), EINVAL, 0);
  chmod("tr.f", 0644);
  be(U1, G1, 0);
  EXPECT_ERR("truncate-06", truncate("tr.f", 0), EACCES, 0);
  be_root();
  EXPECT_OK("truncate-07", truncate("tr.f", 3LL << 30));
  report("truncate-08", st_of("tr.f").st_size == 3LL << 30, "size %lld, wanted 3 GiB", (long long)st_of("tr.f").st_size);
  truncate("tr.f", 0);
  mkdir("tr.d", 0755);
  EXPECT_ERR("truncate-09", truncate("tr.d", 0), EISDIR, 0);
  /* A truncate by a user without CAP_FSETID clears setuid. */
  put("tr.s", "s");
  chown("tr.s", U1, G1);
  chmod("tr.s", 04755);
  be(U1, G1, 0);
  int r = truncate("tr.s", 0);
  be_root();
  drop_caches();
  report("truncate-10", r == 0 && mode_of("tr.s") == 0755, "truncate by the owner of a 4755 file: mode %o", mode_of("tr.s"));
}

/* ---- utimensat ---- */
static void check_utimens(void) {
  touch("ut.f", 0644);
  struct timespec t[2] = {{1234567890, 123456789}, {1300000000, 987654321}};
  EXPECT_OK("utimensat-01", utimensat(AT_FDCWD, "ut.f", t, 0));
  drop_caches();
  struct stat st = st_of("ut.f");
  report("utimensat-02", ts_eq(st.st_atim, t[0]) && ts_eq(st.st_mtim, t[1]), "times %lld.%09ld %lld.%09ld", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
         (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  struct timespec omit[2] = {{0, UTIME_OMIT}, {1400000000, 5}};
  utimensat(AT_FDCWD, "ut.f", omit, 0);
  drop_caches();
  st = st_of("ut.f");
  report("utimensat-03", ts_eq(st.st_atim, t[0]) && st.st_mtim.tv_sec == 1400000000 && st.st_mtim.tv_nsec == 5, "UTIME_OMIT atime kept, mtime set");
  struct timespec c0;
  ctime_aged("ut.f", &c0);
  struct timespec both[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  utimensat(AT_FDCWD, "ut.f", both, 0);
  st = st_of("ut.f");
  report("utimensat-04", st.st_mtim.tv_sec == 1400000000 && ts_eq(st.st_ctim, c0), "both UTIME_OMIT: nothing changes");
  touch("ut.ref", 0644);
  struct timespec ref = st_of("ut.ref").st_mtim;
  struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  EXPECT_OK("utimensat-05", utimensat(AT_FDCWD, "ut.f", now, 0));
  st = st_of("ut.f");
  report("utimensat-06", st.st_mtim.tv_sec >= ref.tv_sec && st.st_atim.tv_sec >= ref.tv_sec, "UTIME_NOW: mtime %lld, a file made just before %lld",
         (long long)st.st_mtim.tv_sec, (long long)ref.tv_sec);
  report("utimensat-07", !ts_eq(st.st_ctim, c0), "utimensat changes ctime");
  /* Write permission lets a non-owner set the current time, never explicit times. */
  chmod("ut.f", 0666);
  be(U1, G1, 0);
  EXPECT_OK("utimensat-08", utimensat(AT_FDCWD, "ut.f", NULL, 0));
  EXPECT_ERR("utimensat-09", utimensat(AT_FDCWD, "ut.f", t, 0), EPERM, 0);
  be_root();
  chmod("ut.f", 0644);
  be(U1, G1, 0);
  EXPECT_ERR("utimensat-10", utimensat(AT_FDCWD, "ut.f", NULL, 0), EACCES, 0);
  be_root();
  chown("ut.f", U1, G1);
  be(U1, G1, 0);
  EXPECT_OK("utimensat-11", utimensat(AT_FDCWD, "ut.f", t, 0));
  be_root();
  symlink("ut.f", "ut.l");
  struct timespec lt[2] = {{1111111111, 1}, {1111111111, 2}};
  utimensat(AT_FDCWD, "ut.l", lt, AT_SYMLINK_NOFOLLOW);
  drop_caches();
  report("utimensat-12", st_of("ut.l").st_mtim.tv_nsec == 2 && st_of("ut.f").st_mtim.tv_sec == t[1].tv_sec, "AT_SYMLINK_NOFOLLOW sets the link's own times");
  /* NFSv3 carries seconds as an unsigned 32-bit number: no server can store times past 2106 or before 1970. */
  struct timespec far[2] = {{1LL << 32, 0}, {(1LL << 32) + 5, 0}};
  int r = utimensat(AT_FDCWD, "ut.f", far, 0);
  drop_caches();
  st = st_of("ut.f");
  report("utimensat-13", r == 0 && st.st_mtim.tv_sec == (1LL << 32) + 5, "mtime past 2^32 s: rc=%d read back %lld", r, (long long)st.st_mtim.tv_sec);
  struct timespec neg[2] = {{-1, 0}, {-100, 0}};
  r = utimensat(AT_FDCWD, "ut.f", neg, 0);
  drop_caches();
  st = st_of("ut.f");
  report("utimensat-14", r == 0 && st.st_mtim.tv_sec == -100, "mtime before 1970: rc=%d read back %lld", r, (long long)st.st_mtim.tv_sec);
  int fd = open("ut.f", O_RDONLY);
  struct timespec ft[2] = {{1500000000, 999999999}, {1500000000, 999999999}};
  EXPECT_OK("utimensat-15", futimens(fd, ft));
  close(fd);
}

/* ---- names and path lengths ---- */
static void check_names(void) {
  char name[300];
  memset(name, 'n', 255);
  name[255] = 0;
  EXPECT_OK("name-01", touch(name, 0644));
  name[255] = 'n';
  name[256] = 0;
  EXPECT_ERR("name-02", touch(name, 0644), ENAMETOOLONG, 0);
  EXPECT_ERR("name-03", mkdir(name, 0755), ENAMETOOLONG, 0);
  name[255] = 0;
  unlink(name);

  /* PATH_MAX-1 bytes made of 127-byte components (31 directories and a file), relative to here. */
  static char path[PATH_MAX + 200];
  size_t len = 0;
  int ok = 1;
  for (int i = 0; i < 31; i++) {
    memset(path + len, 'a' + i % 26, 127);
    len += 127;
    path[len] = 0;
    if (mkdir(path, 0755) != 0) {
      ok = 0;
      break;
    }
    path[len++] = '/';
  }
  report("path-01", ok, "mkdir of the deep chain at %zu bytes: %s", len, strerror(errno));
  memset(path + len, 'z', 127);
  len += 127;
  path[len] = 0;
  report("path-02", len == PATH_MAX - 1, "length %zu", len);
  EXPECT_OK("path-03", touch(path, 0644));
  struct stat st;
  EXPECT_OK("path-04", stat(path, &st));
  EXPECT_OK("path-05", chmod(path, 0600));
  EXPECT_OK("path-06", chown(path, U1, G1));
  EXPECT_OK("path-07", truncate(path, 10));
  EXPECT_OK("path-08", utimensat(AT_FDCWD, path, NULL, 0));
  char other[PATH_MAX + 200];
  memcpy(other, path, len + 1);
  other[len - 1] = 'y';
  EXPECT_OK("path-09", rename(path, other));
  EXPECT_OK("path-10", link(other, path));
  EXPECT_OK("path-11", unlink(other));
  EXPECT_OK("path-12", unlink(path));
  EXPECT_OK("path-13", symlink("t", path));
  char lb[8];
  report("path-14", readlink(path, lb, sizeof lb) == 1 && unlink(path) == 0, "readlink and unlink of a symlink at PATH_MAX-1");
  EXPECT_OK("path-15", mkfifo(path, 0644));
  unlink(path);
  EXPECT_OK("path-16", mkdir(path, 0755));
  EXPECT_OK("path-17", rmdir(path));
  /* One byte more is too long for the client's own lookup. */
  path[len] = 'z';
  path[len + 1] = 0;
  EXPECT_ERR("path-18", touch(path, 0644), ENAMETOOLONG, 0);
  EXPECT_ERR("path-19", mkdir(path, 0755), ENAMETOOLONG, 0);
  path[len] = 0;
  path[len - 128] = 0;
  /* Remove the chain from the deepest directory up. */
  ok = 1;
  for (int i = 31; i > 0; i--) {
    path[i * 128 - 1] = 0;
    if (rmdir(path) != 0) ok = 0;
  }
  report("path-20", ok && access(path, F_OK) != 0, "rmdir of the chain");
}

/* ---- Connectathon-style basic ---- */
static int make_tree(const char *dir, int depth, int files, int dirs) {
  int made = 0;
  char p[PATH_MAX];
  for (int i = 0; i < files; i++) {
    snprintf(p, sizeof p, "%s/file.%d", dir, i);
    if (put(p, p) == 0) made++;
  }
  if (depth == 0) return made;
  for (int i = 0; i < dirs; i++) {
    snprintf(p, sizeof p, "%s/dir.%d", dir, i);
    if (mkdir(p, 0777) == 0) made += 1 + make_tree(p, depth - 1, files, dirs);
  }
  return made;
}

static int count_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  char p[PATH_MAX];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    n++;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (e->d_type == DT_DIR) n += count_tree(p);
  }
  closedir(d);
  return n;
}

static void check_basic(const char *lockdir) {
  mkdir("basic.tree", 0777);
  /* 5 files and 2 directories a level, 4 levels: T(0) = 5, T(n) = 5 + 2 * (1 + T(n-1)), T(3) = 89. */
  int made = make_tree("basic.tree", 3, 5, 2);
  report("basic-01", made == 89, "made %d of 89 files and directories", made);
  drop_caches();
  report("basic-02", count_tree("basic.tree") == 89, "found %d of 89 by readdir", count_tree("basic.tree"));
  report("basic-03", rm_tree("basic.tree") == 0 && access("basic.tree", F_OK) != 0, "removed the tree: %s", strerror(errno));
  /* Lookups across mount points: ".." of a mount's root is the covered directory's parent. */
  char cwd[PATH_MAX], here[PATH_MAX];
  report("basic-04", getcwd(here, sizeof here) && chdir("..") == 0 && getcwd(cwd, sizeof cwd) && chdir(here) == 0 && strlen(cwd) < strlen(here),
         "getcwd and chdir ..");
  struct stat proc_up = st_of("/proc/.."), root = st_of("/");
  int across = proc_up.st_ino == root.st_ino && proc_up.st_dev == root.st_dev;
  if (lockdir) {
    char up[PATH_MAX], parent[PATH_MAX];
    snprintf(up, sizeof up, "%s/..", lockdir);
    snprintf(parent, sizeof parent, "%s", lockdir);
    struct stat m = st_of(up), above = st_of(dirname(parent));
    across = across && m.st_dev == above.st_dev && m.st_ino == above.st_ino && st_of(lockdir).st_dev != above.st_dev;
  }
  report("basic-05", across, "'..' across mount points");
  /* setattr, getattr over many files */
  mkdir("basic.attr", 0777);
  int ok = 1;
  char p[300];
  for (int i = 0; i < 50; i++) {
    snprintf(p, sizeof p, "basic.attr/%d", i);
    if (touch(p, 0644) != 0 || chmod(p, 0600 + i % 8) != 0) ok = 0;
  }
  drop_caches();
  for (int i = 0; i < 50; i++) {
    snprintf(p, sizeof p, "basic.attr/%d", i);
    if (mode_of(p) != (mode_t)(0600 + i % 8)) ok = 0;
  }
  report("basic-06", ok, "chmod then stat of 50 files");
  /* write and read 4 MiB with a pattern */
  static unsigned char big[1 << 22], back[1 << 22];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + i / 4096);
  int fd = open("basic.data", O_CREAT | O_TRUNC | O_WRONLY, 0644);
  ssize_t w = write(fd, big, sizeof big);
  close(fd);
  drop_caches();
  fd = open("basic.data", O_RDONLY);
  ssize_t r = 0, got;
  while (r < (ssize_t)sizeof back && (got = read(fd, back + r, sizeof back - r)) > 0) r += got;
  close(fd);
  report("basic-07", w == (ssize_t)sizeof big && r == (ssize_t)sizeof big && !memcmp(big, back, sizeof big), "4 MiB written %zd, read back %zd", w, r);
  /* a big directory, read in many READDIR(PLUS) replies */
  mkdir("basic.big", 0777);
  ok = 1;
  char name[300];
  for (int i = 0; i < 1200; i++) {
    snprintf(name, sizeof name, "basic.big/entry-with-a-longer-name-%06d", i);
    if (touch(name, 0644) != 0) ok = 0;
  }
  drop_caches();
  report("basic-08", ok && count_entries("basic.big", "entry-") == 1200, "1200 entries listed: %d", count_entries("basic.big", "entry-"));
  DIR *d = opendir("basic.big");
  int seen = 0, removed = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, "entry-", 6)) continue;
    seen++;
    if (seen % 3 == 0) {
      snprintf(name, sizeof name, "basic.big/%s", e->d_name);
      if (unlink(name) == 0) removed++;
    }
  }
  if (d) closedir(d);
  report("basic-09", seen == 1200 && count_entries("basic.big", "entry-") == 1200 - removed, "removing while listing: seen %d, %d left of %d", seen,
         count_entries("basic.big", "entry-"), 1200 - removed);
  /* rename and link, many times */
  ok = 1;
  put("basic.rl", "x");
  for (int i = 0; i < 40; i++) {
    snprintf(name, sizeof name, "basic.rl.%d", i);
    if (rename(i ? p : "basic.rl", name) != 0 || link(name, "basic.rl.link") != 0 || st_of(name).st_nlink != 2 || unlink("basic.rl.link") != 0) ok = 0;
    snprintf(p, sizeof p, "%s", name);
  }
  report("basic-10", ok && st_of(p).st_nlink == 1, "40 rounds of rename and link");
  ok = 1;
  for (int i = 0; i < 40; i++) {
    char tgt[64], buf[64];
    snprintf(tgt, sizeof tgt, "target/%d", i);
    snprintf(name, sizeof name, "basic.sl.%d", i);
    ssize_t n;
    if (symlink(tgt, name) != 0 || (n = readlink(name, buf, sizeof buf)) != (ssize_t)strlen(tgt) || memcmp(buf, tgt, n)) ok = 0;
  }
  report("basic-11", ok, "40 symlinks read back");
  struct statvfs sv;
  int s = statvfs(".", &sv);
  report("basic-12", s == 0 && sv.f_blocks > 0 && sv.f_bsize > 0 && sv.f_bfree <= sv.f_blocks && sv.f_namemax >= 255, "statvfs: blocks %llu bsize %lu namemax %lu",
         (unsigned long long)sv.f_blocks, sv.f_bsize, sv.f_namemax);
}

/* ---- Connectathon-style special ---- */
static void check_special(void) {
  put("sp.open", "still here");
  int fd = open("sp.open", O_RDWR);
  EXPECT_OK("special-01", unlink("sp.open"));
  char buf[32] = {0};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  ssize_t w = pwrite(fd, "STILL", 5, 0);
  report("special-02", n == 10 && !strcmp(buf, "still here") && w == 5 && access("sp.open", F_OK) != 0, "an unlinked open file reads %zd and writes %zd", n, w);
  struct stat st;
  fstat(fd, &st);
  /* NFSv3 keeps the open file by renaming it (".nfs..."): it still has a link, and the name is listed. */
  report("special-03", st.st_nlink == 0, "fstat of the unlinked open file: nlink %lu", (unsigned long)st.st_nlink);
  report("special-04", count_entries(".", ".nfs") == 0, "%d .nfs* names listed while the unlinked file is open", count_entries(".", ".nfs"));
  close(fd);
  /* The client removes the .nfs name after the last close with an asynchronous REMOVE: wait for it (bounded, 5 s). */
  int left = count_entries(".", ".nfs");
  for (int i = 0; i < 100 && left != 0; i++) {
    struct timespec nap = {0, 50 * 1000 * 1000};
    nanosleep(&nap, NULL);
    left = count_entries(".", ".nfs");
  }
  report("special-05", left == 0, "%d .nfs* names left 5 s after close", left);
  /* Exclusive create from two processes at once: exactly one wins, every round. */
  int ok = 1;
  for (int i = 0; i < 20; i++) {
    char name[32];
    snprintf(name, sizeof name, "sp.excl.%d", i);
    int pipefd[2];
    if (pipe(pipefd) != 0) die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
      close(pipefd[0]);
      int f = open(name, O_CREAT | O_EXCL | O_WRONLY, 0640);
      char won = f >= 0 ? 'y' : (errno == EEXIST ? 'n' : 'e');
      if (write(pipefd[1], &won, 1) != 1) _exit(1);
      _exit(0);
    }
    close(pipefd[1]);
    int f = open(name, O_CREAT | O_EXCL | O_WRONLY, 0640);
    char mine = f >= 0 ? 'y' : (errno == EEXIST ? 'n' : 'e'), theirs = 'e';
    if (f >= 0) close(f);
    if (read(pipefd[0], &theirs, 1) != 1) theirs = 'e';
    close(pipefd[0]);
    waitpid(pid, NULL, 0);
    if (!((mine == 'y') ^ (theirs == 'y')) || mine == 'e' || theirs == 'e' || mode_of(name) != 0640) ok = 0;
  }
  report("special-06", ok, "O_EXCL from two processes: one winner each round, mode 0640");
  drop_caches();
  st = st_of("sp.excl.0");
  report("special-07", st.st_atim.tv_sec > 1000000000 && st.st_mtim.tv_sec > 1000000000 && st.st_size == 0, "times after an exclusive create are real times, not the verifier: %lld",
         (long long)st.st_mtim.tv_sec);
  /* Offsets past 2 and 4 GiB, holes between. */
  fd = open("sp.big", O_CREAT | O_TRUNC | O_RDWR, 0644);
  static const off_t offs[] = {(1LL << 31) - 4, 1LL << 31, (1LL << 32) + 5, 5LL << 30};
  ok = fd >= 0;
  for (unsigned i = 0; i < sizeof offs / sizeof offs[0]; i++)
    if (pwrite(fd, "edge", 4, offs[i]) != 4) ok = 0;
  close(fd);
  drop_caches();
  fd = open("sp.big", O_RDONLY);
  for (unsigned i = 0; i < sizeof offs / sizeof offs[0]; i++) {
    char b[4];
    if (pread(fd, b, 4, offs[i]) != 4 || memcmp(b, "edge", 4)) ok = 0;
  }
  char hole[8];
  ok = ok && pread(fd, hole, 8, 3LL << 30) == 8 && !memcmp(hole, "\0\0\0\0\0\0\0\0", 8);
  st = st_of("sp.big");
  report("special-08", ok && st.st_size == (5LL << 30) + 4, "writes past 2 and 4 GiB read back, holes zero, size %lld", (long long)st.st_size);
  report("special-09", lseek(fd, 0, SEEK_END) == (5LL << 30) + 4 && pread(fd, hole, 8, 6LL << 30) == 0, "SEEK_END and a read past the end");
  close(fd);
  report("special-10", st.st_blocks < 1024, "the sparse file takes %lld blocks", (long long)st.st_blocks);
  unlink("sp.big");
  /* Reads and writes of odd sizes at odd offsets. */
  static unsigned char data[300000], back[300000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 13 + 1);
  fd = open("sp.odd", O_CREAT | O_TRUNC | O_RDWR, 0644);
  static const size_t sizes[] = {1, 3, 511, 513, 4095, 4097, 8193, 65535, 65537, 131071};
  off_t at = 0;
  ok = 1;
  for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    if (pwrite(fd, data + at, sizes[i], at) != (ssize_t)sizes[i]) ok = 0;
    at += sizes[i];
  }
  close(fd);
  drop_caches();
  fd = open("sp.odd", O_RDONLY);
  off_t rd = 0;
  for (int i = (int)(sizeof sizes / sizeof sizes[0]) - 1; i >= 0 && rd < at; i--) {
    size_t want = sizes[i] < (size_t)(at - rd) ? sizes[i] : (size_t)(at - rd);
    if (pread(fd, back + rd, want, rd) != (ssize_t)want) ok = 0;
    rd += want;
  }
  close(fd);
  report("special-11", ok && rd == at && !memcmp(data, back, at) && st_of("sp.odd").st_size == at, "odd-sized writes read back in other odd sizes");
  /* File times after a write. */
  put("sp.times", "t");
  age("sp.times");
  struct timespec c0;
  ctime_aged("sp.times", &c0);
  fd = open("sp.times", O_WRONLY);
  w = write(fd, "more", 4);
  close(fd);
  drop_caches();
  st = st_of("sp.times");
  report("special-12", w == 4 && st.st_mtim.tv_sec > 1000000000 && !ts_eq(st.st_ctim, c0) && st.st_atim.tv_sec == 1000000000,
         "after a write: mtime %lld, ctime moved %d, atime %lld", (long long)st.st_mtim.tv_sec, !ts_eq(st.st_ctim, c0), (long long)st.st_atim.tv_sec);
  /* close-to-open: a second descriptor sees the first one's data and size. */
  int f1 = open("sp.cto", O_CREAT | O_TRUNC | O_WRONLY, 0644);
  w = write(f1, "0123456789", 10);
  close(f1);
  int f2 = open("sp.cto", O_RDONLY);
  report("special-13", lseek(f2, 0, SEEK_END) == 10, "size seen after close and reopen");
  close(f2);
}

/* ---- byte-range locks (NLM) ---- */
static int lock(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &fl);
}

/* Runs probe in a child on its own descriptor; returns what the child returned (0..255). */
static int in_child(const char *path, int (*probe)(int fd, void *arg), void *arg) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(path, O_RDWR);
    _exit(fd < 0 ? 255 : probe(fd, arg));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 254;
}

struct range { short type; off_t start, len; };

/* 0: got it (and released it), 1: refused with EAGAIN/EACCES, 2: other error. */
static int try_lock(int fd, void *arg) {
  struct range *r = arg;
  if (lock(fd, F_SETLK, r->type, r->start, r->len) == 0) return 0;
  return errno == EAGAIN || errno == EACCES ? 1 : 2;
}

static int get_lock(int fd, void *arg) {
  struct range *r = arg;
  struct flock fl = {.l_type = r->type, .l_whence = SEEK_SET, .l_start = r->start, .l_len = r->len};
  if (fcntl(fd, F_GETLK, &fl) != 0) return 2;
  return fl.l_type == F_WRLCK && fl.l_start == 0 && fl.l_len == 100 ? 0 : 1;
}

static int flock_nb(int fd, void *arg) {
  (void)arg;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
  return errno == EWOULDBLOCK ? 1 : 2;
}

static void check_locks(const char *dir) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/lockfile", dir);
  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0666);
  if (fd < 0) die("open the lock file");
  struct range r;
  EXPECT_OK("lock-01", lock(fd, F_SETLK, F_WRLCK, 0, 100));
  r = (struct range){F_WRLCK, 50, 10};
  int got = in_child(path, try_lock, &r);
  report("lock-02", got == 1, "another process's overlapping lock: %d, wanted refused", got);
  r = (struct range){F_RDLCK, 10, 1};
  got = in_child(path, get_lock, &r);
  report("lock-03", got == 0, "F_GETLK names the holder's write lock 0+100: %d", got);
  r = (struct range){F_WRLCK, 100, 100};
  got = in_child(path, try_lock, &r);
  report("lock-04", got == 0, "an adjacent range is free: %d", got);
  /* Unlocking the middle splits the lock. */
  lock(fd, F_SETLK, F_UNLCK, 40, 20);
  r = (struct range){F_WRLCK, 45, 10};
  int mid = in_child(path, try_lock, &r);
  r = (struct range){F_WRLCK, 10, 10};
  int left = in_child(path, try_lock, &r);
  r = (struct range){F_WRLCK, 70, 10};
  int right = in_child(path, try_lock, &r);
  report("lock-05", mid == 0 && left == 1 && right == 1, "after unlocking 40+20: middle %d left %d right %d", mid, left, right);
  lock(fd, F_SETLK, F_UNLCK, 0, 0);
  /* Shared locks. */
  lock(fd, F_SETLK, F_RDLCK, 0, 10);
  r = (struct range){F_RDLCK, 0, 10};
  int rd = in_child(path, try_lock, &r);
  r = (struct range){F_WRLCK, 5, 1};
  int wr = in_child(path, try_lock, &r);
  report("lock-06", rd == 0 && wr == 1, "read locks share (%d), a write lock is refused (%d)", rd, wr);
  /* Upgrade in place. */
  EXPECT_OK("lock-07", lock(fd, F_SETLK, F_WRLCK, 0, 10));
  r = (struct range){F_RDLCK, 0, 1};
  got = in_child(path, try_lock, &r);
  report("lock-08", got == 1, "after the upgrade a read lock is refused: %d", got);
  lock(fd, F_SETLK, F_UNLCK, 0, 0);
  /* Past 4 GiB, and to end of file. */
  EXPECT_OK("lock-09", lock(fd, F_SETLK, F_WRLCK, (1LL << 32) + 100, 10));
  r = (struct range){F_WRLCK, (1LL << 32) + 105, 1};
  int hi = in_child(path, try_lock, &r);
  r = (struct range){F_WRLCK, 100, 0};
  int eof = in_child(path, try_lock, &r);
  r = (struct range){F_WRLCK, 100, 10};
  int low = in_child(path, try_lock, &r);
  report("lock-10", hi == 1 && eof == 1 && low == 0, "a lock past 4 GiB: same range %d, to-EOF %d, below %d", hi, eof, low);
  lock(fd, F_SETLK, F_UNLCK, 0, 0);
  /* A waiting lock is granted when the holder unlocks. */
  lock(fd, F_SETLK, F_WRLCK, 0, 1);
  int ready[2], done[2];
  if (pipe(ready) != 0 || pipe(done) != 0) die("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    int cfd = open(path, O_RDWR);
    char c = 'r';
    if (write(ready[1], &c, 1) != 1) _exit(2);
    c = lock(cfd, F_SETLKW, F_WRLCK, 0, 1) == 0 ? 'y' : 'n';
    if (write(done[1], &c, 1) != 1) _exit(2);
    _exit(0);
  }
  char c = 0;
  if (read(ready[0], &c, 1) != 1) die("child");
  struct pollfd pfd = {.fd = done[0], .events = POLLIN};
  int early = poll(&pfd, 1, 3000); /* the child must still be waiting */
  lock(fd, F_SETLK, F_UNLCK, 0, 0);
  int late = poll(&pfd, 1, 60000);
  c = 0;
  if (late == 1 && read(done[0], &c, 1) != 1) c = 0;
  waitpid(pid, NULL, 0);
  report("lock-11", early == 0 && late == 1 && c == 'y', "F_SETLKW waits (%d) and is granted on unlock (%d, %c)", early, late, c ? c : '-');
  /* Closing any descriptor of the file drops the process's locks; so does exit. */
  lock(fd, F_SETLK, F_WRLCK, 0, 10);
  int other = open(path, O_RDONLY);
  close(other);
  r = (struct range){F_WRLCK, 0, 10};
  got = in_child(path, try_lock, &r);
  report("lock-12", got == 0, "after closing another descriptor the range is free: %d", got);
  pid = fork();
  if (pid == 0) {
    int cfd = open(path, O_RDWR);
    _exit(lock(cfd, F_SETLK, F_WRLCK, 0, 0) == 0 ? 0 : 1);
  }
  int status;
  waitpid(pid, &status, 0);
  report("lock-13", lock(fd, F_SETLK, F_WRLCK, 0, 0) == 0, "a lock of an exited process is gone: %s", strerror(errno));
  lock(fd, F_SETLK, F_UNLCK, 0, 0);
  /* flock(2) on NFS is a whole-file NLM lock. */
  flock(fd, LOCK_EX);
  got = in_child(path, flock_nb, NULL);
  report("lock-14", got == 1, "flock LOCK_NB against a held flock: %d", got);
  flock(fd, LOCK_UN);
  got = in_child(path, flock_nb, NULL);
  report("lock-15", got == 0, "flock after LOCK_UN: %d", got);
  close(fd);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: fscheck DIR [LOCKDIR]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  /* Kernel messages below KERN_ERR kept off the console while the results print: drop_caches logs a
   * KERN_INFO line on every call, and the kernel writes a console message straight to the serial port,
   * where it can land inside result lines still leaving through the tty's buffer; a result line cut so
   * reads as a check that never ran. The messages stay in the kernel's log. */
  int printk = open("/proc/sys/kernel/printk", O_WRONLY);
  if (printk >= 0) {
    if (write(printk, "4\n", 2) < 0) { /* best effort: a lost line fails its check loudly, not silently */
    }
    close(printk);
  }
  if (mkdir(argv[1], 0777) != 0 && errno != EEXIST) die("mkdir DIR");
  chmod(argv[1], 0777);
  if (chdir(argv[1]) != 0) die("chdir DIR");
  umask(0);
  const char *lockdir = argc > 2 ? argv[2] : NULL;
  check_chmod();
  check_chown();
  check_link();
  check_unlink();
  check_mkdir();
  check_rmdir();
  check_nodes();
  umask(0);
  check_open();
  umask(0);
  check_rename();
  check_symlink();
  check_truncate();
  check_utimens();
  check_names();
  check_basic(lockdir);
  check_special();
  if (lockdir) check_locks(lockdir);
  printf("FSCHECK-END ok=%d fail=%d\n", oks, fails);
  return 0;
}
