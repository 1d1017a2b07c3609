/* The latency monitor (see latency.h) and the LATENCY command. There are
 * few event kinds, so series live in a small array searched linearly; each
 * is a ring of per-second samples (Redis 7.0 latency.c semantics: a sample in
 * the same second as the previous one only raises it). */
#include "node/latency.h"

#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/exec.h"
#include "node/server.h"

#include <stdlib.h>
#include <string.h>

#define LATENCY_TS_LEN     160
#define LATENCY_MAX_EVENTS 64

struct latency_sample {
    int64_t time_s; /* 0: unused slot */
    uint64_t latency_ms;
};

struct latency_series {
    const char *event;
    int idx; /* next slot to write */
    uint64_t max_ms;
    struct latency_sample samples[LATENCY_TS_LEN];
};

static struct latency_series *series[LATENCY_MAX_EVENTS];
static int series_count;

static struct latency_series *find(const char *event, size_t len) {
    for (int i = 0; i < series_count; i++)
        if (strlen(series[i]->event) == len && memcmp(series[i]->event, event, len) == 0)
            return series[i];
    return NULL;
}

static void add_sample(const char *event, uint64_t latency_ms) {
    struct latency_series *ts = find(event, strlen(event));
    if (ts == NULL) {
        if (series_count == LATENCY_MAX_EVENTS)
            return;
        ts = calloc(1, sizeof(*ts));
        if (ts == NULL)
            return;
        ts->event = event;
        series[series_count++] = ts;
    }
    if (latency_ms > ts->max_ms)
        ts->max_ms = latency_ms;
    int64_t now_s = server_now_ms() / 1000;
    int prev = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
    if (ts->samples[prev].time_s == now_s) {
        if (latency_ms > ts->samples[prev].latency_ms)
            ts->samples[prev].latency_ms = latency_ms;
        return;
    }
    ts->samples[ts->idx] = (struct latency_sample){.time_s = now_s, .latency_ms = latency_ms};
    ts->idx = (ts->idx + 1) % LATENCY_TS_LEN;
}

void latency_add_sample_if_needed(const char *event, uint64_t latency_ms) {
    if (cfg.latency_monitor_threshold > 0 && latency_ms >= (uint64_t)cfg.latency_monitor_threshold)
        add_sample(event, latency_ms);
}

void latency_record_command(uint32_t cmd_flags, uint64_t duration_us) {
    latency_add_sample_if_needed((cmd_flags & CMD_FAST) ? "fast-command" : "command",
                                 duration_us / 1000);
}

/* Removes the series at 'i', keeping the others in order. */
static void remove_at(int i) {
    free(series[i]);
    memmove(&series[i], &series[i + 1], (size_t)(series_count - i - 1) * sizeof(series[0]));
    series_count--;
}

void latency_reset_all(void) {
    while (series_count > 0)
        remove_at(series_count - 1);
}

/* ---- LATENCY ---- */

void cmd_latency_latest(struct exec_ctx *ctx) {
    resp_add_array(ctx->out, series_count);
    for (int i = 0; i < series_count; i++) {
        const struct latency_series *ts = series[i];
        int last = (ts->idx + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN;
        resp_add_array(ctx->out, 4);
        resp_add_bulk_cstr(ctx->out, ts->event);
        resp_add_int(ctx->out, ts->samples[last].time_s);
        resp_add_int(ctx->out, (long long)ts->samples[last].latency_ms);
        resp_add_int(ctx->out, (long long)ts->max_ms);
    }
}

void cmd_latency_history(struct exec_ctx *ctx) {
    const struct latency_series *ts = find(ctx->argv[2], ctx->argvlen[2]);
    if (ts == NULL) {
        resp_add_array(ctx->out, 0);
        return;
    }
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 0;
    for (int j = 0; j < LATENCY_TS_LEN; j++) {
        const struct latency_sample *s = &ts->samples[(ts->idx + j) % LATENCY_TS_LEN];
        if (s->time_s == 0)
            continue;
        resp_add_array(ctx->out, 2);
        resp_add_int(ctx->out, s->time_s);
        resp_add_int(ctx->out, (long long)s->latency_ms);
        n++;
    }
    resp_end_deferred(ctx->out, token, '*', n);
}

/* LATENCY RESET [event ...]: replies how many series were dropped. */
void cmd_latency_reset(struct exec_ctx *ctx) {
    if (ctx->argc == 2) {
        long long n = series_count;
        latency_reset_all();
        resp_add_int(ctx->out, n);
        return;
    }
    long long resets = 0;
    for (int j = 2; j < ctx->argc; j++) {
        for (int i = 0; i < series_count; i++) {
            if (strlen(series[i]->event) == ctx->argvlen[j] &&
                memcmp(series[i]->event, ctx->argv[j], ctx->argvlen[j]) == 0) {
                remove_at(i);
                resets++;
                break;
            }
        }
    }
    resp_add_int(ctx->out, resets);
}

void cmd_latency_help(struct exec_ctx *ctx) {
    /* Redis's text, without DOCTOR, GRAPH and HISTOGRAM, which keyraft lacks. */
    static const char *const lines[] = {
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        NULL,
    };
    exec_reply_help(ctx, lines);
}
