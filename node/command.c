/* Command table (see command.h): built once at startup from commands.def. */
#include "node/command.h"

#include "node/cmd_handlers.h"
#include "storage/dict.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROW(nm, full, fn, ar, fl, f, l, s, acl, grp, snc, cx, sm)                                  \
    {.name = nm,                                                                                   \
     .fullname = full,                                                                             \
     .handler = fn,                                                                                \
     .arity = ar,                                                                                  \
     .flag_names = fl,                                                                             \
     .first_key = f,                                                                               \
     .last_key = l,                                                                                \
     .key_step = s,                                                                                \
     .acl_categories = acl,                                                                        \
     .group = grp,                                                                                 \
     .since = snc,                                                                                 \
     .complexity = cx,                                                                             \
     .summary = sm},
#define COMMAND(id, nm, ...)         ROW(nm, nm, cmd_##id, __VA_ARGS__)
#define CONTAINER(id, nm, ...)       ROW(nm, nm, NULL, __VA_ARGS__)
#define SUBCOMMAND(par, id, nm, ...) ROW(nm, #par "|" nm, cmd_##par##_##id, __VA_ARGS__)
static struct command rows[] = {
#include "node/commands.def"
};
#undef COMMAND
#undef CONTAINER
#undef SUBCOMMAND
#undef ROW

#define ROW_COUNT (sizeof(rows) / sizeof(rows[0]))

static const struct {
    const char *name;
    uint32_t flag;
} flag_names[] = {
    {"write", CMD_WRITE},
    {"readonly", CMD_READONLY},
    {"denyoom", CMD_DENYOOM},
    {"admin", CMD_ADMIN},
    {"pubsub", CMD_PUBSUB},
    {"noscript", CMD_NOSCRIPT},
    {"blocking", CMD_BLOCKING},
    {"loading", CMD_LOADING},
    {"stale", CMD_STALE},
    {"skip_monitor", CMD_SKIP_MONITOR},
    {"skip_slowlog", CMD_SKIP_SLOWLOG},
    {"fast", CMD_FAST},
    {"no_auth", CMD_NO_AUTH},
    {"may_replicate", CMD_MAY_REPLICATE},
    {"no_mandatory_keys", CMD_NO_MANDATORY_KEYS},
    {"no_async_loading", CMD_NO_ASYNC_LOADING},
    {"no_multi", CMD_NO_MULTI},
    {"movablekeys", CMD_MOVABLE_KEYS},
    {"allow_busy", CMD_ALLOW_BUSY},
};

static const char *name_of(const void *elem, size_t *len) {
    const struct command *cmd = elem;
    *len = strlen(cmd->name);
    return cmd->name;
}

static const struct dict_type name_type = {.key_of = name_of, .nocase = true};
static struct dict top_level;
static struct command **top_list;
static size_t top_count;

/* Redis 7.0 marks these may_replicate (PUBLISH is propagated, PFCOUNT may
 * rewrite its cached cardinality, scripts may write) but COMMAND INFO does not
 * report that flag, so the rows generated from it lack it. */
static const char *const unreported_may_replicate[] = {"publish", "spublish", "pfcount",
                                                       "eval",    "evalsha",  "fcall"};

static bool is_unreported_may_replicate(const char *fullname) {
    for (size_t i = 0; i < sizeof(unreported_may_replicate) / sizeof(unreported_may_replicate[0]);
         i++)
        if (strcmp(unreported_may_replicate[i], fullname) == 0)
            return true;
    return false;
}

static uint32_t parse_flags(const char *names) {
    uint32_t flags = 0;
    const char *p = names;
    while (*p) {
        size_t len = strcspn(p, " ");
        for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
            if (strlen(flag_names[i].name) == len && strncmp(flag_names[i].name, p, len) == 0)
                flags |= flag_names[i].flag;
        p += len;
        while (*p == ' ')
            p++;
    }
    return flags;
}

/* The last name looked up, byte for byte as sent: clients, pipelines and
 * log entries repeat the same few commands, and comparing a few bytes costs
 * less than hashing them case-insensitively. The table never changes after
 * command_table_init, so only close has to forget it. */
static struct {
    char name[16];
    size_t len;
    struct command *cmd;
} last_lookup;

static int by_name(const void *a, const void *b) {
    return strcmp((*(struct command *const *)a)->name, (*(struct command *const *)b)->name);
}

int command_table_init(void) {
    dict_init(&top_level, &name_type);
    top_list = calloc(ROW_COUNT, sizeof(*top_list));
    if (top_list == NULL)
        return -1;
    struct command *container = NULL;
    for (size_t i = 0; i < ROW_COUNT; i++) {
        struct command *cmd = &rows[i];
        cmd->flags = parse_flags(cmd->flag_names);
        if (is_unreported_may_replicate(cmd->fullname))
            cmd->flags |= CMD_MAY_REPLICATE;
        if (strcmp(cmd->fullname, "migrate") == 0)
            cmd->flags |= CMD_PROPOSES_EFFECTS;
        if (strchr(cmd->fullname, '|') == NULL) {
            /* Subcommand rows attach to the top-level row before them. A row
             * may have both a handler and subcommands: bare COMMAND runs one. */
            container = cmd;
            top_list[top_count++] = cmd;
            if (dict_add(&top_level, cmd) != 0)
                return -1;
            continue;
        }
        /* A subcommand row follows its container row, directly or (a group
         * file adding to another's container) further down. */
        size_t parent_len = (size_t)(strchr(cmd->fullname, '|') - cmd->fullname);
        if (container == NULL || strlen(container->name) != parent_len ||
            strncmp(container->name, cmd->fullname, parent_len) != 0)
            container = dict_find(&top_level, cmd->fullname, parent_len);
        if (container == NULL)
            return -1;
        struct command **subs = realloc(container->subcommands,
                                        (size_t)(container->subcommand_count + 2) * sizeof(*subs));
        if (subs == NULL)
            return -1;
        subs[container->subcommand_count++] = cmd;
        subs[container->subcommand_count] = NULL;
        container->subcommands = subs;
        cmd->parent = container;
    }
    for (size_t i = 0; i < top_count; i++)
        if (top_list[i]->subcommands != NULL)
            qsort(top_list[i]->subcommands, (size_t)top_list[i]->subcommand_count,
                  sizeof(struct command *), by_name);
    return 0;
}

void command_table_close(void) {
    for (size_t i = 0; i < top_count; i++) {
        free(top_list[i]->subcommands);
        top_list[i]->subcommands = NULL;
        top_list[i]->subcommand_count = 0;
    }
    free(top_list);
    top_list = NULL;
    top_count = 0;
    dict_close(&top_level, NULL);
    last_lookup.len = 0;
}

struct command *command_lookup(const char *name, size_t len) {
    if (len == last_lookup.len && len != 0 && memcmp(name, last_lookup.name, len) == 0)
        return last_lookup.cmd;
    struct command *cmd = dict_find(&top_level, name, len);
    if (len <= sizeof(last_lookup.name)) {
        memcpy(last_lookup.name, name, len);
        last_lookup.len = len;
        last_lookup.cmd = cmd;
    }
    return cmd;
}

struct command *command_lookup_sub(const struct command *parent, const char *name, size_t len) {
    for (int i = 0; i < parent->subcommand_count; i++) {
        struct command *sub = parent->subcommands[i];
        if (strlen(sub->name) == len && strncasecmp(sub->name, name, len) == 0)
            return sub;
    }
    return NULL;
}

struct command *const *command_all(size_t *count) {
    *count = top_count;
    return top_list;
}

int command_key_positions(const struct command *cmd, int argc, int *out, int max) {
    if (cmd->first_key <= 0)
        return 0;
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    int n = 0;
    for (int i = cmd->first_key; i <= last && i < argc && n < max; i += cmd->key_step)
        out[n++] = i;
    return n;
}
