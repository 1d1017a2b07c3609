/* Connection commands: PING ECHO QUIT SELECT, and the connection's
 * protocol and identity: AUTH HELLO RESET MONITOR. Users and passwords are
 * node/acl.c's (requirepass is the default user's password).
 * CLIENT is in cmd_client.c. */
#include "node/acl.h"
#include "node/client.h"
#include "node/cmd_connection.h"
#include "node/cmd_handlers.h"
#include "node/dispatch.h"
#include "node/exec.h"
#include "node/monitor.h"
#include "node/server.h"
#include "node/version.h"
#include "storage/object.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cmd_ping(struct exec_ctx *ctx) {
    if (ctx->argc > 2) {
        resp_add_error(ctx->out, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    /* Redis 7.0: a subscribed RESP2 client gets ["pong", msg] (a plain reply
     * could not be told apart from a message). */
    if (ctx->client != NULL && (ctx->client->flags & CLIENT_PUBSUB) && ctx->out->proto == 2) {
        resp_add_array(ctx->out, 2);
        resp_add_bulk(ctx->out, "pong", 4);
        resp_add_bulk(ctx->out, ctx->argc == 2 ? ctx->argv[1] : "",
                      ctx->argc == 2 ? ctx->argvlen[1] : 0);
        return;
    }
    if (ctx->argc == 1)
        resp_add_raw(ctx->out, "+PONG\r\n", 7);
    else
        resp_add_bulk(ctx->out, ctx->argv[1], ctx->argvlen[1]);
}

void cmd_echo(struct exec_ctx *ctx) {
    resp_add_bulk(ctx->out, ctx->argv[1], ctx->argvlen[1]);
}

void cmd_quit(struct exec_ctx *ctx) {
    exec_reply_ok(ctx);
    if (ctx->client != NULL)
        client_close_after_reply(ctx->client);
}

void cmd_select(struct exec_ctx *ctx) {
    long long id;
    if (!exec_arg_ll(ctx, 1, &id))
        return;
    if (cfg.cluster_enabled && id != 0) {
        resp_add_error(ctx->out, "ERR SELECT is not allowed in cluster mode");
        return;
    }
    if (id < 0 || id >= cfg.databases) {
        resp_add_error(ctx->out, "ERR DB index is out of range");
        return;
    }
    ctx->client->db = (int)id;
    exec_reply_ok(ctx);
}

/* ---- Authentication ---- */

#define WRONGPASS_ERROR "WRONGPASS invalid username-password pair or user is disabled."

static bool default_user_has_password(void) {
    return !acl_default_user_nopass();
}

/* Redis 7.0 ACLAuthenticateUser (node/acl.c): on success the connection is
 * that user, authenticated; a failure is logged in ACL LOG and leaves the
 * connection as it was. */
static bool authenticate(struct exec_ctx *ctx, const char *user, size_t user_len, const char *pass,
                         size_t pass_len) {
    return acl_authenticate(ctx->client, user, user_len, pass, pass_len, ctx->argv[0],
                            ctx->argvlen[0]);
}

void cmd_auth(struct exec_ctx *ctx) {
    if (ctx->argc > 3) {
        exec_reply_syntax_error(ctx);
        return;
    }
    monitor_redact_arg(1);
    bool ok;
    if (ctx->argc == 2) {
        if (!default_user_has_password()) {
            resp_add_error(ctx->out, "ERR AUTH <password> called without any password configured "
                                     "for the default user. Are you sure your configuration is "
                                     "correct?");
            return;
        }
        ok = authenticate(ctx, "default", 7, ctx->argv[1], ctx->argvlen[1]);
    } else {
        monitor_redact_arg(2);
        ok = authenticate(ctx, ctx->argv[1], ctx->argvlen[1], ctx->argv[2], ctx->argvlen[2]);
    }
    if (ok)
        exec_reply_ok(ctx);
    else
        resp_add_error(ctx->out, WRONGPASS_ERROR);
}

/* ---- Name ---- */

bool connection_set_name(struct exec_ctx *ctx, const char *name, size_t len) {
    /* Redis 7.0 clientSetNameOrReply: an empty name removes the name; other
     * names must be printable ASCII without spaces so CLIENT LIST parses. */
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '!' || name[i] > '~') {
            resp_add_error(ctx->out, "ERR Client names cannot contain spaces, newlines or special "
                                     "characters.");
            return false;
        }
    }
    struct client *c = ctx->client;
    if (c == NULL)
        return true;
    char *copy = NULL;
    if (len > 0) {
        copy = malloc(len + 1);
        if (copy == NULL) {
            resp_add_error(ctx->out, "ERR out of memory");
            return false;
        }
        memcpy(copy, name, len);
        copy[len] = '\0';
    }
    free(c->name);
    c->name = copy;
    return true;
}

/* ---- HELLO ---- */

static void set_protocol(struct client *c, int proto) {
    c->out.proto = proto;
    c->inflight.proto = proto;
}

/* Redis 7.0 helloCommand: HELLO [protover [AUTH user pass] [SETNAME name]].
 * Each option takes effect as it is parsed (AUTH authenticates, SETNAME
 * names), so an error stops there and keeps what came before it. */
void cmd_hello(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    long long ver = 0;
    if (ctx->argc >= 2) {
        if (!obj_parse_ll(ctx->argv[1], ctx->argvlen[1], &ver)) {
            resp_add_error(ctx->out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            resp_add_error(ctx->out, "NOPROTO unsupported protocol version");
            return;
        }
    }
    for (int j = 2; j < ctx->argc; j++) {
        int more = ctx->argc - 1 - j;
        if (exec_arg_is(ctx, j, "auth") && more >= 2) {
            monitor_redact_arg(j + 1);
            monitor_redact_arg(j + 2);
            if (!authenticate(ctx, ctx->argv[j + 1], ctx->argvlen[j + 1], ctx->argv[j + 2],
                              ctx->argvlen[j + 2])) {
                resp_add_error(ctx->out, WRONGPASS_ERROR);
                return;
            }
            j += 2;
        } else if (exec_arg_is(ctx, j, "setname") && more >= 1) {
            if (!connection_set_name(ctx, ctx->argv[j + 1], ctx->argvlen[j + 1]))
                return;
            j++;
        } else {
            resp_add_errorf(ctx->out, "ERR Syntax error in HELLO option '%.*s'",
                            (int)ctx->argvlen[j], ctx->argv[j]);
            return;
        }
    }
    if (c != NULL && !dispatch_is_authenticated(c)) {
        resp_add_error(ctx->out, "NOAUTH HELLO must be called with the client already "
                                 "authenticated, otherwise the HELLO AUTH <user> <pass> "
                                 "option can be used to authenticate the client and select the "
                                 "RESP protocol version at the same time");
        return;
    }
    if (ver != 0 && c != NULL)
        set_protocol(c, (int)ver);
    /* ctx->out is the client's own buffer (or a sink), so this reply is
     * already in the new protocol. */
    resp_add_map(ctx->out, 7);
    resp_add_bulk_cstr(ctx->out, "server");
    resp_add_bulk_cstr(ctx->out, "redis");
    resp_add_bulk_cstr(ctx->out, "version");
    resp_add_bulk_cstr(ctx->out, KEYRAFT_REDIS_VERSION);
    resp_add_bulk_cstr(ctx->out, "proto");
    resp_add_int(ctx->out, c != NULL ? c->out.proto : 2);
    resp_add_bulk_cstr(ctx->out, "id");
    resp_add_int(ctx->out, c != NULL ? (long long)c->id : 0);
    resp_add_bulk_cstr(ctx->out, "mode");
    resp_add_bulk_cstr(ctx->out, cfg.cluster_enabled ? "cluster" : "standalone");
    resp_add_bulk_cstr(ctx->out, "role");
    resp_add_bulk_cstr(ctx->out, "master");
    resp_add_bulk_cstr(ctx->out, "modules");
    resp_add_array(ctx->out, 0);
}

/* ---- RESET and MONITOR ---- */

/* Redis 7.0 resetCommand / clearClientConnectionState: leaves MONITOR,
 * selects db 0, speaks RESP2, is authenticated only if no password is set,
 * replies again, and forgets its name and per-command flags. */
void cmd_reset(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    if (c == NULL) {
        resp_add_status(ctx->out, "RESET");
        return;
    }
    dispatch_client_reset(c);
    c->db = 0;
    set_protocol(c, 2);
    acl_client_set_default(c);
    free(c->name);
    c->name = NULL;
    c->flags &= ~(uint32_t)(CLIENT_ASKING | CLIENT_READONLY | CLIENT_PUBSUB);
    /* Replies are on again before +RESET is written, so it is always sent. */
    c->reply_mode = REPLY_ON;
    resp_add_status(&c->out, "RESET");
}

void cmd_monitor(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    if (c == NULL)
        return;
    /* Redis refuses MONITOR where each command must get one reply (inside
     * EXEC), and ignores it from a client that already monitors. */
    if (c->flags & CLIENT_MULTI) {
        resp_add_error(ctx->out, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (c->flags & CLIENT_MONITOR)
        return;
    monitor_add(c);
    exec_reply_ok(ctx);
}
