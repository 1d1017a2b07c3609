/* The ACL command (SETUSER GETUSER DELUSER LIST USERS WHOAMI CAT LOG GENPASS
 * DRYRUN SAVE LOAD HELP) with Redis 7.0's replies and errors. Users and
 * checks are node/acl.c's; descriptions, the log and the file are
 * node/acl_store.c's. */
#include "node/acl_internal.h"
#include "node/client.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/exec.h"
#include "node/monitor.h"
#include "storage/object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

static bool name_has_spaces(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r') || s[i] == '\0')
            return true;
    return false;
}

static void reply_text(struct exec_ctx *ctx, struct resp_out *text) {
    if (text->failed)
        resp_add_error(ctx->out, "ERR out of memory");
    else
        resp_add_bulk(ctx->out, text->len > 0 ? text->buf : "", text->len);
    resp_out_close(text);
}

/* ---- SETUSER DELUSER ---- */

void cmd_acl_setuser(struct exec_ctx *ctx) {
    for (int i = 2; i < ctx->argc; i++)
        monitor_redact_arg(i);
    const char *name = ctx->argv[2];
    size_t namelen = ctx->argvlen[2];
    if (name_has_spaces(name, namelen)) {
        resp_add_error(ctx->out, "ERR Usernames can't contain spaces or null characters");
        return;
    }
    /* Rules apply to a scratch copy; the user changes only if all are valid. */
    struct acl_user *existing = acl_user_find(name, namelen);
    struct acl_user *staged = acl_user_new(name, namelen);
    if (staged == NULL || (existing != NULL && acl_user_copy(staged, existing) != 0))
        goto oom;
    for (int i = 3; i < ctx->argc; i++) {
        int rc = acl_user_apply(staged, ctx->argv[i], ctx->argvlen[i]);
        if (rc != 0) {
            resp_add_errorf(ctx->out, "ERR Error in ACL SETUSER modifier '%.*s': %s",
                            (int)ctx->argvlen[i], ctx->argv[i], acl_rule_strerror(rc));
            acl_user_free(staged);
            return;
        }
    }
    if (existing != NULL) {
        if (acl_user_copy(existing, staged) != 0)
            goto oom;
        acl_user_free(staged);
    } else if (acl_user_insert(staged) != 0) {
        goto oom;
    }
    exec_reply_ok(ctx);
    return;
oom:
    acl_user_free(staged);
    resp_add_error(ctx->out, "ERR out of memory");
}

void cmd_acl_deluser(struct exec_ctx *ctx) {
    for (int i = 2; i < ctx->argc; i++) {
        if (ctx->argvlen[i] == 7 && memcmp(ctx->argv[i], "default", 7) == 0) {
            resp_add_error(ctx->out, "ERR The 'default' user cannot be removed");
            return;
        }
    }
    long long deleted = 0;
    for (int i = 2; i < ctx->argc; i++) {
        struct acl_user *u = acl_user_remove(ctx->argv[i], ctx->argvlen[i]);
        if (u == NULL)
            continue;
        acl_kill_clients_of(u, ctx->client);
        acl_user_free(u);
        deleted++;
    }
    resp_add_int(ctx->out, deleted);
}

/* ---- GETUSER LIST USERS WHOAMI ---- */

static void reply_patterns(struct exec_ctx *ctx, const struct acl_user *u, bool keys) {
    struct resp_out text;
    resp_out_init(&text, 2);
    if (keys && (u->selector_flags & ACL_SEL_ALLKEYS)) {
        resp_add_raw(&text, "~*", 2);
    } else if (!keys && (u->selector_flags & ACL_SEL_ALLCHANNELS)) {
        resp_add_raw(&text, "&*", 2);
    } else {
        size_t n = keys ? u->nkeys : u->nchannels;
        for (size_t i = 0; i < n; i++) {
            const struct acl_pattern *p = keys ? &u->keys[i] : &u->channels[i];
            if (i > 0)
                resp_add_raw(&text, " ", 1);
            if (!keys)
                resp_add_raw(&text, "&", 1);
            else if (p->perms == ACL_PERM_READ)
                resp_add_raw(&text, "%R~", 3);
            else if (p->perms == ACL_PERM_WRITE)
                resp_add_raw(&text, "%W~", 3);
            else
                resp_add_raw(&text, "~", 1);
            resp_add_raw(&text, p->pattern, p->len);
        }
    }
    reply_text(ctx, &text);
}

void cmd_acl_getuser(struct exec_ctx *ctx) {
    const struct acl_user *u = acl_user_find(ctx->argv[2], ctx->argvlen[2]);
    if (u == NULL) {
        resp_add_null(ctx->out);
        return;
    }
    static const struct {
        const char *name;
        unsigned flag;
    } flags[] = {
        {"on", ACL_USER_ON},
        {"off", ACL_USER_OFF},
        {"nopass", ACL_USER_NOPASS},
        {"skip-sanitize-payload", ACL_USER_SKIP_SANITIZE},
        {"sanitize-payload", ACL_USER_SANITIZE},
    };
    resp_add_map(ctx->out, 6);
    resp_add_bulk_cstr(ctx->out, "flags");
    int nflags = 0;
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        nflags += (u->flags & flags[i].flag) != 0;
    resp_add_set(ctx->out, nflags);
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (u->flags & flags[i].flag)
            resp_add_bulk_cstr(ctx->out, flags[i].name);
    resp_add_bulk_cstr(ctx->out, "passwords");
    resp_add_array(ctx->out, (long long)u->npasswords);
    for (size_t i = 0; i < u->npasswords; i++)
        resp_add_bulk(ctx->out, u->passwords[i], ACL_HASH_LEN);
    resp_add_bulk_cstr(ctx->out, "commands");
    struct resp_out rules;
    resp_out_init(&rules, 2);
    acl_describe_commands(u, &rules);
    reply_text(ctx, &rules);
    resp_add_bulk_cstr(ctx->out, "keys");
    reply_patterns(ctx, u, true);
    resp_add_bulk_cstr(ctx->out, "channels");
    reply_patterns(ctx, u, false);
    resp_add_bulk_cstr(ctx->out, "selectors");
    resp_add_array(ctx->out, 0);
}

void cmd_acl_list(struct exec_ctx *ctx) {
    size_t count = acl_user_count();
    resp_add_array(ctx->out, (long long)count);
    for (size_t i = 0; i < count; i++) {
        const struct acl_user *u = acl_user_at(i);
        struct resp_out text;
        resp_out_init(&text, 2);
        resp_add_raw(&text, "user ", 5);
        resp_add_raw(&text, u->name, u->namelen);
        resp_add_raw(&text, " ", 1);
        acl_describe_user(u, &text);
        reply_text(ctx, &text);
    }
}

void cmd_acl_users(struct exec_ctx *ctx) {
    size_t count = acl_user_count();
    resp_add_array(ctx->out, (long long)count);
    for (size_t i = 0; i < count; i++)
        resp_add_bulk(ctx->out, acl_user_at(i)->name, acl_user_at(i)->namelen);
}

void cmd_acl_whoami(struct exec_ctx *ctx) {
    resp_add_bulk_cstr(ctx->out, acl_client_user_name(ctx->client));
}

/* ---- CAT ---- */

void cmd_acl_cat(struct exec_ctx *ctx) {
    if (ctx->argc > 3) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    if (ctx->argc == 2) {
        int n = 0;
        while (acl_categories[n] != NULL)
            n++;
        resp_add_array(ctx->out, n);
        for (int i = 0; i < n; i++)
            resp_add_bulk_cstr(ctx->out, acl_categories[i]);
        return;
    }
    int category = acl_category_index(ctx->argv[2], ctx->argvlen[2]);
    if (category < 0) {
        resp_add_errorf(ctx->out, "ERR Unknown category '%.*s'",
                        (int)(ctx->argvlen[2] < 128 ? ctx->argvlen[2] : 128), ctx->argv[2]);
        return;
    }
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 0;
    for (size_t id = 0; id < acl_command_count(); id++) {
        if (acl_command_categories(id) & (1u << category)) {
            resp_add_bulk_cstr(ctx->out, acl_command_at(id)->fullname);
            n++;
        }
    }
    resp_end_deferred(ctx->out, token, '*', n);
}

/* ---- LOG GENPASS DRYRUN ---- */

void cmd_acl_log(struct exec_ctx *ctx) {
    if (ctx->argc > 3) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    long long count = 10;
    if (ctx->argc == 3) {
        if (exec_arg_is(ctx, 2, "reset")) {
            acl_log_reset();
            exec_reply_ok(ctx);
            return;
        }
        if (!exec_arg_ll(ctx, 2, &count))
            return;
    }
    acl_log_reply(ctx->out, count);
}

#define GENPASS_MAX_BITS 4096

void cmd_acl_genpass(struct exec_ctx *ctx) {
    if (ctx->argc > 3) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    long long bits = 256;
    if (ctx->argc == 3 && !exec_arg_ll(ctx, 2, &bits))
        return;
    if (bits <= 0 || bits > GENPASS_MAX_BITS) {
        resp_add_errorf(ctx->out,
                        "ERR ACL GENPASS argument must be the number of bits for the "
                        "output password, a positive number up to %d",
                        GENPASS_MAX_BITS);
        return;
    }
    /* Not data: the password comes from the kernel's CSPRNG, not the seed. */
    unsigned char random[GENPASS_MAX_BITS / 8];
    size_t chars = (size_t)(bits + 3) / 4;
    size_t need = (chars + 1) / 2;
    size_t got = 0;
    while (got < need) {
        ssize_t n = getrandom(random + got, need - got, 0);
        if (n <= 0) {
            resp_add_error(ctx->out, "ERR could not read random bytes");
            return;
        }
        got += (size_t)n;
    }
    static const char digits[] = "0123456789abcdef";
    char hex[GENPASS_MAX_BITS / 4];
    for (size_t i = 0; i < chars; i++)
        hex[i] = digits[(random[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    resp_add_bulk(ctx->out, hex, chars);
}

void cmd_acl_dryrun(struct exec_ctx *ctx) {
    const struct acl_user *u = acl_user_find(ctx->argv[2], ctx->argvlen[2]);
    if (u == NULL) {
        resp_add_errorf(ctx->out, "ERR User '%.*s' not found", (int)ctx->argvlen[2], ctx->argv[2]);
        return;
    }
    int argc = ctx->argc - 3;
    char **argv = ctx->argv + 3;
    size_t *argvlen = ctx->argvlen + 3;
    struct command *cmd = command_lookup(argv[0], argvlen[0]);
    if (cmd != NULL && cmd->subcommands != NULL && argc >= 2)
        cmd = command_lookup_sub(cmd, argv[1], argvlen[1]);
    if (cmd == NULL || (cmd->handler == NULL && cmd->subcommands != NULL && argc < 2)) {
        resp_add_errorf(ctx->out, "ERR Command '%.*s' not found", (int)argvlen[0], argv[0]);
        return;
    }
    if (!command_arity_ok(cmd, argc)) {
        resp_add_errorf(ctx->out, "ERR wrong number of arguments for '%s' command", cmd->fullname);
        return;
    }
    int errpos;
    enum acl_verdict verdict = acl_user_check(u, cmd, argc, argv, argvlen, &errpos);
    char msg[512];
    switch (verdict) {
    case ACL_OK:
        exec_reply_ok(ctx);
        return;
    case ACL_DENIED_CMD:
        snprintf(msg, sizeof(msg), "This user has no permissions to run the '%s' command",
                 cmd->fullname);
        break;
    case ACL_DENIED_KEY:
        snprintf(msg, sizeof(msg), "This user has no permissions to access the '%.*s' key",
                 (int)(argvlen[errpos] < 256 ? argvlen[errpos] : 256), argv[errpos]);
        break;
    default:
        snprintf(msg, sizeof(msg), "This user has no permissions to access the '%.*s' channel",
                 (int)(argvlen[errpos] < 256 ? argvlen[errpos] : 256), argv[errpos]);
        break;
    }
    resp_add_bulk_cstr(ctx->out, msg);
}

/* ---- SAVE LOAD HELP ---- */

static bool has_acl_file(struct exec_ctx *ctx) {
    if (acl_file != NULL && acl_file[0] != '\0')
        return true;
    resp_add_error(ctx->out, "ERR This Redis instance is not configured to use an ACL file. You "
                             "may want to specify users via the ACL SETUSER command and then issue "
                             "a CONFIG REWRITE (assuming you have a Redis configuration file set) "
                             "in order to store users in the Redis configuration.");
    return false;
}

void cmd_acl_save(struct exec_ctx *ctx) {
    if (!has_acl_file(ctx))
        return;
    if (acl_save_file() == 0)
        exec_reply_ok(ctx);
    else
        resp_add_error(ctx->out, "ERR There was an error trying to save the ACLs. Please check "
                                 "the server logs for more information");
}

void cmd_acl_load(struct exec_ctx *ctx) {
    if (!has_acl_file(ctx))
        return;
    char errors[4096];
    if (acl_load_file(ctx->client, errors, sizeof(errors)) == 0)
        exec_reply_ok(ctx);
    else
        resp_add_errorf(ctx->out, "ERR %s", errors);
}

void cmd_acl_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the "
        "command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        NULL,
    };
    exec_reply_help(ctx, lines);
}
