/* CONFIG GET / SET / RESETSTAT / REWRITE / HELP, with Redis 7.0's replies
 * and error texts. The directives themselves live in config.c (see
 * config_table.h); rewriting the file is config_file.c's. */
#include "node/client.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/config.h"
#include "node/config_table.h"
#include "node/exec.h"
#include "node/log.h"
#include "node/server.h"
#include "storage/glob.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Command arguments are (pointer, length) pairs, not C strings: returns
 * owned NUL-terminated copies of argv[0..argc), or NULL on allocation
 * failure. Free with free_args(). */
static char **dup_args(const struct exec_ctx *ctx) {
    char **args = calloc((size_t)ctx->argc, sizeof(*args));
    if (args == NULL)
        return NULL;
    for (int i = 0; i < ctx->argc; i++) {
        args[i] = strndup(ctx->argv[i], ctx->argvlen[i]);
        if (args[i] == NULL) {
            while (i-- > 0)
                free(args[i]);
            free(args);
            return NULL;
        }
    }
    return args;
}

static void free_args(const struct exec_ctx *ctx, char **args) {
    for (int i = 0; i < ctx->argc; i++)
        free(args[i]);
    free(args);
}

/* ---- CONFIG GET ---- */

struct match {
    const char *key; /* the name as replied: what the client typed, or the table's */
    const struct config_directive *d;
};

struct matches {
    struct match *items;
    size_t count, cap;
};

static bool has_key(const struct matches *m, const char *key) {
    for (size_t i = 0; i < m->count; i++)
        if (strcasecmp(m->items[i].key, key) == 0)
            return true;
    return false;
}

static bool add_match(struct matches *m, const char *key, const struct config_directive *d) {
    if (has_key(m, key))
        return true;
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        struct match *bigger = realloc(m->items, cap * sizeof(*bigger));
        if (bigger == NULL)
            return false;
        m->items = bigger;
        m->cap = cap;
    }
    m->items[m->count++] = (struct match){key, d};
    return true;
}

/* Redis 7.0 configGetCommand: a name without glob characters is looked up
 * exactly (hidden directives included, reply key as typed); a pattern
 * matches every name and alias that is not hidden. */
void cmd_config_get(struct exec_ctx *ctx) {
    struct matches m = {0};
    char **args = dup_args(ctx);
    bool ok = args != NULL;
    for (int i = 2; i < ctx->argc && ok; i++) {
        const char *pattern = args[i];
        if (strpbrk(pattern, "[*?") == NULL) {
            const struct config_directive *d = config_find(pattern);
            if (d != NULL)
                ok = add_match(&m, pattern, d);
            continue;
        }
        size_t plen = ctx->argvlen[i];
        for (const struct config_directive *d = config_next(NULL); d && ok; d = config_next(d)) {
            if (d->flags & CONFIG_HIDDEN)
                continue;
            if (glob_match(pattern, plen, d->name, strlen(d->name), true))
                ok = add_match(&m, d->name, d);
            if (ok && d->alias && glob_match(pattern, plen, d->alias, strlen(d->alias), true))
                ok = add_match(&m, d->alias, d);
        }
    }
    if (!ok) {
        resp_add_error(ctx->out, "ERR Out of memory");
        goto done;
    }
    resp_add_map(ctx->out, (long long)m.count);
    char value[CONFIG_VALUE_MAX];
    for (size_t i = 0; i < m.count; i++) {
        resp_add_bulk_cstr(ctx->out, m.items[i].key);
        size_t n = config_format(m.items[i].d, value, sizeof(value));
        resp_add_bulk(ctx->out, value, n);
    }
done:
    free(m.items);
    if (args != NULL)
        free_args(ctx, args);
}

/* ---- CONFIG SET ---- */

static bool protected_allowed(const struct exec_ctx *ctx) {
    return config_protected_allowed(cfg.enable_protected_configs,
                                    ctx->client != NULL ? ctx->client->addr : NULL);
}

static void restore(const struct config_directive **set, char **old, int count) {
    char err[256];
    for (int i = 0; i < count; i++)
        if (old[i] != NULL)
            config_set_text(set[i], old[i], err, sizeof(err));
}

/* The name Redis 7.0 reports for a failed value: the alias if that is what
 * the client typed, else the canonical name. */
static const char *shown_name(const struct config_directive *d, const char *typed) {
    return d->alias != NULL && strcasecmp(d->alias, typed) == 0 ? d->alias : d->name;
}

/* Redis 7.0 configSetCommand: all names are checked first (unknown,
 * immutable, protected, duplicate), then every value is set, then the apply
 * hooks run; any failure restores every old value, so nothing changes. */
void cmd_config_set(struct exec_ctx *ctx) {
    if (ctx->argc % 2 != 0) {
        exec_reply_syntax_error(ctx);
        return;
    }
    int count = (ctx->argc - 2) / 2;
    const struct config_directive **set = calloc((size_t)count, sizeof(*set));
    char **old = calloc((size_t)count, sizeof(*old));
    char **args = dup_args(ctx);
    if (set == NULL || old == NULL || args == NULL) {
        resp_add_error(ctx->out, "ERR Out of memory");
        goto done;
    }
    /* Redis 7.0.15 reports the first bad name, whatever is wrong with it. */
    const char *unknown = NULL, *err_name = NULL, *errstr = NULL;
    for (int i = 0; i < count && unknown == NULL && errstr == NULL; i++) {
        const char *name = args[2 + i * 2];
        const struct config_directive *d = config_find(name);
        if (d == NULL) {
            unknown = name;
            break;
        }
        if ((d->flags & CONFIG_IMMUTABLE) ||
            ((d->flags & CONFIG_PROTECTED) && !protected_allowed(ctx))) {
            errstr = (d->flags & CONFIG_IMMUTABLE) ? "can't set immutable config"
                                                   : "can't set protected config";
            err_name = name;
            break;
        }
        for (int j = 0; j < i; j++) {
            if (set[j] == d) {
                errstr = "duplicate parameter";
                err_name = name;
                break;
            }
        }
        set[i] = d;
    }
    if (unknown != NULL) {
        resp_add_errorf(ctx->out, "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                        unknown);
        goto done;
    }
    char reason[512];
    if (errstr == NULL) {
        char value[CONFIG_VALUE_MAX];
        for (int i = 0; i < count && errstr == NULL; i++) {
            config_format(set[i], value, sizeof(value));
            old[i] = strdup(value);
            if (old[i] == NULL) {
                errstr = "out of memory";
                err_name = set[i]->name;
            }
        }
    }
    for (int i = 0; i < count && errstr == NULL; i++) {
        if (config_set_text(set[i], args[3 + i * 2], reason, sizeof(reason)) != 0) {
            restore(set, old, i + 1);
            errstr = reason;
            err_name = shown_name(set[i], args[2 + i * 2]);
        }
    }
    /* Each distinct apply hook once, after every value is in place. */
    for (int i = 0; i < count && errstr == NULL; i++) {
        if (set[i]->apply == NULL)
            continue;
        bool seen = false;
        for (int j = 0; j < i; j++)
            seen = seen || set[j]->apply == set[i]->apply;
        if (!seen && set[i]->apply(reason, sizeof(reason)) != 0) {
            log_warning("Failed applying new configuration. Possibly related to new %s setting. "
                        "Restoring previous settings.",
                        set[i]->name);
            restore(set, old, count);
            char scratch[256];
            for (int j = 0; j < count; j++)
                if (set[j]->apply != NULL)
                    set[j]->apply(scratch, sizeof(scratch));
            errstr = reason;
            err_name = set[i]->name;
        }
    }
    if (errstr != NULL)
        resp_add_errorf(ctx->out, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                        err_name, errstr);
    else
        exec_reply_ok(ctx);
done:
    if (old != NULL)
        for (int i = 0; i < count; i++)
            free(old[i]);
    free(old);
    free(set);
    if (args != NULL)
        free_args(ctx, args);
}

/* ---- CONFIG RESETSTAT / REWRITE / HELP ---- */

static void reset_command_stats(struct command *cmd) {
    memset(&cmd->stats, 0, sizeof(cmd->stats));
    for (int i = 0; i < cmd->subcommand_count; i++)
        reset_command_stats(cmd->subcommands[i]);
}

/* Redis 7.0 resetServerStats + resetCommandTableStats: INFO stats counters
 * and commandstats start again from zero. */
void cmd_config_resetstat(struct exec_ctx *ctx) {
    memset(&server.stats, 0, sizeof(server.stats));
    size_t n;
    struct command *const *all = command_all(&n);
    for (size_t i = 0; i < n; i++)
        reset_command_stats(all[i]);
    exec_reply_ok(ctx);
}

void cmd_config_rewrite(struct exec_ctx *ctx) {
    if (cfg.config_file == NULL) {
        resp_add_error(ctx->out, "ERR The server is running without a config file");
        return;
    }
    char err[512];
    if (config_rewrite(err, sizeof(err)) != 0) {
        log_warning("CONFIG REWRITE failed: %s", err);
        resp_add_errorf(ctx->out, "ERR Rewriting config file: %s", err);
        return;
    }
    log_notice("CONFIG REWRITE executed with success.");
    exec_reply_ok(ctx);
}

void cmd_config_help(struct exec_ctx *ctx) {
    static const char *const help[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(help) / sizeof(help[0]);
    resp_add_array(ctx->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        resp_add_status(ctx->out, help[i]);
}
