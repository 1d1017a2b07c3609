/* ACL descriptions (ACL LIST, GETUSER, SAVE), the ACL LOG, and the ACL
 * file (load and save), with Redis 7.0's formats. The users and the
 * checks are node/acl.c's. */
#include "node/acl_internal.h"
#include "node/client.h"
#include "node/cmd_connection.h"
#include "node/command.h"
#include "node/log.h"
#include "node/server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add_text(struct resp_out *text, const char *s) {
    resp_add_raw(text, s, strlen(s));
}

/* ---- Command rules (Redis's ACLDescribeSelectorCommandRules) ---- */

static void count_category(const struct acl_user *u, int category, unsigned long *on,
                           unsigned long *off) {
    *on = *off = 0;
    for (size_t id = 0; id < acl_command_count(); id++) {
        if (!(acl_command_categories(id) & (1u << category)))
            continue;
        if (acl_user_bit(u, id))
            (*on)++;
        else
            (*off)++;
    }
}

/* The single-command rules that make 'fake' equal 'u', then 'u's first
 * arguments, walking the table as Redis walks its command dict. */
static void describe_single_commands(const struct acl_user *u, struct acl_user *fake,
                                     struct resp_out *text) {
    size_t count;
    struct command *const *top = command_all(&count);
    for (size_t i = 0; i < count; i++) {
        const struct command *cmd = top[i];
        size_t id = acl_command_id(cmd);
        bool userbit = acl_user_bit(u, id);
        if (userbit != acl_user_bit(fake, id)) {
            add_text(text, userbit ? "+" : "-");
            add_text(text, cmd->fullname);
            add_text(text, " ");
            acl_user_change_command(fake, id, userbit);
        }
        for (int j = 0; j < cmd->subcommand_count; j++) {
            size_t sid = acl_command_id(cmd->subcommands[j]);
            bool subbit = acl_user_bit(u, sid);
            if (subbit != acl_user_bit(fake, sid)) {
                add_text(text, subbit ? "+" : "-");
                add_text(text, cmd->subcommands[j]->fullname);
                add_text(text, " ");
                acl_user_change_command(fake, sid, subbit);
            }
        }
        if (userbit)
            continue;
        for (size_t k = 0; k < u->nfirstargs; k++) {
            if (u->firstargs[k].id != id)
                continue;
            add_text(text, "+");
            add_text(text, cmd->fullname);
            add_text(text, "|");
            add_text(text, u->firstargs[k].arg);
            add_text(text, " ");
        }
    }
}

void acl_describe_commands(const struct acl_user *u, struct resp_out *text) {
    /* As Redis: start from +@all when the user may run future commands,
     * else from -@all; apply the best-fitting categories one by one to a
     * scratch user, then fix the remaining differences command by command. */
    struct acl_user fake = {0}, temp = {0};
    bool additive = (u->allowed[ACL_COMMAND_BITS / 64 - 1] >> 63) == 0;
    add_text(text, additive ? "-@all " : "+@all ");
    acl_user_set_all(&fake, !additive);
    memcpy(temp.allowed, u->allowed, sizeof(temp.allowed));
    bool applied[32] = {false};
    for (;;) {
        int best = -1;
        unsigned long mindiff = INT_MAX, maxsame = 0;
        for (int j = 0; acl_categories[j] != NULL; j++) {
            if (applied[j])
                continue;
            unsigned long on, off;
            count_category(&temp, j, &on, &off);
            unsigned long diff = additive ? off : on;
            unsigned long same = additive ? on : off;
            if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = j;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best == -1)
            break;
        add_text(text, additive ? "+@" : "-@");
        add_text(text, acl_categories[best]);
        add_text(text, " ");
        acl_user_change_category(&fake, best, additive);
        acl_user_change_category(&temp, best, !additive);
        applied[best] = true;
    }
    describe_single_commands(u, &fake, text);
    free(fake.firstargs);
    free(temp.firstargs);
    /* Drop the trailing space. */
    if (text->len > 0 && text->buf[text->len - 1] == ' ')
        text->len--;
}

static void describe_pattern(const struct acl_pattern *p, struct resp_out *text) {
    if (p->perms == (ACL_PERM_READ | ACL_PERM_WRITE))
        add_text(text, "~");
    else if (p->perms == ACL_PERM_READ)
        add_text(text, "%R~");
    else
        add_text(text, "%W~");
    resp_add_raw(text, p->pattern, p->len);
}

void acl_describe_user(const struct acl_user *u, struct resp_out *text) {
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
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (u->flags & flags[i].flag) {
            add_text(text, flags[i].name);
            add_text(text, " ");
        }
    }
    for (size_t i = 0; i < u->npasswords; i++) {
        add_text(text, "#");
        add_text(text, u->passwords[i]);
        add_text(text, " ");
    }
    if (u->selector_flags & ACL_SEL_ALLKEYS) {
        add_text(text, "~* ");
    } else {
        for (size_t i = 0; i < u->nkeys; i++) {
            describe_pattern(&u->keys[i], text);
            add_text(text, " ");
        }
    }
    if (u->selector_flags & ACL_SEL_ALLCHANNELS) {
        add_text(text, "&* ");
    } else {
        add_text(text, "resetchannels ");
        for (size_t i = 0; i < u->nchannels; i++) {
            add_text(text, "&");
            resp_add_raw(text, u->channels[i].pattern, u->channels[i].len);
            add_text(text, " ");
        }
    }
    acl_describe_commands(u, text);
}

/* ---- ACL LOG ---- */

#define LOG_GROUPING_MAX_DELTA_MS 60000

struct log_entry {
    struct log_entry *next; /* newest first */
    uint64_t count;
    enum acl_verdict reason;
    enum acl_context context;
    char *object, *user, *client_info;
    size_t object_len, user_len, client_info_len;
    int64_t ctime_ms;
};

static struct log_entry *log_head;
static size_t log_length;

static void free_entry(struct log_entry *e) {
    free(e->object);
    free(e->user);
    free(e->client_info);
    free(e);
}

static char *dup_bytes(const char *p, size_t len) {
    char *s = malloc(len + 1);
    if (s != NULL) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

void acl_log_add(const struct client *c, enum acl_verdict reason, enum acl_context context,
                 const char *object, size_t object_len, const char *user, size_t user_len) {
    int64_t now = server_now_ms();
    struct resp_out info;
    resp_out_init(&info, 2);
    if (c != NULL)
        client_info_append(&info, c);
    /* Redis scans at most 10 recent entries for a similar one to bump. */
    struct log_entry **link = &log_head;
    for (int scanned = 0; *link != NULL && scanned < 10; scanned++, link = &(*link)->next) {
        struct log_entry *e = *link;
        int64_t delta = e->ctime_ms - now;
        if (e->reason != reason || e->context != context ||
            (delta < 0 ? -delta : delta) > LOG_GROUPING_MAX_DELTA_MS ||
            e->object_len != object_len || memcmp(e->object, object, object_len) != 0 ||
            e->user_len != user_len || memcmp(e->user, user, user_len) != 0)
            continue;
        char *fresh = dup_bytes(info.len > 0 ? info.buf : "", info.len);
        if (fresh != NULL) {
            free(e->client_info);
            e->client_info = fresh;
            e->client_info_len = info.len;
        }
        e->ctime_ms = now;
        e->count++;
        *link = e->next; /* move to the front */
        e->next = log_head;
        log_head = e;
        resp_out_close(&info);
        return;
    }
    struct log_entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        goto out;
    e->object = dup_bytes(object, object_len);
    e->user = dup_bytes(user, user_len);
    e->client_info = dup_bytes(info.len > 0 ? info.buf : "", info.len);
    if (e->object == NULL || e->user == NULL || e->client_info == NULL) {
        free_entry(e);
        goto out;
    }
    e->object_len = object_len;
    e->user_len = user_len;
    e->client_info_len = info.len;
    e->count = 1;
    e->reason = reason;
    e->context = context;
    e->ctime_ms = now;
    e->next = log_head;
    log_head = e;
    log_length++;
    /* Trim to acllog-max-len, dropping the oldest. */
    if ((long long)log_length > acl_log_max_len) {
        struct log_entry **tail = &log_head;
        long long kept = 0;
        while (*tail != NULL && kept < acl_log_max_len) {
            tail = &(*tail)->next;
            kept++;
        }
        while (*tail != NULL) {
            struct log_entry *drop = *tail;
            *tail = drop->next;
            free_entry(drop);
            log_length--;
        }
    }
out:
    resp_out_close(&info);
}

void acl_log_reset(void) {
    while (log_head != NULL) {
        struct log_entry *e = log_head;
        log_head = e->next;
        free_entry(e);
    }
    log_length = 0;
}

void acl_log_reply(struct resp_out *out, long long count) {
    if (count < 0)
        count = 0;
    if ((size_t)count > log_length)
        count = (long long)log_length;
    static const char *const reasons[] = {"unknown", "command", "key", "auth", "channel"};
    static const char *const contexts[] = {"toplevel", "multi", "lua"};
    int64_t now = server_now_ms();
    resp_add_array(out, count);
    struct log_entry *e = log_head;
    for (long long i = 0; i < count && e != NULL; i++, e = e->next) {
        resp_add_map(out, 7);
        resp_add_bulk_cstr(out, "count");
        resp_add_int(out, (long long)e->count);
        resp_add_bulk_cstr(out, "reason");
        resp_add_bulk_cstr(out, reasons[e->reason]);
        resp_add_bulk_cstr(out, "context");
        resp_add_bulk_cstr(out, contexts[e->context]);
        resp_add_bulk_cstr(out, "object");
        resp_add_bulk(out, e->object, e->object_len);
        resp_add_bulk_cstr(out, "username");
        resp_add_bulk(out, e->user, e->user_len);
        resp_add_bulk_cstr(out, "age-seconds");
        resp_add_double(out, (double)(now - e->ctime_ms) / 1000);
        resp_add_bulk_cstr(out, "client-info");
        resp_add_bulk(out, e->client_info, e->client_info_len);
    }
}

/* ---- Connections of changed users ---- */

void acl_kill_clients_of(const struct acl_user *u, struct client *current) {
    for (struct client *c = server.clients; c != NULL; c = c->next) {
        if (c->user != u)
            continue;
        /* As Redis: make it the unauthenticated default user first, so
         * nothing more runs as 'u' even before the close completes. */
        c->user = NULL;
        c->flags &= ~(uint32_t)CLIENT_AUTHENTICATED;
        if (c == current)
            client_close_after_reply(c);
        else
            client_close(c);
    }
}

/* ---- The ACL file ---- */

static void append_error(char *errors, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append_error(char *errors, size_t errlen, const char *fmt, ...) {
    size_t used = strlen(errors);
    if (used + 1 >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errors + used, errlen - used, fmt, ap);
    va_end(ap);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (used + 1024 >= cap) {
            char *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
        size_t n = fread(buf + used, 1, cap - used - 1, f);
        used += n;
        if (n == 0)
            break;
    }
    fclose(f);
    if (buf != NULL) {
        buf[used] = '\0';
        *len = strlen(buf); /* as Redis: the text up to a NUL byte */
    }
    if (buf == NULL)
        errno = ENOMEM;
    return buf;
}

static bool is_trim_char(char ch, const char *set) {
    return ch != '\0' && strchr(set, ch) != NULL;
}

/* Parses one line "user <name> <rules...>" into the (new) user table. */
static void load_line(char *line, size_t len, int linenum, char *errors, size_t errlen) {
    while (len > 0 && is_trim_char(line[0], " \t\r\n")) {
        line++;
        len--;
    }
    while (len > 0 && is_trim_char(line[len - 1], " \t\r\n"))
        len--;
    if (len == 0)
        return;
    line[len] = '\0';
    /* Split at single spaces (empty words are no-op rules), as sdssplitlen. */
    char *words[1024];
    int nwords = 0;
    char *p = line;
    for (;;) {
        char *sp = strchr(p, ' ');
        if (nwords < (int)(sizeof(words) / sizeof(words[0])))
            words[nwords++] = p;
        if (sp == NULL)
            break;
        *sp = '\0';
        p = sp + 1;
    }
    if (nwords < 2 || strcmp(words[0], "user") != 0) {
        append_error(errors, errlen,
                     "%s:%d should start with user keyword followed by the "
                     "username. ",
                     acl_file, linenum);
        return;
    }
    const char *name = words[1];
    size_t namelen = strlen(name);
    for (size_t i = 0; i < namelen; i++) {
        if (is_trim_char(name[i], " \t\r\n\v\f")) {
            append_error(errors, errlen, "'%s:%d: username '%s' contains invalid characters. ",
                         acl_file, linenum, name);
            return;
        }
    }
    struct acl_user *u = acl_user_new(name, namelen);
    if (u == NULL || acl_user_insert(u) != 0) {
        if (u != NULL)
            append_error(errors, errlen, "WARNING: Duplicate user '%s' found on line %d. ", name,
                         linenum);
        else
            append_error(errors, errlen, "%s:%d: Out of memory. ", acl_file, linenum);
        acl_user_free(u);
        return;
    }
    for (int i = 2; i < nwords; i++) {
        char *rule = words[i];
        size_t rlen = strlen(rule);
        while (rlen > 0 && is_trim_char(rule[0], "\t\r\n")) {
            rule++;
            rlen--;
        }
        while (rlen > 0 && is_trim_char(rule[rlen - 1], "\t\r\n"))
            rlen--;
        int rc = acl_user_apply(u, rule, rlen);
        /* Redis 7.0 names the operation only for unknown commands. */
        if (rc == ACL_ERR_UNKNOWN)
            append_error(errors, errlen, "%s:%d: Error in applying operation '%.*s': %s. ",
                         acl_file, linenum, (int)rlen, rule, acl_rule_strerror(rc));
        else if (rc != 0)
            append_error(errors, errlen, "%s:%d: %s. ", acl_file, linenum, acl_rule_strerror(rc));
    }
}

static void free_table(struct acl_user **list, size_t count, const struct acl_user *keep) {
    for (size_t i = 0; i < count; i++)
        if (list[i] != keep)
            acl_user_free(list[i]);
    free(list);
}

int acl_load_file(struct client *current, char *errors, size_t errlen) {
    errors[0] = '\0';
    size_t len;
    char *text = read_file(acl_file, &len);
    if (text == NULL) {
        snprintf(errors, errlen, "Error loading ACLs, opening file '%s': %s", acl_file,
                 strerror(errno));
        return -1;
    }
    struct acl_user **old, **fresh;
    size_t old_count, old_cap, fresh_count, fresh_cap;
    struct acl_user *old_default = acl_default_user();
    acl_users_take(&old, &old_count, &old_cap);

    int linenum = 0;
    char *line = text;
    while (line != NULL) {
        char *nl = memchr(line, '\n', len - (size_t)(line - text));
        size_t line_len = nl != NULL ? (size_t)(nl - line) : len - (size_t)(line - text);
        linenum++;
        load_line(line, line_len, linenum, errors, errlen);
        line = nl != NULL ? nl + 1 : NULL;
    }
    free(text);

    if (errors[0] != '\0') {
        acl_users_take(&fresh, &fresh_count, &fresh_cap);
        free_table(fresh, fresh_count, NULL);
        acl_users_replace(old, old_count, old_cap);
        append_error(errors, errlen,
                     "WARNING: ACL errors detected, no change to the previously "
                     "active ACL rules was performed");
        return -1;
    }
    /* The default user is referenced from everywhere: keep its structure
     * and give it the loaded rules (or the initial ones). */
    struct acl_user *loaded = acl_user_remove("default", 7);
    if (loaded == NULL)
        loaded = acl_new_default_user();
    if (loaded == NULL || acl_user_copy(old_default, loaded) != 0 ||
        acl_user_insert(old_default) != 0) {
        acl_user_free(loaded);
        acl_users_take(&fresh, &fresh_count, &fresh_cap);
        free_table(fresh, fresh_count, old_default);
        acl_users_replace(old, old_count, old_cap);
        snprintf(errors, errlen, "Out of memory loading ACLs");
        return -1;
    }
    acl_user_free(loaded);
    for (size_t i = 0; i < old_count; i++)
        if (old[i] != old_default)
            acl_kill_clients_of(old[i], current);
    free_table(old, old_count, old_default);
    return 0;
}

int acl_save_file(void) {
    struct resp_out text;
    resp_out_init(&text, 2);
    for (size_t i = 0; i < acl_user_count(); i++) {
        const struct acl_user *u = acl_user_at(i);
        add_text(&text, "user ");
        resp_add_raw(&text, u->name, u->namelen);
        add_text(&text, " ");
        acl_describe_user(u, &text);
        add_text(&text, "\n");
    }
    int rc = -1;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%lld", acl_file, (int)getpid(),
             (long long)server_now_ms());
    int fd = -1;
    if (text.failed) {
        log_warning("Out of memory writing the ACL file");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd == -1) {
        log_warning("Opening temp ACL file for ACL SAVE: %s", strerror(errno));
        goto out;
    }
    if (write(fd, text.len > 0 ? text.buf : "", text.len) != (ssize_t)text.len) {
        log_warning("Writing ACL file for ACL SAVE: %s", strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, acl_file) == -1) {
        log_warning("Renaming ACL file for ACL SAVE: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd != -1)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    resp_out_close(&text);
    return rc;
}
