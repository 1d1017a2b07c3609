/* MONITOR clients and the lines they receive (see monitor.h). Owns the list
 * of monitors and the line format; whether a client is a monitor is also
 * visible as CLIENT_MONITOR in its flags. */
#include "node/monitor.h"

#include "node/client.h"
#include "node/command.h"
#include "node/server.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Monitors in the order they started monitoring (Redis appends to a list). */
static struct client **monitors;
static size_t monitor_count, monitor_cap;

void monitor_add(struct client *c) {
    if (c->flags & CLIENT_MONITOR)
        return;
    if (monitor_count == monitor_cap) {
        size_t cap = monitor_cap ? monitor_cap * 2 : 4;
        struct client **grown = realloc(monitors, cap * sizeof(*grown));
        if (grown == NULL)
            return;
        monitors = grown;
        monitor_cap = cap;
    }
    monitors[monitor_count++] = c;
    c->flags |= CLIENT_MONITOR;
}

void monitor_remove(struct client *c) {
    if (!(c->flags & CLIENT_MONITOR))
        return;
    c->flags &= ~(uint32_t)CLIENT_MONITOR;
    for (size_t i = 0; i < monitor_count; i++) {
        if (monitors[i] == c) {
            memmove(monitors + i, monitors + i + 1, (monitor_count - i - 1) * sizeof(*monitors));
            monitor_count--;
            break;
        }
    }
    if (monitor_count == 0) {
        free(monitors);
        monitors = NULL;
        monitor_cap = 0;
    }
}

/* ---- Line format ---- */

/* Indexes marked by monitor_redact_arg for the command being executed. */
static int *redacted;
static size_t redacted_count, redacted_cap;

void monitor_redact_arg(int index) {
    if (redacted_count == redacted_cap) {
        size_t cap = redacted_cap ? redacted_cap * 2 : 8;
        int *grown = realloc(redacted, cap * sizeof(*grown));
        if (grown == NULL)
            return;
        redacted = grown;
        redacted_cap = cap;
    }
    redacted[redacted_count++] = index;
}

static bool is_redacted(int index) {
    for (size_t i = 0; i < redacted_count; i++)
        if (redacted[i] == index)
            return true;
    return false;
}

/* The letter sdscatrepr writes after a backslash for 'ch', or 0. */
static char escape_letter(unsigned char ch) {
    switch (ch) {
    case '\\':
        return '\\';
    case '"':
        return '"';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    case '\a':
        return 'a';
    case '\b':
        return 'b';
    default:
        return 0;
    }
}

/* Appends 'p' quoted as sdscatrepr does: the escapes above, printable ASCII
 * as is, every other byte as \xHH. */
static void add_repr(struct resp_out *line, const char *p, size_t len) {
    resp_add_raw(line, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        char esc[5];
        char letter = escape_letter(ch);
        if (letter != 0) {
            esc[0] = '\\';
            esc[1] = letter;
            resp_add_raw(line, esc, 2);
        } else if (isprint(ch)) {
            resp_add_raw(line, (const char *)&p[i], 1);
        } else {
            int n = snprintf(esc, sizeof(esc), "\\x%02x", ch);
            resp_add_raw(line, esc, (size_t)n);
        }
    }
    resp_add_raw(line, "\"", 1);
}

void monitor_feed(const struct client *c, const struct command *cmd, int dbid, int argc,
                  char **argv, const size_t *argvlen) {
    if (monitor_count == 0 || (cmd->flags & (CMD_ADMIN | CMD_SKIP_MONITOR))) {
        redacted_count = 0;
        return;
    }

    /* The timestamp is for the observer only: it never reaches data. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char head[160];
    int n = snprintf(head, sizeof(head), "+%lld.%06ld [%d %s] ", (long long)ts.tv_sec,
                     ts.tv_nsec / 1000, dbid, c != NULL ? c->addr : "lua");
    struct resp_out line;
    resp_out_init(&line, 2);
    resp_add_raw(&line, head, (size_t)n);
    for (int i = 0; i < argc; i++) {
        if (is_redacted(i))
            resp_add_raw(&line, "\"(redacted)\"", 12);
        else
            add_repr(&line, argv[i], argvlen[i]);
        if (i != argc - 1)
            resp_add_raw(&line, " ", 1);
    }
    resp_add_raw(&line, "\r\n", 2);
    if (!line.failed) {
        for (size_t i = 0; i < monitor_count; i++) {
            struct client *m = monitors[i];
            /* Like any reply, the line respects CLIENT REPLY OFF/SKIP. */
            if (m->reply_mode != REPLY_ON && m->reply_mode != REPLY_SKIP_NEXT)
                continue;
            resp_add_raw(&m->out, line.buf, line.len);
            client_schedule_write(m);
        }
    }
    resp_out_close(&line);
    redacted_count = 0;
}
