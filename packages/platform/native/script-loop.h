/* Native loops that serve sockets while JavaScript is elsewhere: a few
 * pthreads, each with its own epoll, that call a socket's serve function
 * when it is readable, with no JavaScript event-loop turn in between. */
#ifndef NETBOOT_SCRIPT_LOOP_H
#define NETBOOT_SCRIPT_LOOP_H
#include <stdbool.h>
#include <stdint.h>

typedef struct script_loop script_loop;

/* Called on the loop's thread, with the loop locked, when the fd is readable
 * (or in error). Returning false ends the watch (as script_loop_unwatch). */
typedef bool (*script_serve_fn)(void *owner);

/* Where a watched fd is registered: its place in the loop's table and the
 * generation that place had, so an event read before an unwatch is told
 * apart from one for a later owner of the same place. */
typedef struct {
  script_loop *loop;
  uint32_t index, generation;
  bool watching;
} script_ticket;

/* The loop bound to `cpu` (a peer's, from SO_INCOMING_CPU) unless another
 * serves fewer sockets, else the one serving fewest: many peers sending
 * from one CPU (one client process with many transfers) are spread over
 * every loop instead of all served on the CPU they share with that client.
 * The threads start on the first call. NULL when none could start (the
 * caller keeps serving on its own loop). */
script_loop *script_loop_pick(int cpu);
/* The loop bound to `cpu`, or NULL. */
script_loop *script_loop_on(int cpu);
/* How many sockets the loop serves now (read without its lock: a hint). */
uint32_t script_loop_watched(const script_loop *loop);
/* The CPU the loop's thread is bound to, or -1. */
int script_loop_cpu(const script_loop *loop);
void script_loop_lock(script_loop *loop);
void script_loop_unlock(script_loop *loop);
/* With the loop locked: watch fd for owner until serve returns false or
 * script_loop_unwatch. An errno, or 0. */
int script_loop_watch(script_loop *loop, int fd, void *owner, script_serve_fn serve, script_ticket *ticket);
/* With the loop locked: serve is not called for this ticket again. */
void script_loop_unwatch(script_ticket *ticket);
#endif
