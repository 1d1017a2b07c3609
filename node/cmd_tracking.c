/* The client-side caching subcommands of CLIENT: TRACKING CACHING GETREDIR
 * TRACKINGINFO, with Redis 7.0's argument checks and replies. The rest of
 * CLIENT is in cmd_client.c; the tracking itself is tracking.c's. */
#include "node/client.h"
#include "node/cmd_handlers.h"
#include "node/exec.h"
#include "node/tracking.h"

#include <stdlib.h>

/* CLIENT TRACKING <ON|OFF> [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
 * [OPTOUT] [NOLOOP]: options are parsed (and REDIRECT's client looked up)
 * before ON/OFF is looked at, as Redis does. */
void cmd_client_tracking(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    if (c == NULL)
        return;
    long long redirect = 0;
    uint32_t options = 0;
    char **prefixes = NULL;
    size_t *lens = NULL;
    size_t count = 0;
    if (ctx->argc > 3) {
        prefixes = malloc((size_t)ctx->argc * sizeof(*prefixes));
        lens = malloc((size_t)ctx->argc * sizeof(*lens));
        if (prefixes == NULL || lens == NULL) {
            resp_add_error(ctx->out, "ERR out of memory");
            goto out;
        }
    }
    for (int j = 3; j < ctx->argc; j++) {
        bool more = j + 1 < ctx->argc;
        if (exec_arg_is(ctx, j, "redirect") && more) {
            j++;
            if (redirect != 0) {
                resp_add_error(ctx->out, "ERR A client can only redirect to a single other client");
                goto out;
            }
            if (!exec_arg_ll(ctx, j, &redirect))
                goto out;
            if (redirect <= 0 || tracking_client_by_id((uint64_t)redirect) == NULL) {
                resp_add_error(ctx->out, "ERR The client ID you want redirect to does not exist");
                goto out;
            }
        } else if (exec_arg_is(ctx, j, "bcast")) {
            options |= TRACKING_BCAST;
        } else if (exec_arg_is(ctx, j, "optin")) {
            options |= TRACKING_OPTIN;
        } else if (exec_arg_is(ctx, j, "optout")) {
            options |= TRACKING_OPTOUT;
        } else if (exec_arg_is(ctx, j, "noloop")) {
            options |= TRACKING_NOLOOP;
        } else if (exec_arg_is(ctx, j, "prefix") && more) {
            j++;
            prefixes[count] = ctx->argv[j];
            lens[count++] = ctx->argvlen[j];
        } else {
            exec_reply_syntax_error(ctx);
            goto out;
        }
    }
    if (exec_arg_is(ctx, 2, "on")) {
        if (!(options & TRACKING_BCAST) && count > 0) {
            resp_add_error(ctx->out, "ERR PREFIX option requires BCAST mode to be enabled");
            goto out;
        }
        if (!tracking_enable(ctx, (uint64_t)redirect, options, prefixes, lens, count))
            goto out;
    } else if (exec_arg_is(ctx, 2, "off")) {
        tracking_disable(c);
    } else {
        exec_reply_syntax_error(ctx);
        goto out;
    }
    exec_reply_ok(ctx);
out:
    free(prefixes);
    free(lens);
}

void cmd_client_caching(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    if (c == NULL)
        return;
    if (!tracking_is_on(c)) {
        resp_add_error(ctx->out, "ERR CLIENT CACHING can be called only when the client is in "
                                 "tracking mode with OPTIN or OPTOUT mode enabled");
        return;
    }
    uint32_t flags = c->tracking->flags;
    if (exec_arg_is(ctx, 2, "yes")) {
        if (!(flags & TRACKING_OPTIN)) {
            resp_add_error(ctx->out, "ERR CLIENT CACHING YES is only valid when tracking is "
                                     "enabled in OPTIN mode.");
            return;
        }
    } else if (exec_arg_is(ctx, 2, "no")) {
        if (!(flags & TRACKING_OPTOUT)) {
            resp_add_error(ctx->out, "ERR CLIENT CACHING NO is only valid when tracking is "
                                     "enabled in OPTOUT mode.");
            return;
        }
    } else {
        exec_reply_syntax_error(ctx);
        return;
    }
    /* YES in OPTIN and NO in OPTOUT both mean "the next command is the
     * exception". */
    tracking_set_caching(c, true);
    exec_reply_ok(ctx);
}

void cmd_client_getredir(struct exec_ctx *ctx) {
    resp_add_int(ctx->out, ctx->client != NULL ? tracking_redirect_id(ctx->client) : -1);
}

/* Redis 7.0: a map of flags (a set), redirect and prefixes. */
void cmd_client_trackinginfo(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    uint32_t flags = c != NULL && c->tracking != NULL ? c->tracking->flags : 0;
    resp_add_map(ctx->out, 3);
    resp_add_bulk_cstr(ctx->out, "flags");
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 1;
    resp_add_bulk_cstr(ctx->out, (flags & TRACKING_ON) ? "on" : "off");
    if (flags & TRACKING_BCAST) {
        resp_add_bulk_cstr(ctx->out, "bcast");
        n++;
    }
    if (flags & TRACKING_OPTIN) {
        resp_add_bulk_cstr(ctx->out, "optin");
        n++;
        if (flags & TRACKING_CACHING) {
            resp_add_bulk_cstr(ctx->out, "caching-yes");
            n++;
        }
    }
    if (flags & TRACKING_OPTOUT) {
        resp_add_bulk_cstr(ctx->out, "optout");
        n++;
        if (flags & TRACKING_CACHING) {
            resp_add_bulk_cstr(ctx->out, "caching-no");
            n++;
        }
    }
    if (flags & TRACKING_NOLOOP) {
        resp_add_bulk_cstr(ctx->out, "noloop");
        n++;
    }
    if (flags & TRACKING_BROKEN_REDIR) {
        resp_add_bulk_cstr(ctx->out, "broken_redirect");
        n++;
    }
    resp_end_deferred(ctx->out, token, '~', n);
    resp_add_bulk_cstr(ctx->out, "redirect");
    resp_add_int(ctx->out, c != NULL ? tracking_redirect_id(c) : -1);
    resp_add_bulk_cstr(ctx->out, "prefixes");
    size_t prefix_count = c != NULL && c->tracking != NULL ? c->tracking->prefix_count : 0;
    resp_add_array(ctx->out, (long long)prefix_count);
    for (size_t i = 0; i < prefix_count; i++) {
        size_t len;
        const char *name = tracking_prefix(c, i, &len);
        resp_add_bulk(ctx->out, name, len);
    }
}
