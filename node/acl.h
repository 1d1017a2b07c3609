/* Access control lists: users, their passwords and permissions, the
 * permission check every command passes, and the ACL LOG, with Redis 7.0's
 * semantics and texts.
 *
 * A user has flags (on/off, nopass), SHA-256 password hashes, and one
 * selector: the commands it may run (a bitmap over the command table, plus
 * allowed first arguments such as +select|0), key patterns with read/write
 * permissions (~, %R~, %W~) and channel patterns (&). Extra selectors
 * ("(...)") are not supported. The 'default' user always exists; every
 * connection starts as it; requirepass is its password.
 *
 * Users live in memory, in name order (ACL LIST, ACL SAVE); the aclfile
 * directive names the file ACL LOAD and ACL SAVE use and that is loaded at
 * startup, in Redis's format ("user <name> <rules...>" per line). */
#ifndef KR_NODE_ACL_H
#define KR_NODE_ACL_H

#include "resp/writer.h"

#include <stdbool.h>
#include <stddef.h>

struct client;
struct command;
struct exec_ctx;

/* Redis's ACL_* results, in its order (the log picks the highest). */
enum acl_verdict {
    ACL_OK = 0,
    ACL_DENIED_CMD,
    ACL_DENIED_KEY,
    ACL_DENIED_AUTH,
    ACL_DENIED_CHANNEL,
};

/* Where a denial happened (ACL LOG "context"). */
enum acl_context { ACL_CONTEXT_TOPLEVEL, ACL_CONTEXT_MULTI, ACL_CONTEXT_LUA };

/* Directive values (rows in node/config.c). 'acl_file' is owned by the
 * config table ("" = none). */
extern char *acl_file;
extern long long acl_log_max_len;

/* Creates the default user (password from cfg.requirepass) and loads
 * 'acl_file' if set. Returns 0, or -1 after logging why (startup aborts). */
int acl_init(void);
/* Frees every user and the log (shutdown). */
void acl_close(void);

/* ---- Authentication ---- */

/* A new connection (or RESET) is the default user, authenticated when
 * that user is on and needs no password (Redis's clientSetDefaultAuth). */
void acl_client_set_default(struct client *c);
/* Redis's authRequired: the client has not authenticated and the default
 * user needs a password or is off. */
bool acl_auth_required(const struct client *c);
/* Whether the default user is flagged nopass (AUTH <password> refuses). */
bool acl_default_user_nopass(void);
/* Checks the pair and, on success, makes 'c' (may be NULL) that user,
 * authenticated. A failure is logged in ACL LOG with 'cmd_name' (argv[0]
 * as typed: "AUTH", "hello") as the object. */
bool acl_authenticate(struct client *c, const char *user, size_t user_len, const char *pass,
                      size_t pass_len, const char *cmd_name, size_t cmd_name_len);
/* The requirepass value changed: 'pass' (NUL-terminated; "" = none) becomes
 * the default user's only password, or the user becomes nopass. */
void acl_set_default_password(const char *pass);
/* The requirepass directive's apply hook (CONFIG SET requirepass). */
int acl_apply_requirepass(char *err, size_t errlen);
/* The name of c's user ("default" when not set). */
const char *acl_client_user_name(const struct client *c);

/* ---- Permission checks ---- */

/* Whether c's user may run 'cmd' with these arguments. Does not log. On a
 * key or channel denial '*errpos' is the argv index at fault. */
enum acl_verdict acl_check(const struct client *c, const struct command *cmd, int argc, char **argv,
                           const size_t *argvlen, int *errpos);
/* Adds an ACL LOG entry for a denial of 'cmd' ('argv' as given to
 * acl_check; 'errpos' from it). */
void acl_log_denial(const struct client *c, enum acl_verdict verdict, enum acl_context context,
                    const struct command *cmd, char **argv, const size_t *argvlen, int errpos);
/* The dispatch check: on a denial logs it and writes Redis's -NOPERM text
 * into 'msg' and returns false. */
bool acl_permits(const struct client *c, const struct command *cmd, int argc, char **argv,
                 const size_t *argvlen, char *msg, size_t msglen);
/* EXEC's check of a queued command: acl_check, logged with context
 * "multi" when denied. */
enum acl_verdict acl_check_queued(const struct client *c, const struct command *cmd, int argc,
                                  char **argv, const size_t *argvlen);

#endif
