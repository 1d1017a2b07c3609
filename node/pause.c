/* CLIENT PAUSE state and the clients it holds (see pause.h). Owns the pause
 * type and deadline, the timer that ends it, and the queue of held commands;
 * what a held command does is dispatch's business when it finally runs. */
#include "node/pause.h"

#include "node/client.h"
#include "node/command.h"
#include "node/dispatch.h"
#include "node/multi.h"
#include "node/server.h"

#include <stdlib.h>
#include <string.h>

/* One client's held command, with its own copy of the arguments. */
struct held {
    struct client *client;
    int argc;
    char **argv;
    size_t *argvlen;
    struct held *next;
};

static enum pause_type pause_type;
static int64_t pause_end_ms;
static uv_timer_t pause_timer; /* fires when the held clients may resume */
static bool has_timer;
static struct held *held_head, *held_tail;
static size_t held_count;

static void free_held(struct held *h) {
    for (int i = 0; i < h->argc; i++)
        free(h->argv[i]);
    free(h->argv);
    free(h->argvlen);
    free(h);
}

enum pause_type pause_current(void) {
    /* Redis 7.0 ends a pause once its end time is in the past. */
    if (pause_type != PAUSE_OFF && server_now_ms() > pause_end_ms)
        return PAUSE_OFF;
    return pause_type;
}

bool pause_postpones(const struct client *c, const struct command *cmd, uint32_t flags) {
    enum pause_type type = pause_current();
    if (type == PAUSE_OFF || (c->flags & CLIENT_MONITOR))
        return false;
    if (type == PAUSE_ALL || (flags & (CMD_WRITE | CMD_MAY_REPLICATE)))
        return true;
    /* Redis 7.0 processCommand: an EXEC counts as a write when its queue
     * holds a write or may_replicate command (queued before the pause). */
    return strcmp(cmd->fullname, "exec") == 0 && multi_has_writes(c);
}

/* Runs the commands held so far, oldest first. A command that is held again
 * (a newer pause) goes back to the queue's tail, so each runs at most once
 * per call. */
static void resume_held(void) {
    size_t n = held_count;
    while (n-- > 0 && held_head != NULL) {
        struct held *h = held_head;
        held_head = h->next;
        if (held_head == NULL)
            held_tail = NULL;
        held_count--;
        struct client *c = h->client;
        c->flags &= ~(uint32_t)CLIENT_BLOCKED;
        dispatch_command(c, h->argc, h->argv, h->argvlen);
        free_held(h);
        client_schedule_write(c);
        client_process_input(c);
    }
}

static void on_pause_timer(uv_timer_t *timer) {
    (void)timer;
    int64_t now = server_now_ms();
    if (pause_type != PAUSE_OFF && now <= pause_end_ms) {
        /* Timers run on the loop's cached clock: not quite there yet. */
        uv_timer_start(&pause_timer, on_pause_timer, (uint64_t)(pause_end_ms - now) + 1, 0);
        return;
    }
    pause_type = PAUSE_OFF;
    resume_held();
}

static void arm_timer(uint64_t delay_ms) {
    if (!has_timer) {
        uv_timer_init(server.loop, &pause_timer);
        has_timer = true;
    }
    uv_timer_start(&pause_timer, on_pause_timer, delay_ms, 0);
}

void pause_start(enum pause_type type, int64_t end_ms) {
    if (pause_current() == PAUSE_OFF) {
        pause_type = type;
        pause_end_ms = end_ms;
    } else {
        if (type > pause_type)
            pause_type = type;
        if (end_ms > pause_end_ms)
            pause_end_ms = end_ms;
    }
    int64_t delay = pause_end_ms - server_now_ms();
    arm_timer(delay > 0 ? (uint64_t)delay + 1 : 0);
}

void pause_end(void) {
    pause_type = PAUSE_OFF;
    /* Held clients resume on the next iteration, as Redis reprocesses
     * unblocked clients before it sleeps, not inside UNPAUSE itself. */
    arm_timer(0);
}

bool pause_postpone(struct client *c, int argc, char **argv, const size_t *argvlen) {
    struct held *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return false;
    h->argv = calloc((size_t)argc, sizeof(*h->argv));
    h->argvlen = calloc((size_t)argc, sizeof(*h->argvlen));
    if (h->argv == NULL || h->argvlen == NULL)
        goto err;
    for (int i = 0; i < argc; i++) {
        h->argv[i] = malloc(argvlen[i] + 1);
        if (h->argv[i] == NULL)
            goto err;
        h->argc = i + 1;
        memcpy(h->argv[i], argv[i], argvlen[i]);
        h->argv[i][argvlen[i]] = '\0';
        h->argvlen[i] = argvlen[i];
    }
    h->client = c;
    if (held_tail != NULL)
        held_tail->next = h;
    else
        held_head = h;
    held_tail = h;
    held_count++;
    c->flags |= CLIENT_BLOCKED;
    return true;
err:
    free_held(h);
    return false;
}

void pause_client_closed(struct client *c) {
    struct held *prev = NULL;
    for (struct held *h = held_head; h != NULL; prev = h, h = h->next) {
        if (h->client != c)
            continue;
        if (prev != NULL)
            prev->next = h->next;
        else
            held_head = h->next;
        if (held_tail == h)
            held_tail = prev;
        held_count--;
        free_held(h);
        return;
    }
}
