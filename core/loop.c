/* loop.c: see loop.h. */
#include "loop.h"

#include <stdlib.h>
#include <time.h>

typedef struct transfer {
    loop_done_fn done;
    void *ud;
} transfer;

struct loop {
    CURLM *multi;
    int64_t (*clock_ms)(void);
    loop_timer *timers;
    int active;
};

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

loop *loop_new(int64_t (*clock_ms)(void))
{
    loop *l = xcalloc(1, sizeof *l);
    l->multi = curl_multi_init();
    if (l->multi == NULL) {
        free(l);
        return NULL;
    }
    l->clock_ms = clock_ms ? clock_ms : monotonic_ms;
    return l;
}

void loop_free(loop *l)
{
    if (l == NULL)
        return;
    curl_multi_cleanup(l->multi);
    free(l);
}

int64_t loop_now_ms(const loop *l)
{
    return l->clock_ms();
}

CURLM *loop_multi(loop *l)
{
    return l->multi;
}

int loop_active(const loop *l)
{
    return l->active;
}

bool loop_add(loop *l, CURL *easy, loop_done_fn done, void *ud)
{
    transfer *t = xmalloc(sizeof *t);
    t->done = done;
    t->ud = ud;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    if (curl_multi_add_handle(l->multi, easy) != CURLM_OK) {
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(t);
        return false;
    }
    l->active++;
    return true;
}

void loop_remove(loop *l, CURL *easy)
{
    transfer *t = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    if (t == NULL)
        return;
    curl_multi_remove_handle(l->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    free(t);
    l->active--;
}

void loop_timer_cancel(loop *l, loop_timer *t)
{
    if (!t->armed)
        return;
    for (loop_timer **p = &l->timers; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            break;
        }
    t->armed = false;
    t->next = NULL;
}

void loop_timer_set(loop *l, loop_timer *t, int64_t due_ms, loop_timer_fn fn, void *ud)
{
    loop_timer_cancel(l, t);
    t->due_ms = due_ms;
    t->fn = fn;
    t->ud = ud;
    t->armed = true;
    t->next = l->timers;
    l->timers = t;
}

/* Runs every timer due by now, including ones armed by those it runs. */
static void run_timers(loop *l)
{
    for (;;) {
        int64_t now = l->clock_ms();
        loop_timer *due = NULL;
        for (loop_timer *t = l->timers; t; t = t->next)
            if (t->due_ms <= now && (due == NULL || t->due_ms < due->due_ms))
                due = t;
        if (due == NULL)
            return;
        loop_timer_cancel(l, due);
        due->fn(due->ud);
    }
}

bool loop_run_once(loop *l, int max_wait_ms)
{
    int64_t now = l->clock_ms();
    int64_t wait = max_wait_ms;
    for (loop_timer *t = l->timers; t; t = t->next)
        if (t->due_ms - now < wait)
            wait = t->due_ms - now;
    long curl_wait = -1;
    if (l->active && curl_multi_timeout(l->multi, &curl_wait) == CURLM_OK && curl_wait >= 0 && curl_wait < wait)
        wait = curl_wait;
    if (wait < 0)
        wait = 0;
    if (curl_multi_poll(l->multi, NULL, 0, (int)wait, NULL) != CURLM_OK)
        return false;
    int running;
    if (curl_multi_perform(l->multi, &running) != CURLM_OK)
        return false;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode result = m->data.result;
        transfer *t = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
        curl_multi_remove_handle(l->multi, easy);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        l->active--;
        if (t) {
            loop_done_fn done = t->done;
            void *ud = t->ud;
            free(t);
            done(ud, easy, result);
        }
    }
    run_timers(l);
    return true;
}

void loop_wakeup(loop *l)
{
    curl_multi_wakeup(l->multi);
}
