/* The slow log (see slowlog.h) and the SLOWLOG command. Entries are kept in
 * a doubly linked list, newest first, and trimmed to slowlog-max-len on
 * every insertion, as Redis does (so lowering the limit takes effect at the
 * next slow command). Entry memory is server bookkeeping, not data, so it
 * uses plain malloc, not storage/mem. */
#include "node/slowlog.h"

#include "node/client.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/exec.h"
#include "node/server.h"
#include "storage/object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOWLOG_ENTRY_MAX_ARGC   32
#define SLOWLOG_ENTRY_MAX_STRING 128

struct slowlog_entry {
    struct slowlog_entry *prev, *next;
    long long id;
    long long time_s;
    long long duration_us;
    int argc;
    char **argv;
    size_t *argvlen;
    char *peer;
    char *name;
};

static struct slowlog_entry *newest, *oldest;
static long long length;
static long long next_id;

static void entry_free(struct slowlog_entry *e) {
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i]);
    free(e->argv);
    free(e->argvlen);
    free(e->peer);
    free(e->name);
    free(e);
}

static char *copy_bytes(const char *p, size_t len) {
    char *s = malloc(len + 1);
    if (s != NULL) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

/* Redis 7.0 slowlogCreateEntry: keeps 31 arguments and a note of how many
 * more there were, and cuts strings at 128 bytes with a note. */
static struct slowlog_entry *entry_new(const struct client *c, int argc, char **argv,
                                       const size_t *argvlen, uint64_t duration_us) {
    struct slowlog_entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    int kept = argc > SLOWLOG_ENTRY_MAX_ARGC ? SLOWLOG_ENTRY_MAX_ARGC : argc;
    e->argv = calloc((size_t)kept, sizeof(*e->argv));
    e->argvlen = calloc((size_t)kept, sizeof(*e->argvlen));
    e->peer = copy_bytes(c ? c->addr : "", c ? strlen(c->addr) : 0);
    e->name = copy_bytes(c && c->name ? c->name : "", c && c->name ? strlen(c->name) : 0);
    if (e->argv == NULL || e->argvlen == NULL || e->peer == NULL || e->name == NULL)
        goto err_after_entry;
    for (int i = 0; i < kept; i++) {
        char buf[SLOWLOG_ENTRY_MAX_STRING + 64];
        const char *p = argv[i];
        size_t len = argvlen[i];
        if (kept != argc && i == kept - 1) {
            len = (size_t)snprintf(buf, sizeof(buf), "... (%d more arguments)",
                                   argc - SLOWLOG_ENTRY_MAX_ARGC + 1);
            p = buf;
        } else if (len > SLOWLOG_ENTRY_MAX_STRING) {
            memcpy(buf, argv[i], SLOWLOG_ENTRY_MAX_STRING);
            len = SLOWLOG_ENTRY_MAX_STRING +
                  (size_t)snprintf(buf + SLOWLOG_ENTRY_MAX_STRING,
                                   sizeof(buf) - SLOWLOG_ENTRY_MAX_STRING, "... (%zu more bytes)",
                                   argvlen[i] - SLOWLOG_ENTRY_MAX_STRING);
            p = buf;
        }
        e->argv[i] = copy_bytes(p, len);
        if (e->argv[i] == NULL)
            goto err_after_entry;
        e->argvlen[i] = len;
        e->argc = i + 1;
    }
    e->id = next_id++;
    e->time_s = server_now_ms() / 1000;
    e->duration_us = (long long)duration_us;
    return e;

err_after_entry:
    entry_free(e);
    return NULL;
}

static void unlink_oldest(void) {
    struct slowlog_entry *e = oldest;
    oldest = e->prev;
    if (oldest != NULL)
        oldest->next = NULL;
    else
        newest = NULL;
    length--;
    entry_free(e);
}

void slowlog_record(const struct client *c, const struct command *cmd, int argc, char **argv,
                    const size_t *argvlen, uint64_t duration_us) {
    if (cfg.slowlog_log_slower_than < 0 || (cmd->flags & CMD_SKIP_SLOWLOG) ||
        duration_us < (uint64_t)cfg.slowlog_log_slower_than)
        return;
    /* Redis 7.0 counts the id even when the list keeps nothing (max-len 0). */
    struct slowlog_entry *e = entry_new(c, argc, argv, argvlen, duration_us);
    if (e == NULL)
        return;
    e->next = newest;
    if (newest != NULL)
        newest->prev = e;
    newest = e;
    if (oldest == NULL)
        oldest = e;
    length++;
    while (length > cfg.slowlog_max_len)
        unlink_oldest();
}

void slowlog_reset(void) {
    while (oldest != NULL)
        unlink_oldest();
}

/* ---- SLOWLOG ---- */

void cmd_slowlog_get(struct exec_ctx *ctx) {
    long long count = 10;
    if (ctx->argc > 3) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    if (ctx->argc == 3) {
        long long n;
        if (!obj_parse_ll(ctx->argv[2], ctx->argvlen[2], &n) || n < -1) {
            resp_add_error(ctx->out, "ERR count should be greater than or equal to -1");
            return;
        }
        count = n == -1 ? length : n;
    }
    if (count > length)
        count = length;
    resp_add_array(ctx->out, count);
    struct slowlog_entry *e = newest;
    for (long long i = 0; i < count; i++, e = e->next) {
        resp_add_array(ctx->out, 6);
        resp_add_int(ctx->out, e->id);
        resp_add_int(ctx->out, e->time_s);
        resp_add_int(ctx->out, e->duration_us);
        resp_add_array(ctx->out, e->argc);
        for (int j = 0; j < e->argc; j++)
            resp_add_bulk(ctx->out, e->argv[j], e->argvlen[j]);
        resp_add_bulk_cstr(ctx->out, e->peer);
        resp_add_bulk_cstr(ctx->out, e->name);
    }
}

void cmd_slowlog_len(struct exec_ctx *ctx) {
    resp_add_int(ctx->out, length);
}

void cmd_slowlog_reset(struct exec_ctx *ctx) {
    slowlog_reset();
    exec_reply_ok(ctx);
}

void cmd_slowlog_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        NULL,
    };
    exec_reply_help(ctx, lines);
}
