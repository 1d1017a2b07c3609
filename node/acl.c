/* ACL users, rules, permission checks and authentication (see acl.h). The
 * ACL LOG, user descriptions and the ACL file are in node/acl_store.c, the
 * ACL command in node/cmd_acl.c;
 * this file is what every command passes through.
 *
 * Command permissions are a bitmap indexed by command id: ids are given at
 * startup to every row of the command table (containers and subcommands
 * alike), in table order. The last bit is Redis's "future commands" bit,
 * set only by +@all / allcommands, which decides whether a description
 * starts from +@all or -@all. */
#include "node/acl.h"

#include "node/acl_internal.h"
#include "node/client.h"
#include "node/command.h"
#include "node/command_meta.h"
#include "node/config.h"
#include "node/log.h"
#include "node/server.h"
#include "storage/glob.h"
#include "storage/sha256.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *acl_file;
long long acl_log_max_len = 128;

/* Redis 7.0's category table; the order is ACL CAT's and the describer's. */
const char *const acl_categories[] = {
    "keyspace", "read",        "write",      "set",         "sortedset", "list",  "hash", "string",
    "bitmap",   "hyperloglog", "geo",        "stream",      "pubsub",    "admin", "fast", "slow",
    "blocking", "dangerous",   "connection", "transaction", "scripting", NULL,
};

/* ---- The command index ---- */

static struct command **commands_by_id;
static uint32_t *category_masks; /* per id: bit i = acl_categories[i] */
static size_t command_count;

/* Commands sorted by address, for the id lookup of every permission check. */
struct indexed_command {
    const struct command *cmd;
    size_t id;
};
static struct indexed_command *by_address;

static int compare_address(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const struct indexed_command *)a)->cmd;
    uintptr_t y = (uintptr_t)((const struct indexed_command *)b)->cmd;
    return x < y ? -1 : x > y;
}

static uint32_t parse_categories(const char *list) {
    uint32_t mask = 0;
    const char *p = list != NULL ? list : "";
    while (*p) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len > 1 && p[0] == '@') {
            for (int i = 0; acl_categories[i] != NULL; i++)
                if (strlen(acl_categories[i]) == len - 1 &&
                    strncmp(acl_categories[i], p + 1, len - 1) == 0)
                    mask |= 1u << i;
        }
        p += len;
    }
    return mask;
}

static int build_command_index(void) {
    size_t top_count;
    struct command *const *top = command_all(&top_count);
    size_t n = 0;
    for (size_t i = 0; i < top_count; i++)
        n += 1 + (size_t)top[i]->subcommand_count;
    if (n >= ACL_COMMAND_BITS - 1)
        return -1;
    commands_by_id = calloc(n, sizeof(*commands_by_id));
    by_address = calloc(n, sizeof(*by_address));
    category_masks = calloc(n, sizeof(*category_masks));
    if (commands_by_id == NULL || by_address == NULL || category_masks == NULL)
        return -1;
    for (size_t i = 0; i < top_count; i++) {
        commands_by_id[command_count++] = top[i];
        for (int j = 0; j < top[i]->subcommand_count; j++)
            commands_by_id[command_count++] = top[i]->subcommands[j];
    }
    for (size_t id = 0; id < command_count; id++)
        category_masks[id] = parse_categories(commands_by_id[id]->acl_categories);
    for (size_t id = 0; id < command_count; id++)
        by_address[id] = (struct indexed_command){.cmd = commands_by_id[id], .id = id};
    qsort(by_address, n, sizeof(*by_address), compare_address);
    return 0;
}

/* The id of 'cmd', or ACL_COMMAND_BITS - 1 (never allowed by a bit) for a
 * command outside the table. */
static size_t id_of(const struct command *cmd) {
    size_t lo = 0, hi = command_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((uintptr_t)by_address[mid].cmd < (uintptr_t)cmd)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < command_count && by_address[lo].cmd == cmd)
        return by_address[lo].id;
    return ACL_COMMAND_BITS - 1;
}

size_t acl_command_id(const struct command *cmd) {
    return id_of(cmd);
}

size_t acl_command_count(void) {
    return command_count;
}

struct command *acl_command_at(size_t id) {
    return commands_by_id[id];
}

uint32_t acl_command_categories(size_t id) {
    return category_masks[id];
}

int acl_category_index(const char *name, size_t len) {
    for (int i = 0; acl_categories[i] != NULL; i++)
        if (strlen(acl_categories[i]) == len && strncasecmp(acl_categories[i], name, len) == 0)
            return i;
    return -1;
}

/* Redis's ACLLookupCommand: "get", or "config|get" for a subcommand. */
static struct command *lookup_command(const char *name, size_t len) {
    const char *bar = memchr(name, '|', len);
    if (bar == NULL)
        return command_lookup(name, len);
    struct command *parent = command_lookup(name, (size_t)(bar - name));
    size_t sublen = len - (size_t)(bar - name) - 1;
    if (parent == NULL || parent->subcommands == NULL || memchr(bar + 1, '|', sublen) != NULL)
        return NULL;
    return command_lookup_sub(parent, bar + 1, sublen);
}

/* ---- Users ---- */

static struct acl_user **users; /* sorted by name (bytes), as Redis's rax */
static size_t user_count, user_cap;
static struct acl_user *default_user;

static int compare_names(const char *a, size_t alen, const char *b, size_t blen) {
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* The index of 'name' in 'users', or where it would go ('*found' false). */
static size_t find_slot(const char *name, size_t len, bool *found) {
    size_t lo = 0, hi = user_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = compare_names(users[mid]->name, users[mid]->namelen, name, len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

struct acl_user *acl_user_find(const char *name, size_t len) {
    bool found;
    size_t at = find_slot(name, len, &found);
    return found ? users[at] : NULL;
}

size_t acl_user_count(void) {
    return user_count;
}

struct acl_user *acl_user_at(size_t index) {
    return users[index];
}

struct acl_user *acl_default_user(void) {
    return default_user;
}

static void clear_patterns(struct acl_user *u) {
    for (size_t i = 0; i < u->nkeys; i++)
        free(u->keys[i].pattern);
    u->nkeys = 0;
}

static void clear_channels(struct acl_user *u) {
    for (size_t i = 0; i < u->nchannels; i++)
        free(u->channels[i].pattern);
    u->nchannels = 0;
}

static void clear_firstargs(struct acl_user *u, size_t id) {
    size_t kept = 0;
    for (size_t i = 0; i < u->nfirstargs; i++) {
        if (id == SIZE_MAX || u->firstargs[i].id == id)
            free(u->firstargs[i].arg);
        else
            u->firstargs[kept++] = u->firstargs[i];
    }
    u->nfirstargs = kept;
}

void acl_user_free(struct acl_user *u) {
    if (u == NULL)
        return;
    clear_patterns(u);
    clear_channels(u);
    clear_firstargs(u, SIZE_MAX);
    free(u->keys);
    free(u->channels);
    free(u->firstargs);
    free(u->passwords);
    free(u->name);
    free(u);
}

/* A user with Redis's initial state: off, no passwords, no commands, no
 * keys, and channels per acl-pubsub-default (resetchannels). */
struct acl_user *acl_user_new(const char *name, size_t len) {
    struct acl_user *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return NULL;
    u->name = malloc(len + 1);
    if (u->name == NULL) {
        free(u);
        return NULL;
    }
    memcpy(u->name, name, len);
    u->name[len] = '\0';
    u->namelen = len;
    u->flags = ACL_USER_OFF;
    return u;
}

/* Appends 'n' elements of 'size' to a growable array; false when out of memory. */
static bool grow(void **array, size_t count, size_t *cap, size_t size) {
    if (count < *cap)
        return true;
    size_t want = *cap ? *cap * 2 : 4;
    void *grown = realloc(*array, want * size);
    if (grown == NULL)
        return false;
    *array = grown;
    *cap = want;
    return true;
}

static char *copy_bytes(const char *p, size_t len) {
    char *s = malloc(len + 1);
    if (s != NULL) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

int acl_user_copy(struct acl_user *dst, const struct acl_user *src) {
    clear_patterns(dst);
    clear_channels(dst);
    clear_firstargs(dst, SIZE_MAX);
    dst->flags = src->flags;
    dst->selector_flags = src->selector_flags;
    memcpy(dst->allowed, src->allowed, sizeof(dst->allowed));
    dst->npasswords = 0;
    for (size_t i = 0; i < src->npasswords; i++) {
        if (!grow((void **)&dst->passwords, dst->npasswords, &dst->password_cap,
                  sizeof(*dst->passwords)))
            return -1;
        memcpy(dst->passwords[dst->npasswords++], src->passwords[i], ACL_HASH_LEN + 1);
    }
    for (size_t i = 0; i < src->nkeys; i++) {
        if (!grow((void **)&dst->keys, dst->nkeys, &dst->key_cap, sizeof(*dst->keys)))
            return -1;
        char *p = copy_bytes(src->keys[i].pattern, src->keys[i].len);
        if (p == NULL)
            return -1;
        dst->keys[dst->nkeys++] = (struct acl_pattern){
            .pattern = p, .len = src->keys[i].len, .perms = src->keys[i].perms};
    }
    for (size_t i = 0; i < src->nchannels; i++) {
        if (!grow((void **)&dst->channels, dst->nchannels, &dst->channel_cap,
                  sizeof(*dst->channels)))
            return -1;
        char *p = copy_bytes(src->channels[i].pattern, src->channels[i].len);
        if (p == NULL)
            return -1;
        dst->channels[dst->nchannels++] =
            (struct acl_pattern){.pattern = p, .len = src->channels[i].len};
    }
    for (size_t i = 0; i < src->nfirstargs; i++) {
        if (!grow((void **)&dst->firstargs, dst->nfirstargs, &dst->firstarg_cap,
                  sizeof(*dst->firstargs)))
            return -1;
        char *a = copy_bytes(src->firstargs[i].arg, strlen(src->firstargs[i].arg));
        if (a == NULL)
            return -1;
        dst->firstargs[dst->nfirstargs++] =
            (struct acl_firstarg){.id = src->firstargs[i].id, .arg = a};
    }
    return 0;
}

int acl_user_insert(struct acl_user *u) {
    bool found;
    size_t at = find_slot(u->name, u->namelen, &found);
    if (found)
        return -1;
    if (!grow((void **)&users, user_count, &user_cap, sizeof(*users)))
        return -1;
    memmove(users + at + 1, users + at, (user_count - at) * sizeof(*users));
    users[at] = u;
    user_count++;
    return 0;
}

struct acl_user *acl_user_remove(const char *name, size_t len) {
    bool found;
    size_t at = find_slot(name, len, &found);
    if (!found)
        return NULL;
    struct acl_user *u = users[at];
    memmove(users + at, users + at + 1, (user_count - at - 1) * sizeof(*users));
    user_count--;
    return u;
}

void acl_users_replace(struct acl_user **list, size_t count, size_t cap) {
    for (size_t i = 0; i < user_count; i++)
        if (users[i] != default_user)
            acl_user_free(users[i]);
    free(users);
    users = list;
    user_count = count;
    user_cap = cap;
}

void acl_users_take(struct acl_user ***list, size_t *count, size_t *cap) {
    *list = users;
    *count = user_count;
    *cap = user_cap;
    users = NULL;
    user_count = user_cap = 0;
}

/* ---- Rules (Redis's ACLSetUser / ACLSetSelector) ---- */

static void set_bit(struct acl_user *u, size_t id, bool allow) {
    uint64_t bit = 1ULL << (id % 64);
    if (allow) {
        u->allowed[id / 64] |= bit;
    } else {
        u->allowed[id / 64] &= ~bit;
        u->selector_flags &= ~(unsigned)ACL_SEL_ALLCOMMANDS;
    }
}

bool acl_user_bit(const struct acl_user *u, size_t id) {
    return (u->allowed[id / 64] >> (id % 64)) & 1;
}

void acl_user_change_command(struct acl_user *u, size_t id, bool allow) {
    set_bit(u, id, allow);
    clear_firstargs(u, id);
    struct command *cmd = commands_by_id[id];
    for (int i = 0; i < cmd->subcommand_count; i++)
        set_bit(u, id_of(cmd->subcommands[i]), allow);
}

void acl_user_change_category(struct acl_user *u, int category, bool allow) {
    for (size_t id = 0; id < command_count; id++)
        if (category_masks[id] & (1u << category))
            acl_user_change_command(u, id, allow);
}

void acl_user_set_all(struct acl_user *u, bool allow) {
    memset(u->allowed, allow ? 0xff : 0, sizeof(u->allowed));
    if (allow)
        u->selector_flags |= ACL_SEL_ALLCOMMANDS;
    else
        u->selector_flags &= ~(unsigned)ACL_SEL_ALLCOMMANDS;
    clear_firstargs(u, SIZE_MAX);
}

static bool has_spaces(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char)s[i]) || s[i] == '\0')
            return true;
    return false;
}

static bool is_word(const char *op, size_t len, const char *word) {
    return strlen(word) == len && strncasecmp(op, word, len) == 0;
}

static int add_firstarg(struct acl_user *u, size_t id, const char *arg, size_t len) {
    for (size_t i = 0; i < u->nfirstargs; i++)
        if (u->firstargs[i].id == id && strlen(u->firstargs[i].arg) == len &&
            strncasecmp(u->firstargs[i].arg, arg, len) == 0)
            return 0;
    if (!grow((void **)&u->firstargs, u->nfirstargs, &u->firstarg_cap, sizeof(*u->firstargs)))
        return ACL_ERR_NOMEM;
    char *copy = copy_bytes(arg, len);
    if (copy == NULL)
        return ACL_ERR_NOMEM;
    u->firstargs[u->nfirstargs++] = (struct acl_firstarg){.id = id, .arg = copy};
    return 0;
}

static int add_key_pattern(struct acl_user *u, const char *op, size_t len) {
    if (u->selector_flags & ACL_SEL_ALLKEYS)
        return ACL_ERR_KEYS_AFTER_ALL;
    int perms = 0;
    size_t offset = 1;
    if (op[0] == '%') {
        for (; offset < len; offset++) {
            char ch = (char)toupper((unsigned char)op[offset]);
            if (ch == 'R' && !(perms & ACL_PERM_READ)) {
                perms |= ACL_PERM_READ;
            } else if (ch == 'W' && !(perms & ACL_PERM_WRITE)) {
                perms |= ACL_PERM_WRITE;
            } else if (op[offset] == '~') {
                offset++;
                break;
            } else {
                return ACL_ERR_SYNTAX;
            }
        }
    } else {
        perms = ACL_PERM_READ | ACL_PERM_WRITE;
    }
    const char *pat = op + offset;
    size_t plen = len - offset;
    if (has_spaces(pat, plen))
        return ACL_ERR_SYNTAX;
    for (size_t i = 0; i < u->nkeys; i++) {
        if (u->keys[i].len == plen && memcmp(u->keys[i].pattern, pat, plen) == 0) {
            u->keys[i].perms |= perms;
            return 0;
        }
    }
    if (!grow((void **)&u->keys, u->nkeys, &u->key_cap, sizeof(*u->keys)))
        return ACL_ERR_NOMEM;
    char *copy = copy_bytes(pat, plen);
    if (copy == NULL)
        return ACL_ERR_NOMEM;
    u->keys[u->nkeys++] = (struct acl_pattern){.pattern = copy, .len = plen, .perms = perms};
    u->selector_flags &= ~(unsigned)ACL_SEL_ALLKEYS;
    return 0;
}

static int add_channel_pattern(struct acl_user *u, const char *op, size_t len) {
    if (u->selector_flags & ACL_SEL_ALLCHANNELS)
        return ACL_ERR_CHANNELS_AFTER_ALL;
    const char *pat = op + 1;
    size_t plen = len - 1;
    if (has_spaces(pat, plen))
        return ACL_ERR_SYNTAX;
    for (size_t i = 0; i < u->nchannels; i++)
        if (u->channels[i].len == plen && memcmp(u->channels[i].pattern, pat, plen) == 0)
            return 0;
    if (!grow((void **)&u->channels, u->nchannels, &u->channel_cap, sizeof(*u->channels)))
        return ACL_ERR_NOMEM;
    char *copy = copy_bytes(pat, plen);
    if (copy == NULL)
        return ACL_ERR_NOMEM;
    u->channels[u->nchannels++] = (struct acl_pattern){.pattern = copy, .len = plen};
    u->selector_flags &= ~(unsigned)ACL_SEL_ALLCHANNELS;
    return 0;
}

/* "+name", "+name|firstarg" (a command without subcommands), "-name". */
static int change_command_rule(struct acl_user *u, const char *op, size_t len) {
    bool allow = op[0] == '+';
    const char *bar = NULL;
    for (size_t i = len; i > 1; i--) {
        if (op[i - 1] == '|') {
            bar = op + i - 1;
            break;
        }
    }
    if (!allow || bar == NULL) {
        struct command *cmd = lookup_command(op + 1, len - 1);
        if (cmd == NULL)
            return ACL_ERR_UNKNOWN;
        acl_user_change_command(u, id_of(cmd), allow);
        return 0;
    }
    struct command *cmd = lookup_command(op + 1, (size_t)(bar - op - 1));
    if (cmd == NULL)
        return ACL_ERR_UNKNOWN;
    if (cmd->parent != NULL)
        return ACL_ERR_FIRSTARG_OF_SUB;
    size_t sublen = len - (size_t)(bar - op) - 1;
    if (sublen == 0)
        return ACL_ERR_SYNTAX;
    if (cmd->subcommands != NULL) {
        struct command *sub = lookup_command(op + 1, len - 1);
        if (sub == NULL)
            return ACL_ERR_UNKNOWN;
        acl_user_change_command(u, id_of(sub), true);
        return 0;
    }
    log_warning("Deprecation warning: Allowing a first arg of an otherwise blocked command is a "
                "misuse of ACL and may get disabled in the future (offender: %.*s)",
                (int)len, op);
    return add_firstarg(u, id_of(cmd), bar + 1, sublen);
}

static int add_password_hash(struct acl_user *u, const char *hash) {
    for (size_t i = 0; i < u->npasswords; i++)
        if (memcmp(u->passwords[i], hash, ACL_HASH_LEN) == 0)
            return 0;
    if (!grow((void **)&u->passwords, u->npasswords, &u->password_cap, sizeof(*u->passwords)))
        return ACL_ERR_NOMEM;
    memcpy(u->passwords[u->npasswords], hash, ACL_HASH_LEN);
    u->passwords[u->npasswords++][ACL_HASH_LEN] = '\0';
    return 0;
}

static bool valid_hash(const char *p, size_t len) {
    if (len != ACL_HASH_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((p[i] >= 'a' && p[i] <= 'f') || (p[i] >= '0' && p[i] <= '9')))
            return false;
    return true;
}

/* Password rules: '>' and '<' take cleartext, '#' and '!' a hash. */
static int password_rule(struct acl_user *u, const char *op, size_t len) {
    char hash[ACL_HASH_LEN + 1];
    if (op[0] == '>' || op[0] == '<') {
        sha256_hex(op + 1, len - 1, hash);
    } else {
        if (!valid_hash(op + 1, len - 1))
            return ACL_ERR_BAD_HASH;
        memcpy(hash, op + 1, ACL_HASH_LEN);
        hash[ACL_HASH_LEN] = '\0';
    }
    if (op[0] == '>' || op[0] == '#') {
        int rc = add_password_hash(u, hash);
        if (rc == 0)
            u->flags &= ~(unsigned)ACL_USER_NOPASS;
        return rc;
    }
    for (size_t i = 0; i < u->npasswords; i++) {
        if (memcmp(u->passwords[i], hash, ACL_HASH_LEN) == 0) {
            memmove(u->passwords + i, u->passwords + i + 1,
                    (u->npasswords - i - 1) * sizeof(*u->passwords));
            u->npasswords--;
            return 0;
        }
    }
    return ACL_ERR_NO_SUCH_PASSWORD;
}

int acl_user_apply(struct acl_user *u, const char *op, size_t len) {
    if (len == 0)
        return 0;
    if (is_word(op, len, "on")) {
        u->flags = (u->flags | ACL_USER_ON) & ~(unsigned)ACL_USER_OFF;
    } else if (is_word(op, len, "off")) {
        u->flags = (u->flags | ACL_USER_OFF) & ~(unsigned)ACL_USER_ON;
    } else if (is_word(op, len, "skip-sanitize-payload")) {
        u->flags = (u->flags | ACL_USER_SKIP_SANITIZE) & ~(unsigned)ACL_USER_SANITIZE;
    } else if (is_word(op, len, "sanitize-payload")) {
        u->flags = (u->flags | ACL_USER_SANITIZE) & ~(unsigned)ACL_USER_SKIP_SANITIZE;
    } else if (is_word(op, len, "nopass")) {
        u->flags |= ACL_USER_NOPASS;
        u->npasswords = 0;
    } else if (is_word(op, len, "resetpass")) {
        u->flags &= ~(unsigned)ACL_USER_NOPASS;
        u->npasswords = 0;
    } else if (op[0] == '>' || op[0] == '<' || op[0] == '#' || op[0] == '!') {
        return password_rule(u, op, len);
    } else if (op[0] == '(' && op[len - 1] == ')') {
        return ACL_ERR_SYNTAX; /* selectors are not supported */
    } else if (is_word(op, len, "clearselectors")) {
        return 0;
    } else if (is_word(op, len, "reset")) {
        u->flags &= ~(unsigned)ACL_USER_NOPASS;
        u->npasswords = 0;
        u->selector_flags &= ~(unsigned)(ACL_SEL_ALLKEYS | ACL_SEL_ALLCHANNELS);
        clear_patterns(u);
        clear_channels(u);
        u->flags = (u->flags | ACL_USER_OFF | ACL_USER_SANITIZE) &
                   ~(unsigned)(ACL_USER_ON | ACL_USER_SKIP_SANITIZE);
        acl_user_set_all(u, false);
    } else if (is_word(op, len, "allkeys") || (len == 2 && memcmp(op, "~*", 2) == 0)) {
        u->selector_flags |= ACL_SEL_ALLKEYS;
        clear_patterns(u);
    } else if (is_word(op, len, "resetkeys")) {
        u->selector_flags &= ~(unsigned)ACL_SEL_ALLKEYS;
        clear_patterns(u);
    } else if (is_word(op, len, "allchannels") || (len == 2 && memcmp(op, "&*", 2) == 0)) {
        u->selector_flags |= ACL_SEL_ALLCHANNELS;
        clear_channels(u);
    } else if (is_word(op, len, "resetchannels")) {
        u->selector_flags &= ~(unsigned)ACL_SEL_ALLCHANNELS;
        clear_channels(u);
    } else if (is_word(op, len, "allcommands") || is_word(op, len, "+@all")) {
        acl_user_set_all(u, true);
    } else if (is_word(op, len, "nocommands") || is_word(op, len, "-@all")) {
        acl_user_set_all(u, false);
    } else if (op[0] == '~' || op[0] == '%') {
        return add_key_pattern(u, op, len);
    } else if (op[0] == '&') {
        return add_channel_pattern(u, op, len);
    } else if ((op[0] == '+' || op[0] == '-') && len >= 2 && op[1] == '@') {
        int category = acl_category_index(op + 2, len - 2);
        if (category < 0)
            return ACL_ERR_UNKNOWN;
        acl_user_change_category(u, category, op[0] == '+');
    } else if (op[0] == '+' || op[0] == '-') {
        return change_command_rule(u, op, len);
    } else {
        return ACL_ERR_SYNTAX;
    }
    return 0;
}

const char *acl_rule_strerror(int code) {
    switch (code) {
    case ACL_ERR_UNKNOWN:
        return "Unknown command or category name in ACL";
    case ACL_ERR_SYNTAX:
        return "Syntax error";
    case ACL_ERR_KEYS_AFTER_ALL:
        return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and "
               "does not have any effect. Try 'resetkeys' to start with an empty list of patterns";
    case ACL_ERR_CHANNELS_AFTER_ALL:
        return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid "
               "and does not have any effect. Try 'resetchannels' to start with an empty list of "
               "channels";
    case ACL_ERR_NO_SUCH_PASSWORD:
        return "The password you are trying to remove from the user does not exist";
    case ACL_ERR_BAD_HASH:
        return "The password hash must be exactly 64 characters and contain only lowercase "
               "hexadecimal characters";
    case ACL_ERR_FIRSTARG_OF_SUB:
        return "Allowing first-arg of a subcommand is not supported";
    case ACL_ERR_NOMEM:
        return "Out of memory";
    default:
        return "Wrong format";
    }
}

static struct acl_user *create_default_user(void) {
    struct acl_user *u = acl_user_new("default", 7);
    if (u == NULL)
        return NULL;
    acl_user_apply(u, "+@all", 5);
    acl_user_apply(u, "~*", 2);
    acl_user_apply(u, "&*", 2);
    acl_user_apply(u, "on", 2);
    acl_user_apply(u, "nopass", 6);
    return u;
}

struct acl_user *acl_new_default_user(void) {
    return create_default_user();
}

/* ---- Authentication ---- */

void acl_set_default_password(const char *pass) {
    acl_user_apply(default_user, "resetpass", 9);
    if (pass == NULL || pass[0] == '\0') {
        acl_user_apply(default_user, "nopass", 6);
        return;
    }
    char hash[ACL_HASH_LEN + 1];
    sha256_hex(pass, strlen(pass), hash);
    add_password_hash(default_user, hash);
}

int acl_apply_requirepass(char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    acl_set_default_password(cfg.requirepass);
    return 0;
}

int acl_init(void) {
    if (build_command_index() != 0)
        goto err;
    default_user = create_default_user();
    if (default_user == NULL || acl_user_insert(default_user) != 0)
        goto err;
    acl_set_default_password(cfg.requirepass);
    if (acl_file != NULL && acl_file[0] != '\0') {
        char errors[4096];
        if (acl_load_file(NULL, errors, sizeof(errors)) != 0) {
            log_warning("Aborting Redis startup because of ACL errors: %s", errors);
            return -1;
        }
    }
    return 0;
err:
    log_warning("Out of memory initialising ACLs");
    return -1;
}

void acl_close(void) {
    for (size_t i = 0; i < user_count; i++)
        acl_user_free(users[i]);
    free(users);
    users = NULL;
    user_count = user_cap = 0;
    default_user = NULL;
    acl_log_reset();
    free(commands_by_id);
    free(by_address);
    free(category_masks);
    commands_by_id = NULL;
    by_address = NULL;
    category_masks = NULL;
    command_count = 0;
}

static const struct acl_user *user_of(const struct client *c) {
    return c != NULL && c->user != NULL ? c->user : default_user;
}

const char *acl_client_user_name(const struct client *c) {
    return user_of(c)->name;
}

void acl_client_set_default(struct client *c) {
    c->user = NULL;
    if ((default_user->flags & ACL_USER_NOPASS) && !(default_user->flags & ACL_USER_OFF))
        c->flags |= CLIENT_AUTHENTICATED;
    else
        c->flags &= ~(uint32_t)CLIENT_AUTHENTICATED;
}

bool acl_auth_required(const struct client *c) {
    return (!(default_user->flags & ACL_USER_NOPASS) || (default_user->flags & ACL_USER_OFF)) &&
           !(c->flags & CLIENT_AUTHENTICATED);
}

bool acl_default_user_nopass(void) {
    return (default_user->flags & ACL_USER_NOPASS) != 0;
}

/* Compares two hashes in time independent of where they differ. */
static bool same_hash(const char *a, const char *b) {
    unsigned char diff = 0;
    for (size_t i = 0; i < ACL_HASH_LEN; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static bool credentials_ok(const struct acl_user *u, const char *pass, size_t pass_len) {
    if (u == NULL || (u->flags & ACL_USER_OFF) || !(u->flags & ACL_USER_ON))
        return false;
    if (u->flags & ACL_USER_NOPASS)
        return true;
    char hash[ACL_HASH_LEN + 1];
    sha256_hex(pass, pass_len, hash);
    bool ok = false;
    for (size_t i = 0; i < u->npasswords; i++)
        ok |= same_hash(hash, u->passwords[i]);
    return ok;
}

bool acl_authenticate(struct client *c, const char *user, size_t user_len, const char *pass,
                      size_t pass_len, const char *cmd_name, size_t cmd_name_len) {
    struct acl_user *u = acl_user_find(user, user_len);
    if (credentials_ok(u, pass, pass_len)) {
        if (c != NULL) {
            c->user = u == default_user ? NULL : u;
            c->flags |= CLIENT_AUTHENTICATED;
        }
        return true;
    }
    acl_log_add(c, ACL_DENIED_AUTH,
                c != NULL && (c->flags & CLIENT_MULTI) ? ACL_CONTEXT_MULTI : ACL_CONTEXT_TOPLEVEL,
                cmd_name, cmd_name_len, user, user_len);
    return false;
}

/* ---- Permission checks ---- */

/* Keyspec flags to the permissions they need (Redis's ACLSelectorCheckKey). */
static int perms_for_spec(const char *flags) {
    int perms = 0;
    const char *p = flags != NULL ? flags : "";
    while (*p) {
        size_t len = strcspn(p, " ");
        if (len == 6 && memcmp(p, "access", 6) == 0)
            perms |= ACL_PERM_READ;
        else if ((len == 6 && (memcmp(p, "insert", 6) == 0 || memcmp(p, "delete", 6) == 0 ||
                               memcmp(p, "update", 6) == 0)))
            perms |= ACL_PERM_WRITE;
        p += len;
        while (*p == ' ')
            p++;
    }
    return perms;
}

/* Redis's key functions that narrow a "variable_flags" spec: SET without
 * GET only writes (setGetKeys); BITFIELD with only GET only reads
 * (bitfieldGetKeys). */
static int variable_perms(const struct command *cmd, int argc, char **argv, const size_t *argvlen,
                          int perms) {
    if (strcmp(cmd->fullname, "set") == 0) {
        for (int i = 3; i < argc; i++)
            if (argvlen[i] == 3 && strncasecmp(argv[i], "get", 3) == 0)
                return perms;
        return ACL_PERM_WRITE;
    }
    if (strcmp(cmd->fullname, "bitfield") == 0) {
        for (int i = 2; i < argc; i++) {
            if ((argvlen[i] == 3 && strncasecmp(argv[i], "set", 3) == 0) ||
                (argvlen[i] == 6 && strncasecmp(argv[i], "incrby", 6) == 0))
                return perms;
        }
        return ACL_PERM_READ;
    }
    return perms;
}

static bool key_allowed(const struct acl_user *u, const char *key, size_t len, int perms) {
    if (u->selector_flags & ACL_SEL_ALLKEYS)
        return true;
    for (size_t i = 0; i < u->nkeys; i++) {
        if ((u->keys[i].perms & perms) != perms)
            continue;
        if (glob_match(u->keys[i].pattern, u->keys[i].len, key, len, false))
            return true;
    }
    return false;
}

static bool channel_allowed(const struct acl_user *u, const char *ch, size_t len, bool literal) {
    if (u->selector_flags & ACL_SEL_ALLCHANNELS)
        return true;
    for (size_t i = 0; i < u->nchannels; i++) {
        const struct acl_pattern *p = &u->channels[i];
        if (literal ? (p->len == len && memcmp(p->pattern, ch, len) == 0)
                    : glob_match(p->pattern, p->len, ch, len, false))
            return true;
    }
    return false;
}

static bool command_allowed(const struct acl_user *u, const struct command *cmd, int argc,
                            char **argv, const size_t *argvlen) {
    if ((u->selector_flags & ACL_SEL_ALLCOMMANDS) || (cmd->flags & CMD_NO_AUTH))
        return true;
    size_t id = id_of(cmd);
    if (id < command_count && acl_user_bit(u, id))
        return true;
    int idx = cmd->parent != NULL ? 2 : 1;
    if (argc <= idx)
        return false;
    for (size_t i = 0; i < u->nfirstargs; i++)
        if (u->firstargs[i].id == id && strlen(u->firstargs[i].arg) == argvlen[idx] &&
            strncasecmp(u->firstargs[i].arg, argv[idx], argvlen[idx]) == 0)
            return true;
    return false;
}

/* Redis's ACLDoesCommandHaveChannels and the argument range of each. */
static bool channel_args(const struct command *cmd, int argc, int *first, int *last,
                         bool *literal) {
    const char *n = cmd->fullname;
    *literal = false;
    if (strcmp(n, "publish") == 0 || strcmp(n, "spublish") == 0) {
        *first = *last = 1;
        return true;
    }
    if (strcmp(n, "subscribe") == 0 || strcmp(n, "ssubscribe") == 0 ||
        strcmp(n, "psubscribe") == 0) {
        *first = 1;
        *last = argc - 1;
        *literal = n[0] == 'p';
        return true;
    }
    return false;
}

enum acl_verdict acl_user_check(const struct acl_user *u, const struct command *cmd, int argc,
                                char **argv, const size_t *argvlen, int *errpos) {
    *errpos = 0;
    if (!command_allowed(u, cmd, argc, argv, argvlen))
        return ACL_DENIED_CMD;
    if (!(u->selector_flags & ACL_SEL_ALLKEYS) && command_meta_has_keys(cmd)) {
        struct keyref inline_keys[16];
        struct keyref *keys = argc <= 16 ? inline_keys : calloc((size_t)argc, sizeof(*keys));
        if (keys == NULL)
            return ACL_DENIED_KEY;
        int n =
            command_meta_getkeys(cmd, argc, argv, (size_t *)argvlen, keys, argc <= 16 ? 16 : argc);
        enum acl_verdict verdict = ACL_OK;
        for (int i = 0; i < n && verdict == ACL_OK; i++) {
            int pos = keys[i].pos;
            int perms = perms_for_spec(keys[i].flags);
            if (strstr(keys[i].flags, "variable_flags") != NULL)
                perms = variable_perms(cmd, argc, argv, argvlen, perms);
            if (!key_allowed(u, argv[pos], argvlen[pos], perms)) {
                *errpos = pos;
                verdict = ACL_DENIED_KEY;
            }
        }
        if (keys != inline_keys)
            free(keys);
        if (verdict != ACL_OK)
            return verdict;
    }
    int first, last;
    bool literal;
    if (!(u->selector_flags & ACL_SEL_ALLCHANNELS) &&
        channel_args(cmd, argc, &first, &last, &literal)) {
        for (int i = first; i <= last && i < argc; i++) {
            if (!channel_allowed(u, argv[i], argvlen[i], literal)) {
                *errpos = i;
                return ACL_DENIED_CHANNEL;
            }
        }
    }
    return ACL_OK;
}

enum acl_verdict acl_check(const struct client *c, const struct command *cmd, int argc, char **argv,
                           const size_t *argvlen, int *errpos) {
    return acl_user_check(user_of(c), cmd, argc, argv, argvlen, errpos);
}

void acl_log_denial(const struct client *c, enum acl_verdict verdict, enum acl_context context,
                    const struct command *cmd, char **argv, const size_t *argvlen, int errpos) {
    const char *object = "";
    size_t len = 0;
    if (verdict == ACL_DENIED_CMD) {
        object = cmd->fullname;
        len = strlen(object);
    } else if (verdict == ACL_DENIED_KEY || verdict == ACL_DENIED_CHANNEL) {
        object = argv[errpos];
        len = argvlen[errpos];
    }
    const struct acl_user *u = user_of(c);
    acl_log_add(c, verdict, context, object, len, u->name, u->namelen);
}

bool acl_permits(const struct client *c, const struct command *cmd, int argc, char **argv,
                 const size_t *argvlen, char *msg, size_t msglen) {
    const struct acl_user *u = user_of(c);
    if ((u->selector_flags & (ACL_SEL_ALLCOMMANDS | ACL_SEL_ALLKEYS | ACL_SEL_ALLCHANNELS)) ==
        (ACL_SEL_ALLCOMMANDS | ACL_SEL_ALLKEYS | ACL_SEL_ALLCHANNELS))
        return true;
    int errpos;
    enum acl_verdict verdict = acl_user_check(u, cmd, argc, argv, argvlen, &errpos);
    if (verdict == ACL_OK)
        return true;
    acl_log_denial(c, verdict, (c->flags & CLIENT_MULTI) ? ACL_CONTEXT_MULTI : ACL_CONTEXT_TOPLEVEL,
                   cmd, argv, argvlen, errpos);
    /* Redis 7.0 processCommand's texts. */
    switch (verdict) {
    case ACL_DENIED_CMD:
        snprintf(msg, msglen, "NOPERM this user has no permissions to run the '%s' command",
                 cmd->fullname);
        break;
    case ACL_DENIED_KEY:
        snprintf(msg, msglen,
                 "NOPERM this user has no permissions to access one of the keys used as "
                 "arguments");
        break;
    case ACL_DENIED_CHANNEL:
        snprintf(msg, msglen,
                 "NOPERM this user has no permissions to access one of the channels used as "
                 "arguments");
        break;
    default:
        snprintf(msg, msglen, "ERR no permission");
        break;
    }
    return false;
}

enum acl_verdict acl_check_queued(const struct client *c, const struct command *cmd, int argc,
                                  char **argv, const size_t *argvlen) {
    int errpos;
    enum acl_verdict verdict = acl_check(c, cmd, argc, argv, argvlen, &errpos);
    if (verdict != ACL_OK)
        acl_log_denial(c, verdict, ACL_CONTEXT_MULTI, cmd, argv, argvlen, errpos);
    return verdict;
}
