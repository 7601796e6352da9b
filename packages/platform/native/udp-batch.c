/* A UDP socket owned by native code, for servers whose cost is the system
 * calls per datagram (TFTP): readiness from a uv_poll on the event loop of
 * the thread that opened it (a worker's own loop in a worker), datagrams in
 * with recvmmsg into a slab allocated once, one JavaScript call per batch,
 * and out with sendmmsg from one caller's buffer. Nothing here reads the
 * datagrams' contents: lengths and addresses are reported, bytes are moved.
 *
 * Lifetime: while open, the handle object, its listener and its arrays are
 * held by strong references (an active watcher must not be collected). Close
 * stops the poll and closes the uv handle before the fd, then lets go of the
 * references; the C state is freed once both the uv close callback has run
 * and the handle object has been finalized, whichever comes last. An async
 * cleanup hook closes a socket still open when its thread's environment
 * ends (a worker terminated), so the loop is never closed with our handle.
 *
 * Scripted replies (udpScriptArm): the caller may hand over what it will send
 * when the datagrams it expects arrive in order, as byte strings to compare
 * and datagrams laid out in advance. A datagram equal to the next step's
 * trigger is answered here, in the same wakeup, without a JavaScript call;
 * the first that differs pauses the script and goes to onBatch with what
 * follows it. The bytes are compared whole, never parsed: the protocol stays
 * with the caller, which learns how many steps were taken (udpScriptStop).
 *
 * While a script is armed and JavaScript is not reading the socket, the
 * socket is served by a native loop (script-loop.c) rather than by the
 * event loop of its thread: the uv_poll stops, a loop thread's epoll takes
 * the fd, and that thread reads the datagrams and sends the steps' replies
 * with no JavaScript turn per datagram. It hands the socket back (uv_async,
 * never calling JavaScript itself) when a datagram differs from the next
 * trigger, when the kernel cannot take a reply (the queue waits for the
 * event loop's writable poll), or on an error; the received datagrams it did
 * not answer are delivered from the async callback before the poll reads
 * anything newer. Every JavaScript call on the socket first takes it back
 * under the loop's lock (the loop is then not inside it and never will be
 * for that hand-over), so the rest of this file runs on the owning thread
 * as before. */
#define _GNU_SOURCE
#include "udp-batch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include "script-loop.h"

#define UDP_REUSEADDR 1
#define UDP_IPV6ONLY 2
#define SLOTS_MAX 1024            /* the kernel's UIO_MAXIOV: recvmmsg takes no more a call */
#define SLOT_BYTES_MAX 65536      /* no UDP payload is larger */
#define DATAGRAM_MAX 65535
#define SEND_CHUNK 64             /* datagrams per sendmmsg; larger batches take several */
#define SEND_COUNT_MAX 65536      /* datagrams per udpSendBatch call */
#define REHOME_STEPS 16          /* steps served on a loop between looks at the peer's CPU */
#define READ_ROUNDS 8             /* full batches read per wakeup before the loop's other work */
#define QUEUE_BYTES_MAX (4u << 20)
#define ADDRESS_BYTES 24          /* per slot: family 4|6, 0, port (BE), 16 address bytes, scope id (LE) */
#define MAGIC 0x75647062u
/* UDP generic segmentation offload: a run of equal datagrams (a window of
 * DATA blocks) leaves as one send the kernel cuts into datagrams late, past
 * the route lookup and the copy from user memory. The whole run is one IP
 * datagram until then, so it stays under 64 KiB, and at most UDP_MAX_SEGMENTS. */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define GSO_BYTES_MAX 65000
#define GSO_SEGMENTS_MAX 64
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif
/* A file-backed script (udpScriptArmFile) lays out FILE_CHUNK_BYTES of the
 * file at a time, or FILE_WINDOWS windows when they are more (up to
 * FILE_CHUNK_BYTES_MAX), and never less than one window; at most
 * FILE_BLOCKS_MAX blocks (one preadv2 with an iovec per block: the kernel's
 * UIO_MAXIOV). */
#define FILE_CHUNK_BYTES (128u << 10)
#define FILE_CHUNK_BYTES_MAX (1u << 20)
#define FILE_WINDOWS 8u
#define FILE_BLOCKS_MAX 1024u
#define TFTP_DATA 3
#define TFTP_ACK 4

/* A datagram the kernel could not take yet (EAGAIN): the header, then its bytes. */
typedef struct {
  uint32_t length;
  uint32_t name_length;
  struct sockaddr_in6 name;
  uint32_t pad;
} queued_header;

/* Records stay 8-byte aligned: the header is read in place. */
static size_t record_size(size_t length) {
  return sizeof(queued_header) + ((length + 7) & ~(size_t)7);
}

/* Scripted replies, copied in when armed (nothing JavaScript can change or
 * detach is read on the way): step k answers a datagram equal to
 * bytes[k * trigger_bytes, +trigger_bytes) with plan[k] datagrams taken in
 * order after the triggers, of plan[steps + j] bytes each. */
typedef struct {
  bool armed;        /* matching datagrams; cleared by the first that differs */
  uint8_t *bytes;
  int32_t *plan;
  size_t bytes_cap, plan_cap;
  uint32_t trigger_bytes, steps, step;
  size_t datagram;   /* the next step's first datagram (index into the lengths) */
  size_t offset;     /* and its first byte */
  uint32_t taken;    /* steps taken since armed */
  uint64_t last_ns;  /* uv_hrtime of the last step taken */
  /* A file-backed script (file_fd >= 0, a dup of the caller's): when the
   * steps laid out are used up, the next windows of TFTP DATA are laid out
   * here from the page cache (never waiting for the disk), so a whole read
   * transfer is served without JavaScript while its file stays cached. */
  int file_fd;
  uint64_t file_size;
  uint32_t blksize, windowsize;
  uint64_t next_index, last_index; /* the block index the next window follows; the transfer's last */
  struct iovec *file_iov;
} reply_script;

typedef struct {
  uint32_t magic;
  napi_env env;
  int fd;
  int family;
  bool closed;
  bool released;
  bool handle_closed;
  bool finalized;
  bool writable_wanted;
  bool gso_off;        /* the kernel or the route refused a segmented send: datagrams go one by one */
  uv_poll_t poll;
  napi_async_cleanup_hook_handle cleanup;
  napi_async_context async;
  napi_ref self, listener, slab_ref, lengths_ref, addresses_ref;
  uint8_t *slab;       /* what onBatch sees: datagrams for JavaScript are copied here */
  int32_t *lengths;
  uint8_t *addresses;
  uint8_t *rbuf;       /* recvmmsg's own slots: a datagram the script answers never reaches the slab */
  uint32_t slots, slot_bytes;
  struct mmsghdr *rmsgs;
  struct iovec *riov;
  struct sockaddr_in6 *rnames;
  struct mmsghdr smsgs[SEND_CHUNK];
  struct iovec siov[SEND_CHUNK];
  uint8_t *queue;
  size_t queue_len, queue_head, queue_cap;
  reply_script script;
  /* Hand-over to a native loop (see the top): */
  uv_async_t returned_async; /* the loop's "given back" signal; referenced only while the loop holds the socket */
  int handles_open;          /* the poll and the async: freed once both are closed */
  script_ticket ticket;      /* ticket.loop: the loop this socket was last handed to (changed only by the owning thread, while no loop holds it) */
  bool on_loop;              /* the loop serves it; changed with the loop locked */
  bool returned;             /* the loop gave it back; take_back has not run yet */
  int pending_first, pending_count; /* rmsgs[first, count): received by the loop, not answered */
  int loop_error;            /* an errno the loop met, and its call */
  const char *loop_syscall;
  unsigned dispatching;      /* inside a JavaScript call from this socket's callbacks: no hand-over now */
} udp_sock;

/* Ends a script's file backing (its steps laid out stay). */
static void drop_file(reply_script *r) {
  if (r->file_fd >= 0) close(r->file_fd);
  r->file_fd = -1;
  r->next_index = r->last_index = 0;
}

static void free_sock(udp_sock *s) {
  free(s->rmsgs);
  free(s->riov);
  free(s->rnames);
  free(s->queue);
  free(s->rbuf);
  free(s->script.bytes);
  free(s->script.plan);
  free(s->script.file_iov);
  if (s->script.file_fd >= 0) close(s->script.file_fd);
  s->magic = 0;
  free(s);
}

static void on_poll_closed(uv_handle_t *h) {
  udp_sock *s = h->data;
  if (--s->handles_open > 0) return;
  s->handle_closed = true;
  if (s->cleanup != NULL) {
    napi_async_cleanup_hook_handle cleanup = s->cleanup;
    s->cleanup = NULL;
    napi_remove_async_cleanup_hook(cleanup);
  }
  if (s->finalized) free_sock(s);
}

static void drop_ref(napi_env env, napi_ref *ref) {
  if (*ref != NULL) napi_delete_reference(env, *ref);
  *ref = NULL;
}

static int flush_queue(udp_sock *s);
static void on_poll(uv_poll_t *h, int status, int events);
static int want_events(udp_sock *s);

/* Takes the socket back from its native loop if the loop holds it (the
 * caller is on the owning thread). Afterwards the loop is not serving it
 * and will not; datagrams it handed back wait for take_back. */
static void reclaim(udp_sock *s) {
  if (s->ticket.loop == NULL) return;
  script_loop_lock(s->ticket.loop);
  bool was = s->on_loop;
  if (was) {
    script_loop_unwatch(&s->ticket);
    s->on_loop = false;
  }
  script_loop_unlock(s->ticket.loop);
  if (was) {
    uv_unref((uv_handle_t *)&s->returned_async);
    if (!s->closed) {
      s->writable_wanted = s->queue_len > s->queue_head;
      uv_poll_start(&s->poll, want_events(s), on_poll);
    }
  }
}

/* Stops the poll, then closes the uv handle, then the fd (the poll must not
 * watch a closed fd, nor a number the kernel may hand out again). */
static void close_sock(udp_sock *s, bool with_env) {
  if (!s->closed) {
    reclaim(s);
    s->closed = true;
    if (s->queue_len > s->queue_head) flush_queue(s); /* one last try for what was already sent */
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_poll_closed);
    uv_close((uv_handle_t *)&s->returned_async, on_poll_closed);
    close(s->fd);
    s->fd = -1;
    drop_file(&s->script);
    free(s->queue);
    s->queue = NULL;
    s->queue_len = s->queue_head = s->queue_cap = 0;
  }
  if (with_env && !s->released) {
    s->released = true;
    napi_env env = s->env;
    drop_ref(env, &s->listener);
    drop_ref(env, &s->slab_ref);
    drop_ref(env, &s->lengths_ref);
    drop_ref(env, &s->addresses_ref);
    s->script.armed = false;
    if (s->async != NULL) napi_async_destroy(env, s->async);
    s->async = NULL;
    /* The handle object may be collected from now on. */
    drop_ref(env, &s->self);
  }
}

static void on_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  udp_sock *s = arg;
  s->cleanup = handle;
  /* on_poll_closed removes the hook once the uv handle is closed. */
  close_sock(s, true);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  udp_sock *s = data;
  s->finalized = true;
  /* Open here only when the environment is torn down without its cleanup hooks. */
  if (!s->closed) close_sock(s, false);
  if (s->handle_closed) free_sock(s);
}

/* Calls listener[method](argv...) with the listener as receiver. A JavaScript
 * exception is taken off the environment (left pending, every later Node-API
 * call would fail) and returned in *thrown. False when no call could be made
 * (the environment is going away). */
static bool call_listener(udp_sock *s, const char *method, size_t argc, napi_value *argv, napi_value *thrown) {
  napi_env env = s->env;
  napi_value listener, fn;
  *thrown = NULL;
  if (s->listener == NULL || napi_get_reference_value(env, s->listener, &listener) != napi_ok || listener == NULL ||
      napi_get_named_property(env, listener, method, &fn) != napi_ok) {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, thrown);
    return *thrown != NULL;
  }
  napi_valuetype type;
  if (napi_typeof(env, fn, &type) != napi_ok || type != napi_function) return false;
  napi_status status = napi_make_callback(env, s->async, listener, fn, argc, argv, NULL);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_get_and_clear_last_exception(env, thrown);
    return true;
  }
  return status == napi_ok;
}

/* Reports an error to listener.onError; if that throws too, the exception
 * goes to the process ('uncaughtException'), never silently away. */
static bool emit_error(udp_sock *s, napi_value error) {
  napi_value thrown;
  if (error == NULL) return false;
  if (!call_listener(s, "onError", 1, &error, &thrown)) return false;
  if (thrown != NULL) napi_fatal_exception(s->env, thrown);
  return true;
}

static bool transient(int err) {
  /* Errors a datagram socket reports once for an ICMP message and then clears. */
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EHOSTDOWN || err == ENETDOWN ||
         err == EPROTO || err == ENOPROTOOPT || err == EMSGSIZE || err == ENOBUFS || err == ENOMEM;
}

static void write_address(uint8_t *out, const struct sockaddr_in6 *name, socklen_t length) {
  memset(out, 0, ADDRESS_BYTES);
  const struct sockaddr *sa = (const struct sockaddr *)name;
  if (sa->sa_family == AF_INET && length >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)name;
    out[0] = 4;
    memcpy(out + 2, &in->sin_port, 2);
    memcpy(out + 4, &in->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6 && length >= (socklen_t)sizeof(struct sockaddr_in6)) {
    out[0] = 6;
    memcpy(out + 2, &name->sin6_port, 2);
    memcpy(out + 4, &name->sin6_addr, 16);
    uint32_t scope = name->sin6_scope_id;
    out[20] = (uint8_t)scope;
    out[21] = (uint8_t)(scope >> 8);
    out[22] = (uint8_t)(scope >> 16);
    out[23] = (uint8_t)(scope >> 24);
  }
}

/* The arrays handed to JavaScript must still be the memory recvmmsg fills:
 * an ArrayBuffer transferred away (postMessage) is detached. */
static bool arrays_intact(udp_sock *s) {
  napi_env env = s->env;
  napi_value v;
  void *data = NULL;
  size_t length = 0;
  if (napi_get_reference_value(env, s->slab_ref, &v) != napi_ok || v == NULL ||
      napi_get_buffer_info(env, v, &data, &length) != napi_ok || data != s->slab ||
      length != (size_t)s->slots * s->slot_bytes)
    return false;
  if (napi_get_reference_value(env, s->addresses_ref, &v) != napi_ok || v == NULL ||
      napi_get_buffer_info(env, v, &data, &length) != napi_ok || data != s->addresses ||
      length != (size_t)s->slots * ADDRESS_BYTES)
    return false;
  napi_typedarray_type type;
  if (napi_get_reference_value(env, s->lengths_ref, &v) != napi_ok || v == NULL ||
      napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      data != (void *)s->lengths || length != s->slots)
    return false;
  return true;
}

static int send_run(udp_sock *s, const uint8_t *data, const int32_t *lengths, int32_t single, size_t count,
                    const struct sockaddr *to, socklen_t to_length, bool on_loop);
static bool refill(reply_script *r);

/* Whether the script has a step to take, or can lay one out from its file. */
static bool script_has_steps(const reply_script *r) {
  return r->step < r->steps || (r->file_fd >= 0 && r->next_index < r->last_index);
}

/* Answers datagrams 0.. of the batch that match the script's next steps, in
 * order; returns how many it took. The first that differs (or any, once the
 * steps are used up) pauses the script and, with the rest, is the caller's.
 * A send that fails ends the script and sets *err (the caller reports it);
 * on_loop: called on a native loop (nothing of libuv's or Node's touched). */
static int run_script(udp_sock *s, int n, int *err_out, bool on_loop) {
  reply_script *r = &s->script;
  if (!r->armed) return 0;
  int i = 0;
  for (; i < n && (r->step < r->steps || refill(r)); i++) {
    if ((s->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) || s->rmsgs[i].msg_len != r->trigger_bytes ||
        memcmp(s->rbuf + (size_t)i * s->slot_bytes, r->bytes + (size_t)r->step * r->trigger_bytes, r->trigger_bytes) != 0)
      break;
    size_t count = (size_t)r->plan[r->step];
    const int32_t *lengths = r->plan + r->steps + r->datagram;
    size_t total = 0;
    for (size_t j = 0; j < count; j++) total += (size_t)lengths[j];
    int err = count > 0 ? send_run(s, r->bytes + r->offset, lengths, 0, count, NULL, 0, on_loop) : 0;
    r->step++;
    r->taken++;
    r->datagram += count;
    r->offset += total;
    r->last_ns = uv_hrtime();
    if (err != 0) {
      r->armed = false;
      *err_out = err;
      return i + 1;
    }
    /* The steps used up: the next chunk is laid out now, while the peer
     * takes in the reply just sent, rather than between its ACK and the
     * reply to that (a lock-step read of 64 KiB blocks waited for a 512 KiB
     * read every 8 blocks). The reply has left or been queued: the bytes
     * may be overwritten. */
    if (r->step >= r->steps && r->file_fd >= 0) refill(r);
  }
  if (i < n) r->armed = false;
  return i;
}

/* Slot i's header as recvmmsg takes it (the kernel rewrites the name length and flags). */
static void reset_slot(udp_sock *s, uint32_t i) {
  memset(&s->rmsgs[i], 0, sizeof s->rmsgs[i]);
  s->riov[i].iov_base = s->rbuf + (size_t)i * s->slot_bytes;
  s->riov[i].iov_len = s->slot_bytes;
  s->rmsgs[i].msg_hdr.msg_name = &s->rnames[i];
  s->rmsgs[i].msg_hdr.msg_namelen = sizeof s->rnames[i];
  s->rmsgs[i].msg_hdr.msg_iov = &s->riov[i];
  s->rmsgs[i].msg_hdr.msg_iovlen = 1;
}

/* Datagrams first..n-1 into the arrays onBatch reads. False when they are
 * not the memory handed out any more (an ArrayBuffer transferred away). */
static bool publish(udp_sock *s, int first, int n) {
  if (!arrays_intact(s)) return false;
  for (int i = first; i < n; i++) {
    const struct msghdr *h = &s->rmsgs[i].msg_hdr;
    bool whole = !(h->msg_flags & MSG_TRUNC) && s->rmsgs[i].msg_len <= s->slot_bytes;
    /* -1: longer than a slot (cut short by the kernel), for the caller to drop. */
    s->lengths[i] = whole ? (int32_t)s->rmsgs[i].msg_len : -1;
    if (whole) memcpy(s->slab + (size_t)i * s->slot_bytes, s->rbuf + (size_t)i * s->slot_bytes, s->rmsgs[i].msg_len);
    socklen_t name_length = h->msg_namelen <= sizeof s->rnames[i] ? h->msg_namelen : 0;
    write_address(s->addresses + (size_t)i * ADDRESS_BYTES, &s->rnames[i], name_length);
  }
  return true;
}

/* Datagrams first..n-1 of the read slots to onBatch. False when this turn
 * reads no more (the socket closed, or no JavaScript can run any more). */
static bool deliver(udp_sock *s, int first, int n) {
  napi_env env = s->env;
  if (!publish(s, first, n)) {
    emit_error(s, errno_error(env, EFAULT, "recvmmsg"));
    close_sock(s, true);
    return false;
  }
  napi_value argv[5], thrown;
  argv[0] = make_int(env, n);
  argv[4] = make_int(env, first);
  if (napi_get_reference_value(env, s->slab_ref, &argv[1]) != napi_ok ||
      napi_get_reference_value(env, s->lengths_ref, &argv[2]) != napi_ok ||
      napi_get_reference_value(env, s->addresses_ref, &argv[3]) != napi_ok)
    return false;
  if (!call_listener(s, "onBatch", 5, argv, &thrown)) {
    /* No JavaScript can run here any more: stop watching rather than spin on a readable fd. */
    if (!s->closed) uv_poll_stop(&s->poll);
    return false;
  }
  if (thrown != NULL && !emit_error(s, thrown)) return false;
  return !s->closed;
}

/* A receive error: a failure that is not a one-off report would repeat at every wakeup, so the socket closes. */
static void receive_failed(udp_sock *s, int err) {
  if (!transient(err)) close_sock(s, false);
  emit_error(s, errno_error(s->env, err, "recvmmsg"));
  if (s->closed) close_sock(s, true);
}

static void read_batches(udp_sock *s) {
  napi_env env = s->env;
  for (int round = 0; round < READ_ROUNDS && !s->closed; round++) {
    int n = recvmmsg(s->fd, s->rmsgs, s->slots, MSG_DONTWAIT, NULL);
    if (n < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR) continue;
      receive_failed(s, err);
      return;
    }
    if (n == 0) return;
    int err = 0;
    int first = run_script(s, n, &err, false);
    if (err != 0) emit_error(s, errno_error(env, err, "sendmmsg"));
    if (s->closed) return;
    if (first < n && !deliver(s, first, n)) return;
    for (int i = 0; i < n; i++) reset_slot(s, (uint32_t)i);
    if ((uint32_t)n < s->slots) return;
  }
}

/* On the native loop, with it locked: gives the socket back to its thread
 * with what it must still see (datagrams first..n-1, an error). */
static bool hand_back(udp_sock *s, int first, int n, int err, const char *syscall) {
  s->pending_first = first;
  s->pending_count = n;
  s->loop_error = err;
  s->loop_syscall = syscall;
  s->on_loop = false;
  s->returned = true;
  s->ticket.watching = false; /* the loop ends the watch as this returns false */
  uv_async_send(&s->returned_async);
  return false;
}

/* The CPU the socket's last datagram came in on (on loopback, the one its
 * sender ran on), or -1. */
static int incoming_cpu(int fd) {
  int cpu = -1;
  socklen_t length = sizeof cpu;
  return getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &length) == 0 ? cpu : -1;
}

/* Whether the peer's datagrams come in on a CPU other than the one the
 * socket's loop is bound to, a loop is bound there, and that loop serves
 * fewer sockets than this one (this one counted): a move never leaves the
 * loops less even, so the transfers of many peers on one CPU stay spread. */
static bool peer_elsewhere(udp_sock *s) {
  int here = script_loop_cpu(s->ticket.loop), cpu = incoming_cpu(s->fd);
  if (here < 0 || cpu < 0 || cpu == here) return false;
  script_loop *there = script_loop_on(cpu);
  return there != NULL && script_loop_watched(there) < script_loop_watched(s->ticket.loop);
}

/* One datagram into slot 0, its length, flags and sender where recvmmsg
 * puts them: recvfrom, without recvmmsg's headers and iovec to copy in and
 * out (recvmmsg was a sixth of the loops' samples in a 100-client storm).
 * MSG_TRUNC: the datagram's whole length, to tell one cut short. 1, or -1
 * and errno. */
static int receive_one(udp_sock *s) {
  socklen_t name_length = sizeof s->rnames[0];
  ssize_t got = recvfrom(s->fd, s->rbuf, s->slot_bytes, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&s->rnames[0], &name_length);
  if (got < 0) return -1;
  bool cut = (size_t)got > s->slot_bytes;
  s->rmsgs[0].msg_len = cut ? s->slot_bytes : (unsigned)got;
  s->rmsgs[0].msg_hdr.msg_flags = cut ? MSG_TRUNC : 0;
  s->rmsgs[0].msg_hdr.msg_namelen = name_length;
  return 1;
}

/* The native loop's serve function (locked): reads as read_batches does and
 * answers what the script expects; anything else goes back to the thread. */
static bool serve_on_loop(void *owner) {
  udp_sock *s = owner;
  /* One datagram a wakeup: a script's peer sends one (an ACK) and waits for
   * the reply, and a recvmmsg of more slots pays a second, empty receive in
   * the kernel for every block. epoll is level-triggered: a datagram still
   * queued brings the loop back. */
  for (;;) {
    int n = receive_one(s);
    if (n < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return true;
      if (err == EINTR) continue;
      return hand_back(s, 0, 0, err, "recvmmsg");
    }
    int err = 0;
    int first = run_script(s, n, &err, true);
    /* A reply the kernel could not take waits in the queue for the thread's writable poll. */
    if (err != 0 || first < n || s->queue_len > s->queue_head) return hand_back(s, first, n, err, "sendmmsg");
    reset_slot(s, 0);
    /* The peer moved to another CPU (looked at every REHOME_STEPS steps, from
     * the first): back to the thread, which hands the socket to that CPU's loop. */
    if (s->script.taken % REHOME_STEPS == 1 && peer_elsewhere(s)) return hand_back(s, 0, 0, 0, NULL);
    return true;
  }
}

/* Hands the socket to a native loop when a script is armed with steps left
 * and nothing else needs the thread: not from inside one of its callbacks
 * (their caller still uses the read slots), not with datagrams queued or
 * handed back and not yet delivered. */
static void maybe_hand_over(udp_sock *s) {
  reply_script *r = &s->script;
  if (s->closed || !r->armed || !script_has_steps(r) || s->dispatching > 0 || s->queue_len > s->queue_head) return;
  script_loop *loop = s->ticket.loop;
  if (loop != NULL) {
    script_loop_lock(loop);
    bool held = s->on_loop || s->returned;
    script_loop_unlock(loop);
    if (held) return;
  }
  /* The loop on the CPU the peer sends from, picked anew at each hand-over
   * (the peer may have moved); only this thread moves the socket between
   * loops, and only while no loop holds it. */
  int cpu = incoming_cpu(s->fd);
  if (loop == NULL || (cpu >= 0 && script_loop_cpu(loop) != cpu)) {
    script_loop *pick = script_loop_pick(cpu);
    if (pick == NULL) return;
    if (loop == NULL || script_loop_cpu(pick) == cpu) loop = pick;
  }
  script_loop_lock(loop);
  int err = EBUSY;
  if (!s->on_loop && !s->returned) {
    uv_poll_stop(&s->poll);
    err = script_loop_watch(loop, s->fd, s, serve_on_loop, &s->ticket);
    if (err == 0) s->on_loop = true;
  }
  script_loop_unlock(loop);
  s->ticket.loop = loop;
  if (err == 0) {
    s->writable_wanted = false;
    uv_ref((uv_handle_t *)&s->returned_async); /* the loop's work keeps the thread's loop alive, as the poll did */
  } else if (err != EBUSY) {
    uv_poll_start(&s->poll, want_events(s), on_poll); /* served here, as without a native loop */
  }
}

/* On the owning thread: what the native loop gave back, delivered before
 * the poll reads anything newer, then the poll watches again. */
static void take_back(udp_sock *s) {
  script_loop *loop = s->ticket.loop;
  if (loop == NULL) return;
  script_loop_lock(loop);
  bool returned = s->returned;
  int first = s->pending_first, n = s->pending_count, err = s->loop_error;
  const char *syscall = s->loop_syscall;
  s->returned = false;
  s->pending_first = s->pending_count = s->loop_error = 0;
  script_loop_unlock(loop);
  if (!returned || s->closed) return;
  uv_unref((uv_handle_t *)&s->returned_async);
  s->writable_wanted = s->queue_len > s->queue_head;
  uv_poll_start(&s->poll, want_events(s), on_poll);
  s->dispatching++;
  bool more = true;
  if (err != 0) {
    if (n == 0) receive_failed(s, err);
    else emit_error(s, errno_error(s->env, err, syscall));
    more = !s->closed;
  }
  if (more && first < n) more = deliver(s, first, n);
  s->dispatching--;
  if (!more) return;
  for (int i = 0; i < n; i++) reset_slot(s, (uint32_t)i);
  maybe_hand_over(s);
}

static void on_returned(uv_async_t *h) {
  udp_sock *s = h->data;
  if (s->closed) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  take_back(s);
  napi_close_handle_scope(s->env, scope);
}

static int want_events(udp_sock *s) {
  return UV_READABLE | (s->queue_len > s->queue_head ? UV_WRITABLE : 0);
}

static void rearm(udp_sock *s) {
  if (s->closed) return;
  bool want = s->queue_len > s->queue_head;
  if (want == s->writable_wanted) return;
  s->writable_wanted = want;
  uv_poll_start(&s->poll, want_events(s), on_poll);
}

/* Sends queued datagrams: 0 when all left or the kernel is full again, else an errno (the queue is dropped). */
static int flush_queue(udp_sock *s) {
  while (s->queue_head < s->queue_len) {
    unsigned k = 0;
    size_t at = s->queue_head;
    while (k < SEND_CHUNK && at < s->queue_len) {
      queued_header *q = (queued_header *)(s->queue + at);
      memset(&s->smsgs[k], 0, sizeof s->smsgs[k]);
      s->siov[k].iov_base = s->queue + at + sizeof *q;
      s->siov[k].iov_len = q->length;
      s->smsgs[k].msg_hdr.msg_name = q->name_length ? &q->name : NULL;
      s->smsgs[k].msg_hdr.msg_namelen = q->name_length;
      s->smsgs[k].msg_hdr.msg_iov = &s->siov[k];
      s->smsgs[k].msg_hdr.msg_iovlen = 1;
      at += record_size(q->length);
      k++;
    }
    int r = sendmmsg(s->fd, s->smsgs, k, MSG_DONTWAIT);
    if (r < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return 0;
      s->queue_head = s->queue_len = 0;
      return err;
    }
    for (int j = 0; j < r; j++) s->queue_head += record_size(s->siov[j].iov_len);
  }
  s->queue_head = s->queue_len = 0;
  return 0;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  udp_sock *s = h->data;
  if (s->closed) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  s->dispatching++;
  /* Datagrams the native loop gave back are older than any the poll reads;
   * and an event read before the poll stopped is not this thread's to act on. */
  bool returned = false, held = false;
  if (s->ticket.loop != NULL) {
    script_loop_lock(s->ticket.loop);
    returned = s->returned;
    held = s->on_loop;
    script_loop_unlock(s->ticket.loop);
  }
  if (returned) take_back(s);
  if (s->closed || held) {
    s->dispatching--;
    napi_close_handle_scope(env, scope);
    return;
  }
  if (status < 0) {
    /* libuv stops a poll at POLLERR and calls it EBADF; for a socket that is
     * mostly a pending error (an ICMP port unreachable: ECONNREFUSED), which
     * SO_ERROR reads and clears. Then the socket works on, watched again. */
    int pending = 0;
    socklen_t length = sizeof pending;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &pending, &length) == 0 &&
        uv_poll_start(&s->poll, want_events(s), on_poll) == 0) {
      if (pending != 0) emit_error(s, errno_error(env, pending, "recvmmsg"));
    } else {
      close_sock(s, false);
      emit_error(s, errno_error(env, -status, "uv_poll"));
      close_sock(s, true);
    }
  } else {
    if (events & UV_WRITABLE) {
      int err = flush_queue(s);
      rearm(s);
      if (err != 0) emit_error(s, errno_error(env, err, "sendmmsg"));
    }
    if (!s->closed && (events & UV_READABLE)) read_batches(s);
  }
  s->dispatching--;
  maybe_hand_over(s);
  napi_close_handle_scope(env, scope);
}

/* Keeps datagrams the kernel refused with EAGAIN, in order, to leave when the socket is writable. */
static int enqueue(udp_sock *s, const uint8_t *data, size_t length, const struct sockaddr *to, socklen_t to_length) {
  size_t need = record_size(length);
  if (s->queue_head > 0 && s->queue_head == s->queue_len) s->queue_head = s->queue_len = 0;
  if (s->queue_len - s->queue_head + need > QUEUE_BYTES_MAX) return ENOBUFS;
  if (s->queue_len + need > s->queue_cap) {
    /* Move what is left to the front before growing. */
    if (s->queue_head > 0) {
      memmove(s->queue, s->queue + s->queue_head, s->queue_len - s->queue_head);
      s->queue_len -= s->queue_head;
      s->queue_head = 0;
    }
    if (s->queue_len + need > s->queue_cap) {
      size_t cap = s->queue_cap ? s->queue_cap : 16384;
      while (cap < s->queue_len + need) cap *= 2;
      uint8_t *grown = realloc(s->queue, cap);
      if (grown == NULL) return ENOMEM;
      s->queue = grown;
      s->queue_cap = cap;
    }
  }
  queued_header q;
  memset(&q, 0, sizeof q);
  q.length = (uint32_t)length;
  q.name_length = to != NULL ? (uint32_t)to_length : 0;
  if (to != NULL) memcpy(&q.name, to, to_length);
  memcpy(s->queue + s->queue_len, &q, sizeof q);
  memcpy(s->queue + s->queue_len + sizeof q, data, length);
  s->queue_len += need;
  return 0;
}

/* Sends the run of equal datagrams that starts the batch (the last may be
 * shorter) as one segmented send: how many left, 0 when there is no run of
 * two or the kernel cannot segment it (then never again on this socket),
 * or -errno for the caller to treat as a send's error. */
static int send_segmented(udp_sock *s, const uint8_t *data, const int32_t *lengths, size_t count,
                          const struct sockaddr *to, socklen_t to_length) {
  size_t size = (size_t)lengths[0], total = size, k = 1;
  if (size == 0) return 0;
  while (k < count && k < GSO_SEGMENTS_MAX && total + (size_t)lengths[k] <= GSO_BYTES_MAX && (size_t)lengths[k] <= size) {
    total += (size_t)lengths[k];
    k++;
    if ((size_t)lengths[k - 1] < size) break; /* only the last segment may be shorter */
  }
  if (k < 2) return 0;
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = (void *)data, .iov_len = total};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = (void *)to;
  msg.msg_namelen = to != NULL ? to_length : 0;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t segment = (uint16_t)size;
  memcpy(CMSG_DATA(c), &segment, sizeof segment);
  if (sendmsg(s->fd, &msg, MSG_DONTWAIT) >= 0) return (int)k;
  int err = errno;
  /* No segmentation here (an old kernel, a device without checksum offload, a segment over the MTU): one by one from now on. */
  if (err == EINVAL || err == EIO || err == ENOPROTOOPT || err == EOPNOTSUPP || err == EMSGSIZE) {
    s->gso_off = true;
    return 0;
  }
  return -err;
}

/* Sends count datagrams laid end to end from data (lengths[i] bytes each,
 * already checked against the buffer). What the kernel cannot take now is
 * queued. 0 or an errno. */
static int send_run(udp_sock *s, const uint8_t *data, const int32_t *lengths, int32_t single, size_t count,
                    const struct sockaddr *to, socklen_t to_length, bool on_loop) {
  size_t sent = 0, at = 0;
  bool queueing = s->queue_len > s->queue_head;
  if (queueing) {
    int err = flush_queue(s);
    if (err != 0) return err;
    queueing = s->queue_len > s->queue_head;
  }
  while (!queueing && sent < count) {
    int gso = s->gso_off || lengths == NULL ? 0 : send_segmented(s, data + at, lengths + sent, count - sent, to, to_length);
    if (gso > 0) {
      for (int j = 0; j < gso; j++) at += (size_t)lengths[sent + j];
      sent += (size_t)gso;
      continue;
    }
    if (gso < 0) {
      int err = -gso;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        queueing = true;
        break;
      }
      return err;
    }
    unsigned k = count - sent < SEND_CHUNK ? (unsigned)(count - sent) : SEND_CHUNK;
    size_t off = at;
    for (unsigned j = 0; j < k; j++) {
      size_t length = lengths != NULL ? (size_t)lengths[sent + j] : (size_t)single;
      memset(&s->smsgs[j], 0, sizeof s->smsgs[j]);
      s->siov[j].iov_base = (void *)(data + off);
      s->siov[j].iov_len = length;
      s->smsgs[j].msg_hdr.msg_name = (void *)to;
      s->smsgs[j].msg_hdr.msg_namelen = to != NULL ? to_length : 0;
      s->smsgs[j].msg_hdr.msg_iov = &s->siov[j];
      s->smsgs[j].msg_hdr.msg_iovlen = 1;
      off += length;
    }
    /* One datagram (a lock-step block): sendto, without sendmmsg's headers to copy in. */
    int r = k == 1 ? (sendto(s->fd, s->siov[0].iov_base, s->siov[0].iov_len, MSG_DONTWAIT, to, to != NULL ? to_length : 0) < 0 ? -1 : 1)
                   : sendmmsg(s->fd, s->smsgs, k, MSG_DONTWAIT);
    if (r < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        queueing = true;
        break;
      }
      return err;
    }
    for (int j = 0; j < r; j++) at += s->siov[j].iov_len;
    sent += (size_t)r;
  }
  for (; sent < count; sent++) {
    size_t length = lengths != NULL ? (size_t)lengths[sent] : (size_t)single;
    int err = enqueue(s, data + at, length, to, to_length);
    if (err != 0) {
      if (!on_loop) rearm(s);
      return err;
    }
    at += length;
  }
  /* On a native loop the thread's poll is stopped: the hand-back restarts it, writable too. */
  if (!on_loop) rearm(s);
  return 0;
}

static udp_sock *arg_sock(call_ctx *ctx, size_t i) {
  udp_sock *s = NULL;
  napi_valuetype type;
  if (i < ctx->argc && napi_typeof(ctx->env, ctx->argv[i], &type) == napi_ok && type == napi_object &&
      napi_unwrap(ctx->env, ctx->argv[i], (void **)&s) == napi_ok && s != NULL && s->magic == MAGIC) {
    if (s->closed) {
      throw_errno(ctx->env, EBADF, ctx->syscall);
      return NULL;
    }
    return s;
  }
  bool pending = false;
  napi_value ignored;
  if (napi_is_exception_pending(ctx->env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(ctx->env, &ignored);
  throw_arg_error(ctx->env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, "socket", "a socket from udpOpen");
  return NULL;
}

static bool arg_bytes(call_ctx *ctx, size_t i, const char *name, uint8_t **data, size_t *length) {
  napi_valuetype type;
  bool is_typed = false;
  napi_typedarray_type ta_type = napi_int8_array;
  if (i < ctx->argc && napi_typeof(ctx->env, ctx->argv[i], &type) == napi_ok && type == napi_object)
    napi_is_typedarray(ctx->env, ctx->argv[i], &is_typed);
  if (is_typed &&
      napi_get_typedarray_info(ctx->env, ctx->argv[i], &ta_type, length, (void **)data, NULL, NULL) != napi_ok)
    return false;
  if (!is_typed || ta_type != napi_uint8_array) {
    throw_arg_error(ctx->env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, name, "an instance of Buffer or Uint8Array");
    return false;
  }
  if (*length > 0 && *data == NULL) {
    throw_errno(ctx->env, EFAULT, ctx->syscall); /* detached */
    return false;
  }
  return true;
}

/* An IP literal and port as the socket's family takes it: an IPv4 address on
 * an IPv6 socket becomes ::ffff:a.b.c.d. */
static bool arg_destination(call_ctx *ctx, size_t i, int family, struct sockaddr_in6 *out, socklen_t *length) {
  char address[INET6_ADDRSTRLEN];
  int64_t port;
  if (!arg_string(ctx, i, "address", address, sizeof address) || !arg_int64(ctx, i + 1, "port", 1, 65535, &port))
    return false;
  memset(out, 0, sizeof *out);
  struct in_addr v4;
  if (inet_pton(AF_INET, address, &v4) == 1) {
    if (family == AF_INET) {
      struct sockaddr_in *in = (struct sockaddr_in *)out;
      in->sin_family = AF_INET;
      in->sin_port = htons((uint16_t)port);
      in->sin_addr = v4;
      *length = sizeof *in;
      return true;
    }
    out->sin6_family = AF_INET6;
    out->sin6_port = htons((uint16_t)port);
    out->sin6_addr.s6_addr[10] = 0xff;
    out->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&out->sin6_addr.s6_addr[12], &v4, 4);
    *length = sizeof *out;
    return true;
  }
  if (family == AF_INET6 && inet_pton(AF_INET6, address, &out->sin6_addr) == 1) {
    out->sin6_family = AF_INET6;
    out->sin6_port = htons((uint16_t)port);
    *length = sizeof *out;
    return true;
  }
  throw_arg_error(ctx->env, false, "ERR_INVALID_ARG_VALUE", ctx->syscall, "address",
                  family == AF_INET ? "an IPv4 address" : "an IPv4 or IPv6 address");
  return false;
}

static bool is_listener(call_ctx *ctx, size_t i) {
  napi_valuetype type;
  napi_value fn;
  if (i >= ctx->argc || napi_typeof(ctx->env, ctx->argv[i], &type) != napi_ok || type != napi_object) goto bad;
  const char *methods[] = {"onBatch", "onError"};
  for (int m = 0; m < 2; m++) {
    if (napi_get_named_property(ctx->env, ctx->argv[i], methods[m], &fn) != napi_ok ||
        napi_typeof(ctx->env, fn, &type) != napi_ok || type != napi_function)
      goto bad;
  }
  return true;
bad:;
  bool pending = false;
  napi_value ignored;
  if (napi_is_exception_pending(ctx->env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(ctx->env, &ignored);
  throw_arg_error(ctx->env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, "listener",
                  "an object with onBatch and onError methods");
  return false;
}

/* udpOpen(address, port, flags, device, sendBufferBytes, slots, slotBytes, listener) */
static napi_value js_udp_open(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  char address[INET6_ADDRSTRLEN], device[IFNAMSIZ];
  int64_t port, flags, send_buffer, slots, slot_bytes;
  if (!ctx_init(&ctx, env, info, "udpOpen", 8) || !arg_string(&ctx, 0, "address", address, sizeof address) ||
      !arg_int64(&ctx, 1, "port", 0, 65535, &port) ||
      !arg_int64(&ctx, 2, "flags", 0, UDP_REUSEADDR | UDP_IPV6ONLY, &flags) ||
      !arg_string(&ctx, 3, "device", device, sizeof device) ||
      !arg_int64(&ctx, 4, "sendBufferBytes", 0, INT32_MAX / 2, &send_buffer) ||
      !arg_int64(&ctx, 5, "slots", 1, SLOTS_MAX, &slots) ||
      !arg_int64(&ctx, 6, "slotBytes", 1, SLOT_BYTES_MAX, &slot_bytes) || !is_listener(&ctx, 7))
    return NULL;
  struct sockaddr_in6 local;
  memset(&local, 0, sizeof local);
  socklen_t local_length;
  int family;
  struct in_addr v4;
  if (inet_pton(AF_INET, address, &v4) == 1) {
    struct sockaddr_in *in = (struct sockaddr_in *)&local;
    family = in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    in->sin_addr = v4;
    local_length = sizeof *in;
  } else if (inet_pton(AF_INET6, address, &local.sin6_addr) == 1) {
    family = local.sin6_family = AF_INET6;
    local.sin6_port = htons((uint16_t)port);
    local_length = sizeof local;
  } else {
    return throw_arg_error(env, false, "ERR_INVALID_ARG_VALUE", "udpOpen", "address", "an IPv4 or IPv6 address");
  }

  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  int one = 1, v6only = (flags & UDP_IPV6ONLY) ? 1 : 0, size = (int)send_buffer;
  if (((flags & UDP_REUSEADDR) && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
      (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0) ||
      (device[0] != '\0' && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, (socklen_t)strlen(device)) < 0)) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "setsockopt");
  }
  /* The kernel caps it at net.core.wmem_max; a smaller buffer is still a working socket. */
  if (size > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (bind(fd, (struct sockaddr *)&local, local_length) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }

  udp_sock *s = calloc(1, sizeof *s);
  if (s != NULL) {
    s->script.file_fd = -1;
    s->rmsgs = calloc((size_t)slots, sizeof *s->rmsgs);
    s->riov = calloc((size_t)slots, sizeof *s->riov);
    s->rnames = calloc((size_t)slots, sizeof *s->rnames);
  }
  if (s != NULL) s->rbuf = malloc((size_t)slots * (size_t)slot_bytes);
  if (s == NULL || s->rmsgs == NULL || s->riov == NULL || s->rnames == NULL || s->rbuf == NULL) {
    close(fd);
    if (s != NULL) free_sock(s);
    return throw_errno(env, ENOMEM, "udpOpen");
  }
  s->magic = MAGIC;
  s->env = env;
  s->fd = fd;
  s->family = family;
  s->slots = (uint32_t)slots;
  s->slot_bytes = (uint32_t)slot_bytes;
  for (uint32_t i = 0; i < s->slots; i++) reset_slot(s, i);

  napi_value handle, slab, lengths_ab, lengths, addresses, name;
  void *lengths_data = NULL;
  bool ok = napi_create_object(env, &handle) == napi_ok &&
            napi_create_buffer(env, (size_t)slots * (size_t)slot_bytes, (void **)&s->slab, &slab) == napi_ok &&
            napi_create_arraybuffer(env, (size_t)slots * sizeof(int32_t), &lengths_data, &lengths_ab) == napi_ok &&
            napi_create_typedarray(env, napi_int32_array, (size_t)slots, lengths_ab, 0, &lengths) == napi_ok &&
            napi_create_buffer(env, (size_t)slots * ADDRESS_BYTES, (void **)&s->addresses, &addresses) == napi_ok &&
            set_named(env, handle, "slab", slab) && set_named(env, handle, "lengths", lengths) &&
            set_named(env, handle, "addresses", addresses) &&
            napi_create_string_utf8(env, "netboot.udp", NAPI_AUTO_LENGTH, &name) == napi_ok;
  if (!ok) {
    close(fd);
    free_sock(s);
    return NULL;
  }
  s->lengths = lengths_data;
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL || uv_async_init(loop, &s->returned_async, on_returned) != 0) {
    close(fd);
    free_sock(s);
    return throw_errno(env, EBADF, "uv_async_init");
  }
  s->returned_async.data = s;
  uv_unref((uv_handle_t *)&s->returned_async);
  if (uv_poll_init(loop, &s->poll, fd) != 0) {
    close(fd);
    s->fd = -1;
    s->finalized = true; /* nothing else holds it: freed by the close callback */
    s->handles_open = 1;
    uv_close((uv_handle_t *)&s->returned_async, on_poll_closed);
    return throw_errno(env, EBADF, "uv_poll_init");
  }
  s->handles_open = 2;
  s->poll.data = s;
  /* From here the uv handle exists: every way out goes through close_sock. */
  if (napi_wrap(env, handle, s, finalize, NULL, NULL) != napi_ok) {
    s->finalized = true; /* nothing will finalize it: free on the uv close */
    close_sock(s, false);
    return NULL;
  }
  if (napi_create_reference(env, handle, 1, &s->self) != napi_ok ||
      napi_create_reference(env, ctx.argv[7], 1, &s->listener) != napi_ok ||
      napi_create_reference(env, slab, 1, &s->slab_ref) != napi_ok ||
      napi_create_reference(env, lengths, 1, &s->lengths_ref) != napi_ok ||
      napi_create_reference(env, addresses, 1, &s->addresses_ref) != napi_ok ||
      napi_async_init(env, handle, name, &s->async) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_cleanup, s, &s->cleanup) != napi_ok) {
    close_sock(s, true);
    return NULL;
  }
  int r = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  if (r != 0) {
    close_sock(s, true);
    return throw_errno(env, -r, "uv_poll_start");
  }
  return handle;
}

/* udpConnect(socket, address, port): only that peer's datagrams arrive, and sends need no address. */
static napi_value js_udp_connect(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  udp_sock *s;
  struct sockaddr_in6 to;
  socklen_t to_length;
  if (!ctx_init(&ctx, env, info, "connect", 3) || (s = arg_sock(&ctx, 0)) == NULL ||
      !arg_destination(&ctx, 1, s->family, &to, &to_length))
    return NULL;
  reclaim(s);
  if (connect(s->fd, (struct sockaddr *)&to, to_length) < 0) return throw_errno(env, errno, "connect");
  return make_undefined(env);
}

static napi_value js_udp_local_port(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  udp_sock *s;
  if (!ctx_init(&ctx, env, info, "getsockname", 1) || (s = arg_sock(&ctx, 0)) == NULL) return NULL;
  struct sockaddr_in6 local;
  socklen_t length = sizeof local;
  if (getsockname(s->fd, (struct sockaddr *)&local, &length) < 0) return throw_errno(env, errno, "getsockname");
  uint16_t port = s->family == AF_INET ? ((struct sockaddr_in *)&local)->sin_port : local.sin6_port;
  return make_int(env, ntohs(port));
}

/* udpReceiveBuffer(socket, bytes): a receive queue for a burst (a server's request port under a
 * flood, or briefly off the CPU on a busy machine), past net.core.rmem_max with SO_RCVBUFFORCE where the
 * process has CAP_NET_ADMIN, else SO_RCVBUF (which the kernel caps at rmem_max). Returns the size the
 * kernel then reports (it doubles what it was asked for, for its bookkeeping). */
static napi_value js_udp_receive_buffer(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  udp_sock *s;
  int64_t bytes;
  if (!ctx_init(&ctx, env, info, "setsockopt", 2) || (s = arg_sock(&ctx, 0)) == NULL ||
      !arg_int64(&ctx, 1, "bytes", 1, INT32_MAX / 2, &bytes))
    return NULL;
  int size = (int)bytes;
  if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0 &&
      (errno != EPERM || setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0))
    return throw_errno(env, errno, "setsockopt");
  int now = 0;
  socklen_t length = sizeof now;
  if (getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &now, &length) < 0) return throw_errno(env, errno, "getsockopt");
  return make_int(env, now);
}

/* An optional destination at argv[i], argv[i+1]: absent (or undefined) on a connected socket. */
static bool optional_destination(call_ctx *ctx, size_t i, udp_sock *s, struct sockaddr_in6 *to, socklen_t *length,
                                 bool *given) {
  napi_valuetype type = napi_undefined;
  if (i < ctx->argc && napi_typeof(ctx->env, ctx->argv[i], &type) != napi_ok) return false;
  *given = type != napi_undefined;
  return !*given || arg_destination(ctx, i, s->family, to, length);
}

/* udpSend(socket, buffer, offset, length, address?, port?): one datagram. */
static napi_value js_udp_send(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  udp_sock *s;
  uint8_t *data;
  size_t size;
  int64_t offset, length;
  struct sockaddr_in6 to;
  socklen_t to_length = 0;
  bool given;
  if (!ctx_init(&ctx, env, info, "sendmmsg", 4) || (s = arg_sock(&ctx, 0)) == NULL ||
      !arg_bytes(&ctx, 1, "buffer", &data, &size) || !arg_int64(&ctx, 2, "offset", 0, INT32_MAX, &offset) ||
      !arg_int64(&ctx, 3, "length", 0, DATAGRAM_MAX, &length) ||
      !optional_destination(&ctx, 4, s, &to, &to_length, &given))
    return NULL;
  if ((uint64_t)offset + (uint64_t)length > size)
    return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "sendmmsg", "length", "within the buffer from offset");
  reclaim(s);
  int err = send_run(s, data + offset, NULL, (int32_t)length, 1, given ? (struct sockaddr *)&to : NULL, to_length, false);
  if (err != 0) return throw_errno(env, err, "sendmmsg");
  return make_undefined(env);
}

/* udpSendBatch(socket, buffer, lengths, count, address?, port?): count datagrams laid end to end
 * from the start of buffer, datagram i lengths[i] bytes (an Int32Array). */
static napi_value js_udp_send_batch(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  udp_sock *s;
  uint8_t *data;
  size_t size, lengths_count = 0;
  int64_t count;
  struct sockaddr_in6 to;
  socklen_t to_length = 0;
  bool given, is_typed = false;
  napi_typedarray_type type = napi_int8_array;
  int32_t *lengths = NULL;
  if (!ctx_init(&ctx, env, info, "sendmmsg", 4) || (s = arg_sock(&ctx, 0)) == NULL ||
      !arg_bytes(&ctx, 1, "buffer", &data, &size))
    return NULL;
  napi_valuetype vt;
  if (napi_typeof(env, ctx.argv[2], &vt) == napi_ok && vt == napi_object) napi_is_typedarray(env, ctx.argv[2], &is_typed);
  if (is_typed && napi_get_typedarray_info(env, ctx.argv[2], &type, &lengths_count, (void **)&lengths, NULL, NULL) != napi_ok)
    return NULL;
  if (!is_typed || type != napi_int32_array)
    return throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", "sendmmsg", "lengths", "an Int32Array");
  if (!arg_int64(&ctx, 3, "count", 0, SEND_COUNT_MAX, &count) || !optional_destination(&ctx, 4, s, &to, &to_length, &given))
    return NULL;
  if ((size_t)count > lengths_count)
    return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "sendmmsg", "count", "at most lengths.length");
  if (count > 0 && lengths == NULL) return throw_errno(env, EFAULT, "sendmmsg");
  uint64_t total = 0;
  for (int64_t i = 0; i < count; i++) {
    if (lengths[i] < 0 || lengths[i] > DATAGRAM_MAX)
      return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "sendmmsg", "lengths", "0..65535 each");
    total += (uint64_t)lengths[i];
  }
  if (total > size)
    return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "sendmmsg", "lengths", "a sum within the buffer");
  if (count == 0) return make_undefined(env);
  reclaim(s);
  int err = send_run(s, data, lengths, 0, (size_t)count, given ? (struct sockaddr *)&to : NULL, to_length, false);
  if (err != 0) return throw_errno(env, err, "sendmmsg");
  return make_undefined(env);
}

static bool arg_int32_array(call_ctx *ctx, size_t i, const char *name, int32_t **data, size_t *length) {
  napi_valuetype vt;
  bool is_typed = false;
  napi_typedarray_type type = napi_int8_array;
  if (i < ctx->argc && napi_typeof(ctx->env, ctx->argv[i], &vt) == napi_ok && vt == napi_object)
    napi_is_typedarray(ctx->env, ctx->argv[i], &is_typed);
  if (is_typed && napi_get_typedarray_info(ctx->env, ctx->argv[i], &type, length, (void **)data, NULL, NULL) != napi_ok)
    return false;
  if (!is_typed || type != napi_int32_array) {
    throw_arg_error(ctx->env, false, "ERR_INVALID_ARG_TYPE", ctx->syscall, name, "an Int32Array");
    return false;
  }
  if (*length > 0 && *data == NULL) {
    throw_errno(ctx->env, EFAULT, ctx->syscall); /* detached */
    return false;
  }
  return true;
}

/* Room for n items of size each in *p (capacity *cap items), kept between arms. */
static bool reserve(void **p, size_t *cap, size_t n, size_t size) {
  if (n <= *cap) return true;
  void *grown = realloc(*p, n * size);
  if (grown == NULL) return false;
  *p = grown;
  *cap = n;
  return true;
}

/* Lays out the file-backed script's next windows from the page cache: step
 * k waits for the ACK of the block its window follows and answers with the
 * window's DATA, windows of windowsize blocks from next_index on (the last
 * one cut at last_index), as the TFTP sender sends them when every ACK
 * arrives in order. The blocks are read straight into place behind their
 * headers by one preadv2 that never waits for the disk. False (and the file
 * let go of) when nothing is left, when part of the chunk is not cached, or
 * when the read fails: the datagram then goes to the caller, which reads the
 * file its own way. Runs on a native loop too: no libuv or Node call here. */
static bool refill(reply_script *r) {
  if (r->file_fd < 0 || r->next_index >= r->last_index) return false;
  uint64_t blksize = r->blksize, windowsize = r->windowsize;
  uint64_t windows_bytes = FILE_WINDOWS * windowsize * (blksize + 4);
  if (windows_bytes > FILE_CHUNK_BYTES_MAX) windows_bytes = FILE_CHUNK_BYTES_MAX;
  uint64_t bytes_wanted = windows_bytes > FILE_CHUNK_BYTES ? windows_bytes : FILE_CHUNK_BYTES;
  uint64_t blocks_budget = bytes_wanted / (blksize + 4);
  if (blocks_budget < windowsize) blocks_budget = windowsize;
  if (blocks_budget > FILE_BLOCKS_MAX) blocks_budget = FILE_BLOCKS_MAX;
  uint64_t end = r->next_index, steps = 0, blocks = 0;
  while (end < r->last_index) {
    uint64_t next = end + windowsize < r->last_index ? end + windowsize : r->last_index;
    if (steps > 0 && blocks + (next - end) > blocks_budget) break;
    blocks += next - end;
    end = next;
    steps++;
  }
  if (blocks > FILE_BLOCKS_MAX) { /* a window larger than one read takes: not laid out here */
    drop_file(r);
    return false;
  }
  uint64_t first_offset = r->next_index * blksize;
  uint64_t data_end = end * blksize < r->file_size ? end * blksize : r->file_size;
  uint64_t data_bytes = data_end - first_offset;
  size_t total = (size_t)(steps * 4 + blocks * 4 + data_bytes);
  if (!reserve((void **)&r->bytes, &r->bytes_cap, total, 1) ||
      !reserve((void **)&r->plan, &r->plan_cap, (size_t)(steps + blocks), sizeof(int32_t))) {
    drop_file(r);
    return false;
  }
  /* Triggers, then each block behind its header; the plan as udpScriptArm's. */
  uint8_t *at = r->bytes + steps * 4;
  size_t j = (size_t)steps;
  uint64_t index = r->next_index;
  for (uint64_t k = 0; k < steps; k++) {
    uint8_t *t = r->bytes + k * 4;
    t[0] = 0;
    t[1] = TFTP_ACK;
    t[2] = (uint8_t)(index >> 8);
    t[3] = (uint8_t)index;
    uint64_t next = index + windowsize < r->last_index ? index + windowsize : r->last_index;
    r->plan[k] = (int32_t)(next - index);
    for (uint64_t i = index + 1; i <= next; i++) {
      uint64_t offset = (i - 1) * blksize;
      uint64_t length = offset >= r->file_size ? 0 : r->file_size - offset < blksize ? r->file_size - offset : blksize;
      at[0] = 0;
      at[1] = TFTP_DATA;
      at[2] = (uint8_t)(i >> 8);
      at[3] = (uint8_t)i;
      r->file_iov[j - steps].iov_base = at + 4;
      r->file_iov[j - steps].iov_len = (size_t)length;
      r->plan[j++] = (int32_t)(4 + length);
      at += 4 + length;
    }
    index = next;
  }
  ssize_t got = data_bytes == 0 ? 0 : preadv2(r->file_fd, r->file_iov, (int)blocks, (off_t)first_offset, RWF_NOWAIT);
  if (got < 0 || (uint64_t)got != data_bytes) {
    drop_file(r);
    return false;
  }
  r->trigger_bytes = 4;
  r->steps = (uint32_t)steps;
  r->step = 0;
  r->datagram = 0;
  r->offset = (size_t)(steps * 4);
  r->next_index = end;
  return true;
}

/* udpScriptArm(socket, bytes, plan, triggerBytes, steps, from): on a connected
 * socket, answers the datagrams equal to steps from..steps-1's triggers, in
 * order, with their datagrams (see reply_script), until one differs. What is
 * left of the script from step `from` on is copied: the caller may reuse its arrays. */
static napi_value js_udp_script_arm(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  udp_sock *s;
  uint8_t *bytes;
  size_t bytes_length, plan_length;
  int32_t *plan = NULL;
  int64_t trigger_bytes, steps, from;
  if (!ctx_init(&ctx, env, info, "sendmmsg", 6) || (s = arg_sock(&ctx, 0)) == NULL ||
      !arg_bytes(&ctx, 1, "bytes", &bytes, &bytes_length) || !arg_int32_array(&ctx, 2, "plan", &plan, &plan_length) ||
      !arg_int64(&ctx, 3, "triggerBytes", 1, SLOT_BYTES_MAX, &trigger_bytes) ||
      !arg_int64(&ctx, 4, "steps", 0, SEND_COUNT_MAX, &steps) || !arg_int64(&ctx, 5, "from", 0, steps, &from))
    return NULL;
  if ((size_t)steps > plan_length || (uint64_t)steps * (uint64_t)trigger_bytes > bytes_length)
    return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "sendmmsg", "steps", "triggers and counts within bytes and plan");
  /* Every count and length is checked once here: a step taken later only adds them up. */
  uint64_t datagrams = 0;
  for (int64_t k = 0; k < steps; k++) {
    if (plan[k] < 0 || plan[k] > SEND_COUNT_MAX)
      return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "sendmmsg", "plan", "counts of 0..65536 datagrams");
    datagrams += (uint64_t)plan[k];
  }
  if (datagrams > plan_length - (size_t)steps)
    return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "sendmmsg", "plan", "a length for every datagram");
  uint64_t total = (uint64_t)steps * (uint64_t)trigger_bytes, skip_datagrams = 0, skip_bytes = 0;
  for (int64_t k = 0, j = 0; k < steps; k++) {
    for (int32_t c = 0; c < plan[k]; c++, j++) {
      int32_t length = plan[steps + j];
      if (length < 0 || length > DATAGRAM_MAX)
        return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "sendmmsg", "plan", "datagram lengths of 0..65535");
      total += (uint64_t)length;
      if (k < from) skip_bytes += (uint64_t)length;
    }
    if (k < from) skip_datagrams += (uint64_t)plan[k];
  }
  if (total > bytes_length)
    return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "sendmmsg", "plan", "datagrams within bytes");
  reclaim(s);
  reply_script *r = &s->script;
  r->armed = false;
  drop_file(r);
  size_t left = (size_t)(steps - from);
  size_t triggers = (size_t)steps * (size_t)trigger_bytes;
  size_t left_triggers = left * (size_t)trigger_bytes;
  size_t left_bytes = (size_t)(total - triggers - skip_bytes);
  size_t left_datagrams = (size_t)(datagrams - skip_datagrams);
  if (!reserve((void **)&r->bytes, &r->bytes_cap, left_triggers + left_bytes, 1) ||
      !reserve((void **)&r->plan, &r->plan_cap, left + left_datagrams, sizeof(int32_t)))
    return throw_errno(env, ENOMEM, "sendmmsg");
  /* An empty array's data may be NULL, which memcpy must not see even for 0 bytes. */
  if (left_triggers > 0) memcpy(r->bytes, bytes + (size_t)from * (size_t)trigger_bytes, left_triggers);
  if (left_bytes > 0) memcpy(r->bytes + left_triggers, bytes + triggers + (size_t)skip_bytes, left_bytes);
  if (left > 0) memcpy(r->plan, plan + from, left * sizeof(int32_t));
  if (left_datagrams > 0) memcpy(r->plan + left, plan + steps + skip_datagrams, left_datagrams * sizeof(int32_t));
  r->trigger_bytes = (uint32_t)trigger_bytes;
  r->steps = (uint32_t)left;
  r->step = 0;
  r->datagram = 0;
  r->offset = left_triggers;
  r->taken = 0;
  r->last_ns = 0;
  r->armed = true;
  maybe_hand_over(s);
  return make_undefined(env);
}

/* udpScriptArmFile(socket, fd, size, blksize, windowsize, sent): on a
 * connected socket, a script of a TFTP read transfer's windows after the one
 * that ended with block index `sent`, laid out from the file (a dup of fd,
 * read at offsets from 0, the file `size` bytes long) as the steps are used
 * up; see refill. False, and nothing armed, when the first windows are not
 * all in the page cache (or nothing follows `sent`). */
static napi_value js_udp_script_arm_file(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  udp_sock *s;
  int64_t fd, size, blksize, windowsize, sent;
  if (!ctx_init(&ctx, env, info, "preadv2", 6) || (s = arg_sock(&ctx, 0)) == NULL || !arg_int64(&ctx, 1, "fd", 0, INT32_MAX, &fd) ||
      !arg_int64(&ctx, 2, "size", 0, (int64_t)1 << 50, &size) || !arg_int64(&ctx, 3, "blksize", 8, 65464, &blksize) ||
      !arg_int64(&ctx, 4, "windowsize", 1, 65535, &windowsize) || !arg_int64(&ctx, 5, "sent", 0, (int64_t)1 << 50, &sent))
    return NULL;
  uint64_t last_index = (uint64_t)size / (uint64_t)blksize + 1;
  if ((uint64_t)sent > last_index)
    return throw_arg_error(env, true, "ERR_OUT_OF_RANGE", "preadv2", "sent", "a block index up to the file's last");
  reclaim(s);
  reply_script *r = &s->script;
  r->armed = false;
  drop_file(r);
  r->steps = r->step = 0;
  r->taken = 0;
  r->last_ns = 0;
  if (r->file_iov == NULL && (r->file_iov = malloc(FILE_BLOCKS_MAX * sizeof *r->file_iov)) == NULL) return throw_errno(env, ENOMEM, "preadv2");
  int dup_fd = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return throw_errno(env, errno, "fcntl");
  r->file_fd = dup_fd;
  r->file_size = (uint64_t)size;
  r->blksize = (uint32_t)blksize;
  r->windowsize = (uint32_t)windowsize;
  r->next_index = (uint64_t)sent;
  r->last_index = last_index;
  if (!refill(r)) return make_bool(env, false);
  r->armed = true;
  maybe_hand_over(s);
  return make_bool(env, true);
}

/* udpScriptStop(socket, state): ends the script; state (a Float64Array of 2)
 * gets the steps taken since it was armed and the uv_hrtime (ms) of the last. */
static napi_value js_udp_script_stop(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  udp_sock *s;
  napi_valuetype vt;
  bool is_typed = false;
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  double *state = NULL;
  if (!ctx_init(&ctx, env, info, "sendmmsg", 2) || (s = arg_sock(&ctx, 0)) == NULL) return NULL;
  if (napi_typeof(env, ctx.argv[1], &vt) == napi_ok && vt == napi_object) napi_is_typedarray(env, ctx.argv[1], &is_typed);
  if (is_typed && napi_get_typedarray_info(env, ctx.argv[1], &type, &length, (void **)&state, NULL, NULL) != napi_ok) return NULL;
  if (!is_typed || type != napi_float64_array || length < 2 || state == NULL)
    return throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", "sendmmsg", "state", "a Float64Array of 2");
  reclaim(s);
  state[0] = (double)s->script.taken;
  state[1] = (double)s->script.last_ns / 1e6;
  s->script.taken = 0;
  s->script.armed = false;
  return make_undefined(env);
}

/* udpScriptResume(socket): arms again the script the socket holds, from
 * the step it stopped at (a datagram that differed, or udpScriptStop), so a
 * caller that decided nothing changed need not copy it in again. False when
 * no step is left. */
static napi_value js_udp_script_resume(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  udp_sock *s;
  if (!ctx_init(&ctx, env, info, "sendmmsg", 1) || (s = arg_sock(&ctx, 0)) == NULL) return NULL;
  reclaim(s);
  reply_script *r = &s->script;
  r->armed = script_has_steps(r);
  r->taken = 0;
  maybe_hand_over(s);
  return make_bool(env, r->armed);
}

/* udpClose(socket): idempotent. Datagrams still queued get one last try. */
static napi_value js_udp_close(napi_env env, napi_callback_info info) {
  call_ctx ctx;
  udp_sock *s = NULL;
  napi_valuetype type;
  if (!ctx_init(&ctx, env, info, "close", 1)) return NULL;
  if (napi_typeof(env, ctx.argv[0], &type) != napi_ok || type != napi_object ||
      napi_unwrap(env, ctx.argv[0], (void **)&s) != napi_ok || s == NULL || s->magic != MAGIC) {
    bool pending = false;
    napi_value ignored;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
    return throw_arg_error(env, false, "ERR_INVALID_ARG_TYPE", "close", "socket", "a socket from udpOpen");
  }
  close_sock(s, true);
  return make_undefined(env);
}

bool udp_batch_register(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } functions[] = {
      {"udpOpen", js_udp_open},           {"udpConnect", js_udp_connect}, {"udpLocalPort", js_udp_local_port},
      {"udpSend", js_udp_send},           {"udpSendBatch", js_udp_send_batch}, {"udpClose", js_udp_close},
      {"udpScriptArm", js_udp_script_arm},     {"udpScriptStop", js_udp_script_stop},
      {"udpScriptResume", js_udp_script_resume}, {"udpReceiveBuffer", js_udp_receive_buffer},
      {"udpScriptArmFile", js_udp_script_arm_file},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, functions[i].name, fn) != napi_ok)
      return false;
  }
  napi_value table;
  if (napi_get_named_property(env, exports, "constants", &table) != napi_ok) return false;
  return set_named(env, table, "UDP_REUSEADDR", make_int(env, UDP_REUSEADDR)) &&
         set_named(env, table, "UDP_IPV6ONLY", make_int(env, UDP_IPV6ONLY)) &&
         set_named(env, table, "UDP_SLOTS_MAX", make_int(env, SLOTS_MAX)) &&
         set_named(env, table, "UDP_ADDRESS_BYTES", make_int(env, ADDRESS_BYTES));
}
