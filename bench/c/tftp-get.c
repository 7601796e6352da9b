/*
 * A TFTP read client for the benchmarks (bench/tftp-read.js): RRQ with
 * blksize, windowsize (RFC 7440) and tsize, the data counted and dropped.
 * The datagrams queued are taken with one recvmmsg (up to a window's worth,
 * at most 64), and poll is called only when none is queued, so the client
 * costs about a receive and a poll per window and a send per window: a
 * windowed read is stop-and-wait, so the client's own time per window is
 * in the figure. curl and atftp are the other C clients: curl has no
 * windowsize, and atftp's windowed read is slower than the server it
 * measures.
 *
 *   tftp-get HOST PORT FILE BLKSIZE WINDOWSIZE [gro]
 *
 * With "gro" the socket asks for UDP_GRO: a window the server sent as one
 * segmented send (UDP GSO) is taken as one buffer and cut into its
 * datagrams here, where without it the kernel cuts it and queues each
 * datagram. Only the client's own cost changes; what the server sends,
 * and how it sends it, do not.
 *
 * Prints one JSON line: {"bytes":N,"seconds":S,"blksize":B,"windowsize":W,"datagrams":D,"cpuSeconds":C}
 * with the options the server agreed to (a server that ignores windowsize
 * is read lock-step), the DATA datagrams taken and the client's own CPU
 * time (user + system), to show it does not bound the figure. Exits non-zero with a message on an ERROR packet or
 * after 5 timeouts of 1 s in a row.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/udp.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void fail(const char *what) {
  fprintf(stderr, "tftp-get: %s\n", what);
  exit(1);
}

static void ack(int s, uint16_t block) {
  unsigned char a[4] = {0, 4, block >> 8, block & 0xff};
  if (send(s, a, 4, 0) != 4) fail("send ACK failed");
}

/* The value of option `name` in an OACK of `n` bytes, or NULL. */
static const char *option(const unsigned char *p, ssize_t n, const char *name) {
  ssize_t i = 2;
  while (i < n) {
    const char *k = (const char *)p + i;
    size_t kl = strnlen(k, n - i);
    if (i + (ssize_t)kl + 1 >= n) return NULL;
    const char *v = k + kl + 1;
    size_t vl = strnlen(v, n - i - kl - 1);
    if (strcasecmp(k, name) == 0) return v;
    i += kl + 1 + vl + 1;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 6 && !(argc == 7 && strcmp(argv[6], "gro") == 0)) fail("usage: tftp-get HOST PORT FILE BLKSIZE WINDOWSIZE [gro]");
  int gro = argc == 7;
  const char *file = argv[3];
  long blksize = atol(argv[4]), windowsize = atol(argv[5]);
  if (blksize < 8 || blksize > 65464 || windowsize < 1 || windowsize > 65535) fail("blksize 8-65464, windowsize 1-65535");
  struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) fail("HOST must be an IPv4 address");
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0) fail("socket failed");
  int rcvbuf = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (gro && setsockopt(s, SOL_UDP, UDP_GRO, &(int){1}, sizeof(int)) != 0) fail("UDP_GRO failed");

  unsigned char req[600];
  int n = snprintf((char *)req + 2, sizeof req - 2, "%s%coctet%cblksize%c%ld%ctsize%c0%c", file, 0, 0, 0, blksize, 0, 0, 0);
  n += 2;
  if (windowsize > 1) n += snprintf((char *)req + n, sizeof req - n, "windowsize%c%ld%c", 0, windowsize, 0);
  req[0] = 0;
  req[1] = 1;

  /* One slot a datagram of a window, each room for the largest block. */
  enum { SLOT = 65536 + 4, SLOTS_MAX = 64 };
  unsigned slots = windowsize < SLOTS_MAX ? (unsigned)windowsize : SLOTS_MAX;
  unsigned char *bufs = malloc((size_t)slots * SLOT);
  struct mmsghdr msgs[SLOTS_MAX];
  struct iovec iovs[SLOTS_MAX];
  struct sockaddr_in froms[SLOTS_MAX];
  /* room for the UDP_GRO control message: the size of the datagrams a buffer holds */
  union { char buf[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } controls[SLOTS_MAX];
  if (!bufs) fail("out of memory");
  double started = now();
  if (sendto(s, req, n, 0, (struct sockaddr *)&server, sizeof server) != n) fail("send RRQ failed");
  long agreedBlk = 512, agreedWin = 1;
  uint64_t bytes = 0, datagrams = 0;
  uint16_t last = 0;   /* last block received in order */
  long inWindow = 0;   /* blocks received since the last ACK */
  int connected = 0, timeouts = 0;
  for (;;) {
    for (unsigned i = 0; i < slots; i++) {
      iovs[i] = (struct iovec){.iov_base = bufs + (size_t)i * SLOT, .iov_len = SLOT};
      msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &froms[i], .msg_namelen = sizeof froms[i], .msg_iov = &iovs[i], .msg_iovlen = 1,
                                             .msg_control = gro ? controls[i].buf : NULL, .msg_controllen = gro ? sizeof controls[i].buf : 0}};
    }
    int count = recvmmsg(s, msgs, slots, MSG_DONTWAIT, NULL);
    if (count < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNREFUSED) fail("recvmmsg failed");
      struct pollfd p = {.fd = s, .events = POLLIN};
      int r = poll(&p, 1, 1000);
      if (r == 0) {
        if (++timeouts > 5) fail("timed out");
        if (connected) ack(s, last);
        else sendto(s, req, n, 0, (struct sockaddr *)&server, sizeof server);
      }
      continue;
    }
    for (int i = 0; i < count; i++) {
      ssize_t total = msgs[i].msg_len;
      /* a coalesced buffer holds datagrams of `each` bytes, the last one maybe shorter */
      ssize_t each = total;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          uint16_t g;
          memcpy(&g, CMSG_DATA(c), sizeof g);
          if (g > 0 && g < total) each = g;
        }
      for (ssize_t off = 0; off < total; off += each) {
        unsigned char *buf = bufs + (size_t)i * SLOT + off;
        ssize_t got = total - off < each ? total - off : each;
        if (got < 4) continue;
        if (!connected) {
          /* the server's TID: later datagrams from anywhere else are not ours */
          if (connect(s, (struct sockaddr *)&froms[i], msgs[i].msg_hdr.msg_namelen) != 0) fail("connect failed");
          server = froms[i];
          connected = 1;
        } else if (froms[i].sin_port != server.sin_port || froms[i].sin_addr.s_addr != server.sin_addr.s_addr) {
          continue; /* read before the connect took effect */
        }
        timeouts = 0;
        int op = buf[1];
        if (op == 5) {
          buf[got - 1] = 0;
          fprintf(stderr, "tftp-get: server sent ERROR %d: %s\n", (buf[2] << 8) | buf[3], (char *)buf + 4);
          return 1;
        }
        if (op == 6) {
          const char *v;
          if ((v = option(buf, got, "blksize"))) agreedBlk = atol(v);
          if ((v = option(buf, got, "windowsize"))) agreedWin = atol(v);
          ack(s, 0);
          continue;
        }
        if (op != 3) continue;
        uint16_t block = (buf[2] << 8) | buf[3];
        if (block != (uint16_t)(last + 1)) {
          /* a block lost or out of order: ACK the last good one (RFC 7440), once per window */
          if (inWindow > 0) {
            ack(s, last);
            inWindow = 0;
          }
          continue;
        }
        last = block;
        bytes += got - 4;
        datagrams++;
        if (got - 4 < agreedBlk) {
          ack(s, last);
          goto done;
        }
        if (++inWindow >= agreedWin) {
          ack(s, last);
          inWindow = 0;
        }
      }
    }
  }
done:
  double seconds = now() - started;
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  double cpu = u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
  printf("{\"bytes\":%llu,\"seconds\":%.6f,\"blksize\":%ld,\"windowsize\":%ld,\"datagrams\":%llu,\"cpuSeconds\":%.6f}\n",
         (unsigned long long)bytes, seconds, agreedBlk, agreedWin, (unsigned long long)datagrams, cpu);
  return 0;
}
