/* CLIENT subcommands: a connection's identity (ID, SETNAME, GETNAME,
 * SETINFO), introspection (INFO, LIST), control of other connections (KILL,
 * PAUSE, UNPAUSE) and of this one's replies (REPLY, NO-EVICT), with Redis
 * 7.0's replies and errors. Tracking (GETREDIR, TRACKING, CACHING,
 * TRACKINGINFO) and UNBLOCK are not here. The pause itself is node/pause.c. */
#include "node/acl.h"
#include "node/client.h"
#include "node/cmd_connection.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/exec.h"
#include "node/multi.h"
#include "node/pause.h"
#include "node/pubsub.h"
#include "node/server.h"
#include "node/tracking.h"
#include "storage/object.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Identity ---- */

void cmd_client_id(struct exec_ctx *ctx) {
    resp_add_int(ctx->out, ctx->client != NULL ? (long long)ctx->client->id : 0);
}

void cmd_client_getname(struct exec_ctx *ctx) {
    if (ctx->client != NULL && ctx->client->name != NULL)
        resp_add_bulk_cstr(ctx->out, ctx->client->name);
    else
        resp_add_null(ctx->out);
}

void cmd_client_setname(struct exec_ctx *ctx) {
    if (connection_set_name(ctx, ctx->argv[2], ctx->argvlen[2]))
        exec_reply_ok(ctx);
}

/* Redis 7.2 clientSetinfoCommand: LIB-NAME / LIB-VER, same charset as names,
 * an empty value clears the attribute. */
void cmd_client_setinfo(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    const char *attr = ctx->argv[2];
    int attr_len = (int)(ctx->argvlen[2] < 128 ? ctx->argvlen[2] : 128);
    char **dest;
    if (exec_arg_is(ctx, 2, "lib-name")) {
        dest = c != NULL ? &c->lib_name : NULL;
    } else if (exec_arg_is(ctx, 2, "lib-ver")) {
        dest = c != NULL ? &c->lib_ver : NULL;
    } else {
        resp_add_errorf(ctx->out, "ERR Unrecognized option '%.*s'", attr_len, attr);
        return;
    }
    const char *val = ctx->argv[3];
    size_t len = ctx->argvlen[3];
    for (size_t i = 0; i < len; i++) {
        if (val[i] < '!' || val[i] > '~') {
            resp_add_errorf(ctx->out,
                            "ERR %.*s cannot contain spaces, newlines or special characters.",
                            attr_len, attr);
            return;
        }
    }
    if (dest != NULL) {
        char *copy = NULL;
        if (len > 0) {
            copy = malloc(len + 1);
            if (copy == NULL) {
                resp_add_error(ctx->out, "ERR out of memory");
                return;
            }
            memcpy(copy, val, len);
            copy[len] = '\0';
        }
        free(*dest);
        *dest = copy;
    }
    exec_reply_ok(ctx);
}

/* ---- INFO and LIST ---- */

enum client_type { TYPE_NONE = -1, TYPE_NORMAL, TYPE_REPLICA, TYPE_PUBSUB, TYPE_MASTER };

/* Redis 7.0 getClientTypeByName; TYPE_NONE for an unknown name. */
static enum client_type type_by_name(const struct exec_ctx *ctx, int arg) {
    if (exec_arg_is(ctx, arg, "normal"))
        return TYPE_NORMAL;
    if (exec_arg_is(ctx, arg, "slave") || exec_arg_is(ctx, arg, "replica"))
        return TYPE_REPLICA;
    if (exec_arg_is(ctx, arg, "pubsub"))
        return TYPE_PUBSUB;
    if (exec_arg_is(ctx, arg, "master"))
        return TYPE_MASTER;
    return TYPE_NONE;
}

/* Shard members talk over the cluster bus, not as clients, so a client is
 * never a master or replica here; monitors count as normal, as in Redis. */
static enum client_type type_of(const struct client *c) {
    return (c->flags & CLIENT_PUBSUB) ? TYPE_PUBSUB : TYPE_NORMAL;
}

static void reply_unknown_type(struct exec_ctx *ctx, int arg) {
    resp_add_errorf(ctx->out, "ERR Unknown client type '%.*s'",
                    (int)(ctx->argvlen[arg] < 128 ? ctx->argvlen[arg] : 128), ctx->argv[arg]);
}

static void add_str(struct resp_out *s, const char *text) {
    resp_add_raw(s, text, strlen(text));
}

static void add_field(struct resp_out *s, const char *name, const char *value) {
    add_str(s, name);
    add_str(s, value);
}

static void add_field_ll(struct resp_out *s, const char *name, long long value) {
    char num[24];
    size_t n = resp_ll2str(num, value);
    add_str(s, name);
    resp_add_raw(s, num, n);
}

/* Redis 7.0 CLIENT LIST flags, in its order. */
static void format_flags(const struct client *cl, char *flags) {
    char *p = flags;
    if (cl->flags & CLIENT_MONITOR)
        *p++ = 'O';
    if (cl->flags & CLIENT_PUBSUB)
        *p++ = 'P';
    if (cl->flags & CLIENT_MULTI)
        *p++ = 'x';
    if (cl->flags & CLIENT_BLOCKED)
        *p++ = 'b';
    if (tracking_is_on(cl))
        *p++ = 't';
    if (tracking_redirect_broken(cl))
        *p++ = 'R';
    if (tracking_is_bcast(cl))
        *p++ = 'B';
    if (cl->flags & CLIENT_CLOSE_AFTER_REPLY)
        *p++ = 'c';
    if (cl->flags & CLIENT_READONLY)
        *p++ = 'r';
    if (cl->flags & CLIENT_NO_EVICT)
        *p++ = 'e';
    if (p == flags)
        *p++ = 'N';
    *p = '\0';
}

/* Appends one CLIENT LIST line (without the newline) for 'cl', with Redis
 * 7.0's fields in its order. 'ctx' tells which client is running the
 * command: only its arguments are in memory (argv-mem). Subscription and
 * MULTI counts are reported as none until those modules keep them. */
static void append_client_info(struct resp_out *s, const struct client *cl,
                               const struct exec_ctx *ctx) {
    int64_t now_s = server_now_ms() / 1000;
    uv_os_fd_t fd;
    long long fd_num = uv_fileno((const uv_handle_t *)&cl->tcp, &fd) == 0 ? (long long)fd : -1;
    char flags[16];
    format_flags(cl, flags);
    size_t argv_mem = 0;
    if (ctx != NULL && cl == ctx->client)
        for (int i = 0; i < ctx->argc; i++)
            argv_mem += ctx->argvlen[i];
    size_t tot_mem = sizeof(*cl) + cl->qcap + cl->out.cap + cl->inflight.cap + argv_mem;

    add_field_ll(s, "id=", (long long)cl->id);
    add_field(s, " addr=", cl->addr);
    add_field(s, " laddr=", cl->laddr);
    add_field_ll(s, " fd=", fd_num);
    add_field(s, " name=", cl->name != NULL ? cl->name : "");
    add_field_ll(s, " age=", now_s - cl->ctime_ms / 1000);
    add_field_ll(s, " idle=", now_s - cl->last_interaction_ms / 1000);
    add_field(s, " flags=", flags);
    add_field_ll(s, " db=", cl->db);
    add_field_ll(s, " sub=", (long long)pubsub_client_count(cl, PUBSUB_CHANNEL));
    add_field_ll(s, " psub=", (long long)pubsub_client_count(cl, PUBSUB_PATTERN));
    add_field_ll(s, " ssub=", (long long)pubsub_client_count(cl, PUBSUB_SHARD));
    add_field_ll(s, " multi=", multi_queued_count(cl));
    add_field_ll(s, " qbuf=", (long long)client_query_buffer_len(cl));
    add_field_ll(s, " qbuf-free=", (long long)(cl->qcap - cl->qlen));
    add_field_ll(s, " argv-mem=", (long long)argv_mem);
    add_field_ll(s, " multi-mem=", 0);
    add_field_ll(s, " rbs=", (long long)cl->out.cap);
    add_field_ll(s, " rbp=", (long long)cl->out.cap);
    add_field_ll(s, " obl=", (long long)cl->out.len);
    add_field_ll(s, " oll=", cl->write_in_flight ? 1 : 0);
    add_field_ll(s, " omem=", (long long)cl->inflight.len);
    add_field_ll(s, " tot-mem=", (long long)tot_mem);
    add_field(s, " events=", (cl->flags & CLIENT_CLOSING) ? "" : cl->write_in_flight ? "rw" : "r");
    add_field(s, " cmd=", cl->last_cmd != NULL ? cl->last_cmd->fullname : "NULL");
    add_field(s, " user=", acl_client_user_name(cl));
    add_field_ll(s, " redir=", tracking_redirect_id(cl));
    add_field_ll(s, " resp=", cl->out.proto);
}

void client_info_append(struct resp_out *s, const struct client *cl) {
    append_client_info(s, cl, NULL);
}

static void reply_text(struct exec_ctx *ctx, struct resp_out *text) {
    if (text->failed)
        resp_add_error(ctx->out, "ERR out of memory");
    else
        resp_add_verbatim(ctx->out, text->len > 0 ? text->buf : "", text->len, "txt");
    resp_out_close(text);
}

void cmd_client_info(struct exec_ctx *ctx) {
    if (ctx->client == NULL) {
        resp_add_verbatim(ctx->out, "", 0, "txt");
        return;
    }
    struct resp_out text;
    resp_out_init(&text, 2);
    append_client_info(&text, ctx->client, ctx);
    resp_add_raw(&text, "\n", 1);
    reply_text(ctx, &text);
}

/* The oldest client: server.clients is newest first, Redis lists oldest
 * first. */
static struct client *oldest_client(void) {
    struct client *c = server.clients;
    while (c != NULL && c->next != NULL)
        c = c->next;
    return c;
}

static struct client *client_by_id(long long id) {
    for (struct client *c = server.clients; c != NULL; c = c->next)
        if ((long long)c->id == id && !(c->flags & CLIENT_CLOSING))
            return c;
    return NULL;
}

/* CLIENT LIST [TYPE type | ID id [id ...]] */
void cmd_client_list(struct exec_ctx *ctx) {
    enum client_type type = TYPE_NONE;
    bool by_id = false;
    if (ctx->argc == 4 && exec_arg_is(ctx, 2, "type")) {
        type = type_by_name(ctx, 3);
        if (type == TYPE_NONE) {
            reply_unknown_type(ctx, 3);
            return;
        }
    } else if (ctx->argc > 3 && exec_arg_is(ctx, 2, "id")) {
        by_id = true;
    } else if (ctx->argc != 2) {
        exec_reply_syntax_error(ctx);
        return;
    }
    struct resp_out text;
    resp_out_init(&text, 2);
    if (by_id) {
        for (int i = 3; i < ctx->argc; i++) {
            long long id;
            if (!obj_parse_ll(ctx->argv[i], ctx->argvlen[i], &id)) {
                resp_out_close(&text);
                resp_add_error(ctx->out, "ERR Invalid client ID");
                return;
            }
            struct client *cl = client_by_id(id);
            if (cl != NULL) {
                append_client_info(&text, cl, ctx);
                resp_add_raw(&text, "\n", 1);
            }
        }
    } else {
        for (struct client *cl = oldest_client(); cl != NULL; cl = cl->prev) {
            if (type != TYPE_NONE && type_of(cl) != type)
                continue;
            append_client_info(&text, cl, ctx);
            resp_add_raw(&text, "\n", 1);
        }
    }
    reply_text(ctx, &text);
}

/* ---- KILL ---- */

struct kill_filter {
    const char *addr, *laddr; /* borrowed from argv, not NUL-terminated */
    size_t addr_len, laddr_len;
    enum client_type type;
    long long id; /* 0: any */
    bool skipme;
};

static bool addr_matches(const char *have, const char *want, size_t want_len) {
    return strlen(have) == want_len && memcmp(have, want, want_len) == 0;
}

static bool kill_matches(const struct kill_filter *f, const struct client *cl,
                         const struct client *self) {
    if (cl->flags & CLIENT_CLOSING)
        return false;
    if (f->addr != NULL && !addr_matches(cl->addr, f->addr, f->addr_len))
        return false;
    if (f->laddr != NULL && !addr_matches(cl->laddr, f->laddr, f->laddr_len))
        return false;
    if (f->type != TYPE_NONE && type_of(cl) != f->type)
        return false;
    if (f->id != 0 && (long long)cl->id != f->id)
        return false;
    return !(cl == self && f->skipme);
}

/* Parses the filters of the new form into 'f'; replies and returns false on
 * an error. Every filter takes one value; USER names the only user there
 * is, "default", whom every connection is. */
static bool parse_kill_filters(struct exec_ctx *ctx, struct kill_filter *f) {
    for (int i = 2; i < ctx->argc; i += 2) {
        bool has_value = i + 1 < ctx->argc;
        if (has_value && exec_arg_is(ctx, i, "id")) {
            long long id;
            if (!obj_parse_ll(ctx->argv[i + 1], ctx->argvlen[i + 1], &id) || id < 1) {
                resp_add_error(ctx->out, "ERR client-id should be greater than 0");
                return false;
            }
            f->id = id;
        } else if (has_value && exec_arg_is(ctx, i, "type")) {
            f->type = type_by_name(ctx, i + 1);
            if (f->type == TYPE_NONE) {
                reply_unknown_type(ctx, i + 1);
                return false;
            }
        } else if (has_value && exec_arg_is(ctx, i, "addr")) {
            f->addr = ctx->argv[i + 1];
            f->addr_len = ctx->argvlen[i + 1];
        } else if (has_value && exec_arg_is(ctx, i, "laddr")) {
            f->laddr = ctx->argv[i + 1];
            f->laddr_len = ctx->argvlen[i + 1];
        } else if (has_value && exec_arg_is(ctx, i, "user")) {
            /* User names are case-sensitive. */
            if (ctx->argvlen[i + 1] != 7 || memcmp(ctx->argv[i + 1], "default", 7) != 0) {
                resp_add_errorf(ctx->out, "ERR No such user '%.*s'",
                                (int)(ctx->argvlen[i + 1] < 128 ? ctx->argvlen[i + 1] : 128),
                                ctx->argv[i + 1]);
                return false;
            }
        } else if (has_value && exec_arg_is(ctx, i, "skipme")) {
            if (exec_arg_is(ctx, i + 1, "yes")) {
                f->skipme = true;
            } else if (exec_arg_is(ctx, i + 1, "no")) {
                f->skipme = false;
            } else {
                exec_reply_syntax_error(ctx);
                return false;
            }
        } else {
            exec_reply_syntax_error(ctx);
            return false;
        }
    }
    return true;
}

/* CLIENT KILL ip:port (replies OK or "No such client", may kill the caller)
 * or CLIENT KILL <filter> <value> ... (replies the number killed, skips the
 * caller unless SKIPME no). The caller, if killed, gets its reply first. */
void cmd_client_kill(struct exec_ctx *ctx) {
    struct kill_filter f = {.type = TYPE_NONE, .skipme = true};
    bool old_form = ctx->argc == 3;
    if (old_form) {
        f.addr = ctx->argv[2];
        f.addr_len = ctx->argvlen[2];
        f.skipme = false;
    } else if (!parse_kill_filters(ctx, &f)) {
        return;
    }
    struct client *self = ctx->client;
    bool kill_self = false;
    long long killed = 0;
    struct client *cl = server.clients;
    while (cl != NULL) {
        struct client *next = cl->next;
        if (kill_matches(&f, cl, self)) {
            if (cl == self)
                kill_self = true;
            else
                client_close(cl);
            killed++;
        }
        cl = next;
    }
    if (!old_form)
        resp_add_int(ctx->out, killed);
    else if (killed == 0)
        resp_add_error(ctx->out, "ERR No such client");
    else
        exec_reply_ok(ctx);
    if (kill_self)
        client_close_after_reply(self);
}

/* ---- PAUSE ---- */

/* CLIENT PAUSE timeout-ms [WRITE|ALL] */
void cmd_client_pause(struct exec_ctx *ctx) {
    if (ctx->argc > 4) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    enum pause_type type = PAUSE_ALL;
    if (ctx->argc == 4) {
        if (exec_arg_is(ctx, 3, "write")) {
            type = PAUSE_WRITE;
        } else if (!exec_arg_is(ctx, 3, "all")) {
            resp_add_error(ctx->out, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    }
    long long timeout_ms;
    if (!obj_parse_ll(ctx->argv[2], ctx->argvlen[2], &timeout_ms)) {
        resp_add_error(ctx->out, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout_ms < 0) {
        resp_add_error(ctx->out, "ERR timeout is negative");
        return;
    }
    /* Redis 7.0 adds the timeout to the clock without an overflow check: a
     * huge timeout wraps into the past and pauses nothing. Keep that. */
    int64_t end_ms = 0;
    if (timeout_ms > 0)
        end_ms = (int64_t)((uint64_t)timeout_ms + (uint64_t)server_now_ms());
    pause_start(type, end_ms);
    exec_reply_ok(ctx);
}

void cmd_client_unpause(struct exec_ctx *ctx) {
    pause_end();
    exec_reply_ok(ctx);
}

/* ---- REPLY, NO-EVICT ---- */

void cmd_client_reply(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    if (exec_arg_is(ctx, 2, "on")) {
        if (c == NULL) {
            exec_reply_ok(ctx);
            return;
        }
        /* ctx->out may be the sink this command was silenced into; ON
         * answers on the connection itself, as Redis clears the flags first. */
        c->reply_mode = REPLY_ON;
        resp_add_raw(&c->out, "+OK\r\n", 5);
    } else if (exec_arg_is(ctx, 2, "off")) {
        if (c != NULL)
            c->reply_mode = REPLY_OFF;
    } else if (exec_arg_is(ctx, 2, "skip")) {
        if (c != NULL && c->reply_mode != REPLY_OFF)
            c->reply_mode = REPLY_SKIP_NEXT;
    } else {
        exec_reply_syntax_error(ctx);
    }
}

void cmd_client_no_evict(struct exec_ctx *ctx) {
    uint32_t flag = CLIENT_NO_EVICT;
    if (exec_arg_is(ctx, 2, "on")) {
        if (ctx->client != NULL)
            ctx->client->flags |= flag;
    } else if (exec_arg_is(ctx, 2, "off")) {
        if (ctx->client != NULL)
            ctx->client->flags &= ~flag;
    } else {
        exec_reply_syntax_error(ctx);
        return;
    }
    exec_reply_ok(ctx);
}

/* ---- HELP ---- */

/* Redis 7.0's text, including the subcommands keyraft leaves to others. */
static const char *const client_help[] = {
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
};

void cmd_client_help(struct exec_ctx *ctx) {
    size_t n = sizeof(client_help) / sizeof(*client_help);
    resp_add_array(ctx->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        resp_add_status(ctx->out, client_help[i]);
}
