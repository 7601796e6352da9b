/* See script-loop.h. One loop per CPU the process may run on (at most
 * LOOPS_MAX), started once and kept for the life of the process: a thread
 * blocked in epoll_wait costs nothing and holds nothing JavaScript can see.
 * Each loop's thread is bound to its CPU when every allowed CPU has one
 * (while it serves few sockets: BOUND_SOCKETS_MAX), so a socket served on
 * the CPU its peer sends from stays there: a lock-step
 * peer and its server then take turns on one CPU with the datagram's bytes
 * still in its cache, where a server woken on the other CPU pays a
 * cross-CPU wakeup and a cold copy each turn (25-35 us against 12-22 us a
 * 64 KiB block on loopback).
 *
 * A loop's table and every socket it serves are touched only with its lock
 * held; serve functions run with it held, so an owner that locks the loop
 * knows the loop is not inside its serve function. epoll_wait itself runs
 * unlocked: events it returns for an fd unwatched meanwhile are recognised
 * by their table place and generation, and dropped without touching the
 * owner (which may be freed by then). */
#define _GNU_SOURCE
#include "script-loop.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define LOOPS_MAX 8
#define EVENTS 64
#define STACK_BYTES (256 * 1024)

typedef struct {
  void *owner; /* NULL: free */
  script_serve_fn serve;
  int fd;
  uint32_t generation;
  uint32_t next_free;
} entry;

struct script_loop {
  pthread_mutex_t lock;
  int cpu; /* the CPU its thread is bound to, or -1 */
  uint32_t watched; /* sockets it serves now; changed with the lock held, read by pickers without it */
  int epfd;
  entry *entries;
  uint32_t capacity, free_head; /* free_head == capacity: none free */
};

/* A loop serving more sockets than this lets its thread run on any allowed
 * CPU, and is bound again once it serves half as many: a few lock-step
 * peers gain from sharing a CPU with their loop, while many transfers on
 * threads held to one CPU each cannot move off a CPU the clients, the NFS
 * workers or the other loop keep busy (a 200-node boot storm took 25 s
 * with the loops always bound against 20 s unbound). */
#define BOUND_SOCKETS_MAX 4

static script_loop loops[LOOPS_MAX];
/* The CPUs the process may run on, as found when the loops started. */
static cpu_set_t allowed;
static unsigned loop_count;
static unsigned next_pick;
static pthread_once_t started = PTHREAD_ONCE_INIT;

static void remove_entry(script_loop *l, uint32_t index) {
  entry *e = &l->entries[index];
  epoll_ctl(l->epfd, EPOLL_CTL_DEL, e->fd, NULL);
  e->owner = NULL;
  e->serve = NULL;
  e->fd = -1;
  e->generation++;
  __atomic_store_n(&l->watched, l->watched - 1, __ATOMIC_RELAXED);
  e->next_free = l->free_head;
  l->free_head = index;
}

/* Binds the calling loop's thread to its CPU, or lets it run on any
 * allowed one; returns whether it is bound now. */
static bool bind_thread(const script_loop *l, bool bind) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(l->cpu, &one);
  int err = bind ? pthread_setaffinity_np(pthread_self(), sizeof one, &one) : pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
  return err == 0 ? bind : !bind;
}

static void *run(void *arg) {
  script_loop *l = arg;
  bool bound = l->cpu >= 0;
  struct epoll_event events[EVENTS];
  for (;;) {
    int n = epoll_wait(l->epfd, events, EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NULL; /* the epoll fd is gone: nothing can be watched any more */
    }
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < n; i++) {
      uint32_t index = (uint32_t)(events[i].data.u64 >> 32), generation = (uint32_t)events[i].data.u64;
      if (index >= l->capacity) continue;
      entry *e = &l->entries[index];
      if (e->owner == NULL || e->generation != generation) continue; /* unwatched since epoll_wait returned */
      if (!e->serve(e->owner)) remove_entry(l, index);
    }
    uint32_t watched = l->watched;
    pthread_mutex_unlock(&l->lock);
    if (l->cpu >= 0 && bound && watched > BOUND_SOCKETS_MAX) bound = bind_thread(l, false);
    else if (l->cpu >= 0 && !bound && watched <= BOUND_SOCKETS_MAX / 2) bound = bind_thread(l, true);
  }
}

static void start(void) {
  int cpus = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 0;
  /* Bound one to a CPU only when every CPU gets one; else unbound, as many as allowed. */
  bool bind = cpus > 0 && cpus <= LOOPS_MAX;
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned want = bind ? (unsigned)cpus : online < 1 ? 1 : online > LOOPS_MAX ? LOOPS_MAX : (unsigned)online;
  int cpu = -1;
  /* The threads take no signals: Node's handlers run on its own threads. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, STACK_BYTES);
  for (unsigned i = 0; i < want; i++) {
    script_loop *l = &loops[loop_count];
    memset(l, 0, sizeof *l);
    l->cpu = -1;
    if (bind) {
      do cpu++;
      while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &allowed));
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (pthread_attr_setaffinity_np(&attr, sizeof one, &one) == 0) l->cpu = cpu;
      else pthread_attr_setaffinity_np(&attr, sizeof allowed, &allowed);
    }
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) break;
    pthread_mutex_init(&l->lock, NULL);
    pthread_t thread;
    int err = pthread_create(&thread, &attr, run, l);
    if (err != 0 && l->cpu >= 0) {
      /* A CPU the thread may not be bound to after all (its cpuset changed meanwhile): this loop runs unbound. */
      l->cpu = -1;
      if (pthread_attr_setaffinity_np(&attr, sizeof allowed, &allowed) == 0) err = pthread_create(&thread, &attr, run, l);
    }
    if (err != 0) {
      close(l->epfd);
      pthread_mutex_destroy(&l->lock);
      break;
    }
    /* Named so top -H, perf and /proc tell which CPU's loop a socket's work
     * ran on; by this thread, so the name is there once the first pick returns. */
    char name[24] = "script-loop";
    if (l->cpu >= 0) snprintf(name, sizeof name, "script-cpu%d", l->cpu);
    name[15] = '\0'; /* the kernel's limit (CPUs past 9999 would be cut) */
    pthread_setname_np(thread, name);
    loop_count++;
  }
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

script_loop *script_loop_on(int cpu) {
  pthread_once(&started, start);
  for (unsigned i = 0; cpu >= 0 && i < loop_count; i++)
    if (loops[i].cpu == cpu) return &loops[i];
  return NULL;
}

uint32_t script_loop_watched(const script_loop *loop) { return __atomic_load_n(&loop->watched, __ATOMIC_RELAXED); }

script_loop *script_loop_pick(int cpu) {
  pthread_once(&started, start);
  if (loop_count == 0) return NULL;
  /* The one serving fewest, the search started round robin so ties spread. */
  unsigned from = __atomic_fetch_add(&next_pick, 1, __ATOMIC_RELAXED);
  script_loop *least = &loops[from % loop_count];
  for (unsigned i = 1; i < loop_count; i++) {
    script_loop *l = &loops[(from + i) % loop_count];
    if (script_loop_watched(l) < script_loop_watched(least)) least = l;
  }
  script_loop *home = script_loop_on(cpu);
  return home != NULL && script_loop_watched(home) <= script_loop_watched(least) ? home : least;
}

int script_loop_cpu(const script_loop *loop) { return loop->cpu; }

void script_loop_lock(script_loop *loop) { pthread_mutex_lock(&loop->lock); }
void script_loop_unlock(script_loop *loop) { pthread_mutex_unlock(&loop->lock); }

int script_loop_watch(script_loop *l, int fd, void *owner, script_serve_fn serve, script_ticket *ticket) {
  if (l->free_head >= l->capacity) {
    uint32_t capacity = l->capacity ? l->capacity * 2 : 64;
    if (capacity <= l->capacity) return ENOMEM;
    entry *grown = realloc(l->entries, (size_t)capacity * sizeof *grown);
    if (grown == NULL) return ENOMEM;
    /* New places are free, chained in order; free_head == capacity means none. */
    for (uint32_t i = l->capacity; i < capacity; i++) {
      memset(&grown[i], 0, sizeof grown[i]);
      grown[i].fd = -1;
      grown[i].next_free = i + 1;
    }
    l->entries = grown;
    l->free_head = l->capacity;
    l->capacity = capacity;
  }
  uint32_t index = l->free_head;
  entry *e = &l->entries[index];
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.u64 = ((uint64_t)index << 32) | e->generation;
  if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return errno;
  l->free_head = e->next_free;
  __atomic_store_n(&l->watched, l->watched + 1, __ATOMIC_RELAXED);
  e->owner = owner;
  e->serve = serve;
  e->fd = fd;
  ticket->loop = l;
  ticket->index = index;
  ticket->generation = e->generation;
  ticket->watching = true;
  return 0;
}

void script_loop_unwatch(script_ticket *t) {
  if (!t->watching) return;
  t->watching = false;
  script_loop *l = t->loop;
  if (t->index < l->capacity && l->entries[t->index].generation == t->generation && l->entries[t->index].owner != NULL)
    remove_entry(l, t->index);
}
