/* loop.h: the daemon's one event loop, single-threaded, over the curl multi
 * interface.
 *
 * Every network exchange (the stream, the DynamoDB requests, credential
 * refreshes) is a curl easy handle added here with a completion callback;
 * everything that must happen later (a backoff, a batch linger, a
 * heartbeat) is a timer. loop_run_once waits in curl_multi_poll until a
 * socket is ready, the next timer is due or loop_wakeup is called (from a
 * signal handler), so an idle daemon uses no CPU.
 *
 * Timers live in caller storage and may be set, reset and cancelled from
 * any callback. */
#ifndef TM_LOOP_H
#define TM_LOOP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "mem.h"

typedef struct loop loop;

/* A finished transfer: result is CURLE_OK or the transport error. The
 * handle has been removed from the loop; the callback owns it again. */
typedef void (*loop_done_fn)(void *ud, CURL *easy, CURLcode result);
typedef void (*loop_timer_fn)(void *ud);

typedef struct loop_timer {
    int64_t due_ms;
    loop_timer_fn fn;
    void *ud;
    bool armed;
    struct loop_timer *next; /* the loop's list; not for callers */
} loop_timer;

/* clock_ms returns monotonic milliseconds (NULL: CLOCK_MONOTONIC). */
loop *loop_new(int64_t (*clock_ms)(void));
void loop_free(loop *l);

int64_t loop_now_ms(const loop *l);
CURLM *loop_multi(loop *l);

/* Starts easy; done is called once when it finishes. */
bool loop_add(loop *l, CURL *easy, loop_done_fn done, void *ud) TM_MUST_CHECK;
/* Stops easy without calling done (it stays the caller's). */
void loop_remove(loop *l, CURL *easy);
/* Transfers in progress. */
int loop_active(const loop *l);

/* Arms t to call fn(ud) at due_ms (re-arming moves it). */
void loop_timer_set(loop *l, loop_timer *t, int64_t due_ms, loop_timer_fn fn, void *ud);
void loop_timer_cancel(loop *l, loop_timer *t);

/* Waits up to max_wait_ms (less when a timer is due sooner), then drives
 * the transfers and runs finished callbacks and due timers. */
bool loop_run_once(loop *l, int max_wait_ms) TM_MUST_CHECK;
/* Makes a waiting loop_run_once return; safe in a signal handler. */
void loop_wakeup(loop *l);

#endif
