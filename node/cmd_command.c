/* The COMMAND command and its subcommands: the command table as Redis 7.0
 * reports it (COMMAND, INFO, COUNT, LIST, DOCS) and key extraction
 * (GETKEYS, GETKEYSANDFLAGS). The table itself is command.c's; tips and key
 * specs come from command_meta.c. */
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/command_meta.h"
#include "node/exec.h"
#include "storage/glob.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Reply pieces ---- */

static size_t count_words(const char *s) {
    size_t n = 0;
    while (*s) {
        s += strspn(s, " ");
        if (*s == '\0')
            break;
        n++;
        s += strcspn(s, " ");
    }
    return n;
}

/* A set (array in RESP2) of the space separated words of 's'; with
 * 'as_status' the words are status replies (as Redis writes command flags
 * and ACL categories; tips are bulk strings). */
static void reply_words(struct resp_out *out, const char *s, bool as_status) {
    resp_add_set(out, (long long)count_words(s));
    while (*s) {
        s += strspn(s, " ");
        size_t len = strcspn(s, " ");
        if (len == 0)
            break;
        if (as_status)
            resp_add_status_len(out, s, len);
        else
            resp_add_bulk(out, s, len);
        s += len;
    }
}

static void reply_keyspec(struct resp_out *out, const struct keyspec *spec) {
    resp_add_map(out, spec->notes != NULL ? 4 : 3);
    if (spec->notes != NULL) {
        resp_add_bulk_cstr(out, "notes");
        resp_add_bulk_cstr(out, spec->notes);
    }
    resp_add_bulk_cstr(out, "flags");
    reply_words(out, spec->flags, true);

    resp_add_bulk_cstr(out, "begin_search");
    resp_add_map(out, 2);
    resp_add_bulk_cstr(out, "type");
    if (spec->begin == BS_INDEX) {
        resp_add_bulk_cstr(out, "index");
        resp_add_bulk_cstr(out, "spec");
        resp_add_map(out, 1);
        resp_add_bulk_cstr(out, "index");
        resp_add_int(out, spec->begin_pos);
    } else if (spec->begin == BS_KEYWORD) {
        resp_add_bulk_cstr(out, "keyword");
        resp_add_bulk_cstr(out, "spec");
        resp_add_map(out, 2);
        resp_add_bulk_cstr(out, "keyword");
        resp_add_bulk_cstr(out, spec->begin_word);
        resp_add_bulk_cstr(out, "startfrom");
        resp_add_int(out, spec->begin_pos);
    } else {
        resp_add_bulk_cstr(out, "unknown");
        resp_add_bulk_cstr(out, "spec");
        resp_add_map(out, 0);
    }

    resp_add_bulk_cstr(out, "find_keys");
    resp_add_map(out, 2);
    resp_add_bulk_cstr(out, "type");
    static const char *const range_names[] = {"lastkey", "keystep", "limit"};
    static const char *const keynum_names[] = {"keynumidx", "firstkey", "keystep"};
    const char *const *names = NULL;
    if (spec->find == FK_RANGE) {
        resp_add_bulk_cstr(out, "range");
        names = range_names;
    } else if (spec->find == FK_KEYNUM) {
        resp_add_bulk_cstr(out, "keynum");
        names = keynum_names;
    } else {
        resp_add_bulk_cstr(out, "unknown");
    }
    resp_add_bulk_cstr(out, "spec");
    if (names == NULL) {
        resp_add_map(out, 0);
        return;
    }
    int values[3] = {spec->fk_a, spec->fk_b, spec->fk_c};
    resp_add_map(out, 3);
    for (int i = 0; i < 3; i++) {
        resp_add_bulk_cstr(out, names[i]);
        resp_add_int(out, values[i]);
    }
}

/* Redis 7.0 addReplyCommandInfo: name, arity, flags, first, last, step, ACL
 * categories, tips, key specs, subcommands (the last four are RESP3 sets). */
static void reply_command_info(struct resp_out *out, const struct command *cmd) {
    resp_add_array(out, 10);
    resp_add_bulk_cstr(out, cmd->fullname);
    resp_add_int(out, cmd->arity);
    reply_words(out, cmd->flag_names, true);
    resp_add_int(out, cmd->first_key);
    resp_add_int(out, cmd->last_key);
    resp_add_int(out, cmd->key_step);
    reply_words(out, cmd->acl_categories, true);
    reply_words(out, command_meta_tips(cmd), false);
    struct keyspec derived;
    const struct keyspec *specs;
    size_t nspecs = command_meta_keyspecs(cmd, &derived, &specs);
    resp_add_set(out, (long long)nspecs);
    for (size_t i = 0; i < nspecs; i++)
        reply_keyspec(out, &specs[i]);
    resp_add_set(out, cmd->subcommand_count);
    for (int i = 0; i < cmd->subcommand_count; i++)
        reply_command_info(out, cmd->subcommands[i]);
}

/* Redis 7.0 addReplyCommandDocs, without arguments and history (keyraft's
 * table does not carry them; clients use them only for help texts). */
static void reply_command_docs(struct resp_out *out, const struct command *cmd) {
    long long fields = 1 + (cmd->summary[0] != '\0') + (cmd->since[0] != '\0') +
                       (cmd->complexity[0] != '\0') + (cmd->subcommand_count > 0);
    resp_add_map(out, fields);
    if (cmd->summary[0] != '\0') {
        resp_add_bulk_cstr(out, "summary");
        resp_add_bulk_cstr(out, cmd->summary);
    }
    if (cmd->since[0] != '\0') {
        resp_add_bulk_cstr(out, "since");
        resp_add_bulk_cstr(out, cmd->since);
    }
    resp_add_bulk_cstr(out, "group");
    resp_add_bulk_cstr(out, cmd->group);
    if (cmd->complexity[0] != '\0') {
        resp_add_bulk_cstr(out, "complexity");
        resp_add_bulk_cstr(out, cmd->complexity);
    }
    if (cmd->subcommand_count > 0) {
        resp_add_bulk_cstr(out, "subcommands");
        resp_add_map(out, cmd->subcommand_count);
        for (int i = 0; i < cmd->subcommand_count; i++) {
            resp_add_bulk_cstr(out, cmd->subcommands[i]->fullname);
            reply_command_docs(out, cmd->subcommands[i]);
        }
    }
}

/* Redis 7.0 lookupCommandBySds: "get", or "config|get" for a subcommand. */
static const struct command *lookup_by_fullname(const char *name, size_t len) {
    const char *bar = memchr(name, '|', len);
    if (bar == NULL)
        return command_lookup(name, len);
    const struct command *parent = command_lookup(name, (size_t)(bar - name));
    if (parent == NULL || parent->subcommand_count == 0)
        return NULL;
    const char *sub = bar + 1;
    size_t sublen = len - (size_t)(sub - name);
    if (memchr(sub, '|', sublen) != NULL)
        return NULL;
    return command_lookup_sub(parent, sub, sublen);
}

/* ---- COMMAND, COUNT, INFO, DOCS ---- */

static void reply_all_info(struct exec_ctx *ctx) {
    size_t count;
    struct command *const *all = command_all(&count);
    resp_add_array(ctx->out, (long long)count);
    for (size_t i = 0; i < count; i++)
        reply_command_info(ctx->out, all[i]);
}

void cmd_command(struct exec_ctx *ctx) {
    reply_all_info(ctx);
}

void cmd_command_count(struct exec_ctx *ctx) {
    size_t count;
    command_all(&count);
    resp_add_int(ctx->out, (long long)count);
}

void cmd_command_info(struct exec_ctx *ctx) {
    if (ctx->argc == 2) {
        reply_all_info(ctx);
        return;
    }
    resp_add_array(ctx->out, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        const struct command *cmd = lookup_by_fullname(ctx->argv[i], ctx->argvlen[i]);
        if (cmd == NULL)
            resp_add_null_array(ctx->out);
        else
            reply_command_info(ctx->out, cmd);
    }
}

void cmd_command_docs(struct exec_ctx *ctx) {
    if (ctx->argc == 2) {
        size_t count;
        struct command *const *all = command_all(&count);
        resp_add_map(ctx->out, (long long)count);
        for (size_t i = 0; i < count; i++) {
            resp_add_bulk_cstr(ctx->out, all[i]->fullname);
            reply_command_docs(ctx->out, all[i]);
        }
        return;
    }
    size_t token = resp_begin_deferred(ctx->out);
    long long found = 0;
    for (int i = 2; i < ctx->argc; i++) {
        const struct command *cmd = lookup_by_fullname(ctx->argv[i], ctx->argvlen[i]);
        if (cmd == NULL)
            continue;
        resp_add_bulk_cstr(ctx->out, cmd->fullname);
        reply_command_docs(ctx->out, cmd);
        found++;
    }
    resp_end_deferred(ctx->out, token, '%', found);
}

/* ---- LIST ---- */

struct list_filter {
    enum { FILTER_NONE, FILTER_MODULE, FILTER_ACLCAT, FILTER_PATTERN } kind;
    const char *arg;
    size_t arglen;
};

static bool has_category(const struct command *cmd, const char *cat, size_t len) {
    const char *s = cmd->acl_categories;
    while (*s) {
        s += strspn(s, " ");
        size_t wlen = strcspn(s, " ");
        /* Categories are stored as "@read"; the filter names them "read". */
        if (wlen == len + 1 && s[0] == '@' && strncasecmp(s + 1, cat, len) == 0)
            return true;
        s += wlen;
    }
    return false;
}

static bool list_matches(const struct list_filter *f, const struct command *cmd) {
    switch (f->kind) {
    case FILTER_NONE:
        return true;
    case FILTER_MODULE:
        return false; /* keyraft has no modules */
    case FILTER_ACLCAT:
        return has_category(cmd, f->arg, f->arglen);
    case FILTER_PATTERN:
        return glob_match(f->arg, f->arglen, cmd->fullname, strlen(cmd->fullname), true);
    }
    return false;
}

static long long list_add(struct exec_ctx *ctx, const struct list_filter *f,
                          const struct command *cmd) {
    long long n = 0;
    if (list_matches(f, cmd)) {
        resp_add_bulk_cstr(ctx->out, cmd->fullname);
        n++;
    }
    for (int i = 0; i < cmd->subcommand_count; i++)
        n += list_add(ctx, f, cmd->subcommands[i]);
    return n;
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern] */
void cmd_command_list(struct exec_ctx *ctx) {
    struct list_filter f = {.kind = FILTER_NONE};
    if (ctx->argc == 5 && exec_arg_is(ctx, 2, "filterby")) {
        if (exec_arg_is(ctx, 3, "module"))
            f.kind = FILTER_MODULE;
        else if (exec_arg_is(ctx, 3, "aclcat"))
            f.kind = FILTER_ACLCAT;
        else if (exec_arg_is(ctx, 3, "pattern"))
            f.kind = FILTER_PATTERN;
        f.arg = ctx->argv[4];
        f.arglen = ctx->argvlen[4];
    }
    if (ctx->argc != 2 && f.kind == FILTER_NONE) {
        exec_reply_syntax_error(ctx);
        return;
    }
    size_t count;
    struct command *const *all = command_all(&count);
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 0;
    for (size_t i = 0; i < count; i++)
        n += list_add(ctx, &f, all[i]);
    resp_end_deferred(ctx->out, token, '*', n);
}

/* ---- GETKEYS, GETKEYSANDFLAGS ---- */

/* Redis 7.0 getKeysSubcommandImpl. */
static void getkeys(struct exec_ctx *ctx, bool with_flags) {
    int argc = ctx->argc - 2;
    char **argv = ctx->argv + 2;
    size_t *argvlen = ctx->argvlen + 2;
    const struct command *cmd = command_lookup(argv[0], argvlen[0]);
    if (cmd != NULL && argc >= 2 && cmd->subcommand_count > 0)
        cmd = command_lookup_sub(cmd, argv[1], argvlen[1]);
    if (cmd == NULL) {
        resp_add_error(ctx->out, "ERR Invalid command specified");
        return;
    }
    if (!command_meta_has_keys(cmd)) {
        resp_add_error(ctx->out, "ERR The command has no key arguments");
        return;
    }
    if (!command_arity_ok(cmd, argc)) {
        resp_add_error(ctx->out, "ERR Invalid number of arguments specified for command");
        return;
    }
    /* A call has fewer keys than arguments. */
    struct keyref *keys = malloc((size_t)argc * sizeof(*keys));
    if (keys == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    int n = command_meta_getkeys(cmd, argc, argv, argvlen, keys, argc);
    if (n <= 0) {
        free(keys);
        if (cmd->flags & CMD_NO_MANDATORY_KEYS)
            resp_add_array(ctx->out, 0);
        else
            resp_add_error(ctx->out, "ERR Invalid arguments specified for command");
        return;
    }
    resp_add_array(ctx->out, n);
    for (int i = 0; i < n; i++) {
        if (with_flags)
            resp_add_array(ctx->out, 2);
        resp_add_bulk(ctx->out, argv[keys[i].pos], argvlen[keys[i].pos]);
        if (with_flags)
            reply_words(ctx->out, keys[i].flags, true);
    }
    free(keys);
}

void cmd_command_getkeys(struct exec_ctx *ctx) {
    getkeys(ctx, false);
}

void cmd_command_getkeysandflags(struct exec_ctx *ctx) {
    getkeys(ctx, true);
}

void cmd_command_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        NULL,
    };
    exec_reply_help(ctx, lines);
}
