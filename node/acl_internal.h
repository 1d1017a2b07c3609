/* What the ACL files share among themselves (node/acl.c, node/acl_store.c,
 * node/cmd_acl.c): the user structure, rule application, the user table,
 * descriptions, the log and the ACL file. Nothing outside these includes it;
 * the rest of the server uses node/acl.h. */
#ifndef KR_NODE_ACL_INTERNAL_H
#define KR_NODE_ACL_INTERNAL_H

#include "node/acl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct resp_out;

#define ACL_HASH_LEN     64   /* hex SHA-256 */
#define ACL_COMMAND_BITS 1024 /* the last one is the "future commands" bit */

enum acl_user_flags {
    ACL_USER_ON = 1 << 0,
    ACL_USER_OFF = 1 << 1,
    ACL_USER_NOPASS = 1 << 2,
    ACL_USER_SKIP_SANITIZE = 1 << 3,
    ACL_USER_SANITIZE = 1 << 4,
};

enum acl_selector_flags {
    ACL_SEL_ALLKEYS = 1 << 0,
    ACL_SEL_ALLCHANNELS = 1 << 1,
    ACL_SEL_ALLCOMMANDS = 1 << 2,
};

enum acl_perm { ACL_PERM_READ = 1, ACL_PERM_WRITE = 2 };

/* acl_user_apply errors (Redis's errno values in ACLSetUser). */
enum acl_rule_error {
    ACL_ERR_UNKNOWN = -1,            /* ENOENT */
    ACL_ERR_SYNTAX = -2,             /* EINVAL */
    ACL_ERR_KEYS_AFTER_ALL = -3,     /* EEXIST */
    ACL_ERR_CHANNELS_AFTER_ALL = -4, /* EISDIR */
    ACL_ERR_NO_SUCH_PASSWORD = -5,   /* ENODEV */
    ACL_ERR_BAD_HASH = -6,           /* EBADMSG */
    ACL_ERR_FIRSTARG_OF_SUB = -7,    /* ECHILD */
    ACL_ERR_NOMEM = -8,
};

struct acl_pattern {
    char *pattern; /* owned, NUL-terminated */
    size_t len;
    int perms; /* keys: ACL_PERM_* bits */
};

/* "+select|0": command 'id' is allowed with this first argument. */
struct acl_firstarg {
    size_t id;
    char *arg; /* owned */
};

struct acl_user {
    char *name; /* owned, NUL-terminated */
    size_t namelen;
    unsigned flags;          /* ACL_USER_* */
    unsigned selector_flags; /* ACL_SEL_* */
    uint64_t allowed[ACL_COMMAND_BITS / 64];
    char (*passwords)[ACL_HASH_LEN + 1];
    size_t npasswords, password_cap;
    struct acl_pattern *keys;
    size_t nkeys, key_cap;
    struct acl_pattern *channels;
    size_t nchannels, channel_cap;
    struct acl_firstarg *firstargs;
    size_t nfirstargs, firstarg_cap;
};

extern const char *const acl_categories[]; /* NULL-terminated, Redis's order */

/* ---- Commands (acl.c) ---- */

size_t acl_command_count(void);
struct command *acl_command_at(size_t id);
uint32_t acl_command_categories(size_t id); /* bit i: acl_categories[i] */
/* The id of a command of the table (its bit in acl_user.allowed). */
size_t acl_command_id(const struct command *cmd);
/* Index into acl_categories of 'name' (case-insensitive), or -1. */
int acl_category_index(const char *name, size_t len);

/* ---- Users (acl.c) ---- */

/* A new user in Redis's initial state (off, nothing allowed); not in the
 * table. Returns NULL when out of memory. Free with acl_user_free. */
struct acl_user *acl_user_new(const char *name, size_t len);
void acl_user_free(struct acl_user *u);
/* A new user with the default user's initial rules (on nopass ~* &* +@all). */
struct acl_user *acl_new_default_user(void);
/* Makes 'dst' have the rules of 'src' (not the name). 0 or -1 (memory). */
int acl_user_copy(struct acl_user *dst, const struct acl_user *src);
/* Applies one rule ('op', 'len' bytes). 0, or an acl_rule_error. */
int acl_user_apply(struct acl_user *u, const char *op, size_t len);
const char *acl_rule_strerror(int code);
void acl_user_set_all(struct acl_user *u, bool allow);
/* Allows or denies command 'id' (a container with its subcommands). */
void acl_user_change_command(struct acl_user *u, size_t id, bool allow);
void acl_user_change_category(struct acl_user *u, int category, bool allow);
bool acl_user_bit(const struct acl_user *u, size_t id);
/* Permission check for user 'u' (ACL DRYRUN, acl_check). */
enum acl_verdict acl_user_check(const struct acl_user *u, const struct command *cmd, int argc,
                                char **argv, const size_t *argvlen, int *errpos);

/* The user table, in name order. */
struct acl_user *acl_user_find(const char *name, size_t len);
size_t acl_user_count(void);
struct acl_user *acl_user_at(size_t index);
struct acl_user *acl_default_user(void);
/* Adds 'u' (takes ownership on success); -1 if the name exists or no memory. */
int acl_user_insert(struct acl_user *u);
/* Unlinks the user named 'name' and returns it (caller frees), or NULL. */
struct acl_user *acl_user_remove(const char *name, size_t len);
/* Hands the whole table to the caller (the table is then empty), and puts
 * a table back: acl_users_replace frees every user of the current table
 * except the default user, which must be in 'list'. */
void acl_users_take(struct acl_user ***list, size_t *count, size_t *cap);
void acl_users_replace(struct acl_user **list, size_t count, size_t cap);

/* ---- Descriptions, log, file (acl_store.c) ---- */

/* Appends ACL LIST's description of 'u' (without "user <name> ") to 'text'. */
void acl_describe_user(const struct acl_user *u, struct resp_out *text);
/* Appends the command rules ("+@all -@string +set") of 'u' to 'text'. */
void acl_describe_commands(const struct acl_user *u, struct resp_out *text);

/* Adds a log entry, or bumps a similar recent one (Redis's addACLLogEntry). */
void acl_log_add(const struct client *c, enum acl_verdict reason, enum acl_context context,
                 const char *object, size_t object_len, const char *user, size_t user_len);
/* ACL LOG [count] reply: the newest 'count' entries. */
void acl_log_reply(struct resp_out *out, long long count);
void acl_log_reset(void);

/* Loads 'acl_file' into a new user table, replacing the current one only if
 * the whole file is valid (Redis's ACLLoadFromFile). Clients of replaced
 * users are closed except 'current' (closed after its reply). Returns 0, or
 * -1 with Redis's message in 'errors'. */
int acl_load_file(struct client *current, char *errors, size_t errlen);
/* Writes every user to 'acl_file' (temp file + rename). 0, or -1 (logged). */
int acl_save_file(void);
/* Closes the connections authenticated as 'u' ('current' after its reply)
 * and makes them the unauthenticated default user. */
void acl_kill_clients_of(const struct acl_user *u, struct client *current);

#endif
