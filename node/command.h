/* The command table: every command's name, arity, flags, key positions, ACL
 * categories and docs, built at startup from node/commands.def, plus the
 * per-command statistics INFO commandstats reports.
 *
 * Rows come from Redis 7.0's own COMMAND INFO/DOCS (tools/gen-command-rows.py),
 * so arity errors, COMMAND output and flags match the reference exactly. */
#ifndef KR_NODE_COMMAND_H
#define KR_NODE_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct exec_ctx;
typedef void (*cmd_handler_fn)(struct exec_ctx *ctx);

enum cmd_flag {
    CMD_WRITE = 1 << 0,
    CMD_READONLY = 1 << 1,
    CMD_DENYOOM = 1 << 2,
    CMD_ADMIN = 1 << 3,
    CMD_PUBSUB = 1 << 4,
    CMD_NOSCRIPT = 1 << 5,
    CMD_BLOCKING = 1 << 6,
    CMD_LOADING = 1 << 7,
    CMD_STALE = 1 << 8,
    CMD_SKIP_MONITOR = 1 << 9,
    CMD_SKIP_SLOWLOG = 1 << 10,
    CMD_FAST = 1 << 11,
    CMD_NO_AUTH = 1 << 12,
    CMD_MAY_REPLICATE = 1 << 13,
    CMD_NO_MANDATORY_KEYS = 1 << 14,
    CMD_NO_ASYNC_LOADING = 1 << 15,
    CMD_NO_MULTI = 1 << 16,
    CMD_MOVABLE_KEYS = 1 << 17,
    CMD_ALLOW_BUSY = 1 << 18,
    /* keyraft's own, never reported: a write that runs at once on the node
     * that received it instead of as a log entry, and proposes its effects
     * itself (MIGRATE: it talks to another node, then proposes the deletes). */
    CMD_PROPOSES_EFFECTS = 1 << 19,
};

struct command_stats {
    uint64_t calls;
    uint64_t usec;
    uint64_t rejected_calls;
    uint64_t failed_calls;
};

struct command {
    const char *name;       /* lowercase; "get", or "id" for CLIENT ID */
    const char *fullname;   /* "get", "client|id" */
    cmd_handler_fn handler; /* NULL for containers */
    int arity;
    uint32_t flags;
    const char *flag_names; /* as Redis reports them, space separated */
    int first_key, last_key, key_step;
    const char *acl_categories; /* "@read @string @fast" */
    const char *group, *since, *complexity, *summary;
    struct command *parent;
    struct command **subcommands; /* sorted by name, NULL-terminated */
    int subcommand_count;
    struct command_stats stats;
};

int command_table_init(void);
void command_table_close(void);

/* Case-insensitive lookup of a top-level command. */
struct command *command_lookup(const char *name, size_t len);
/* Case-insensitive lookup of a subcommand of 'parent'. */
struct command *command_lookup_sub(const struct command *parent, const char *name, size_t len);
/* Every top-level command, in table order (for COMMAND and INFO). */
struct command *const *command_all(size_t *count);

/* True if 'argc' satisfies 'arity' (N exact, -N at least N). */
static inline bool command_arity_ok(const struct command *cmd, int argc) {
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

/* Positions of the key arguments of a call (COMMAND GETKEYS, cluster slot
 * checks): writes up to 'max' indexes into 'out' and returns how many. */
int command_key_positions(const struct command *cmd, int argc, int *out, int max);

#endif
