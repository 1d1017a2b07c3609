/* nodes.conf reading and writing (see nodesconf.h). Owns the file format
 * and its validation; the node layer decides when to save and what to log. */
#include "cluster/nodesconf.h"

#include "cluster/nodes.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODESCONF_ERROR_TEXT(name, code, text)                                                     \
    case name:                                                                                     \
        return text;
const char *nodesconf_strerror(int code) {
    switch (code) {
        NODESCONF_ERRORS(NODESCONF_ERROR_TEXT)
    default:
        return "unknown error";
    }
}
#undef NODESCONF_ERROR_TEXT

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- Saving ---- */

static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync of the directory holding 'path', so the rename itself is durable. */
static int sync_parent_dir(const char *path) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof(dir))
            return -1;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int nodesconf_save(const struct cluster_state *cs, const char *path, char *err, size_t errlen) {
    return nodesconf_write(cs, path, true, err, errlen);
}

int nodesconf_write(const struct cluster_state *cs, const char *path, bool durable, char *err,
                    size_t errlen) {
    size_t len;
    char *content = cluster_describe_all(cs, CNODE_HANDSHAKE, &len);
    if (content == NULL)
        return fail(err, errlen, NODESCONF_ENOMEM, "out of memory");
    char vars[128];
    int vlen =
        snprintf(vars, sizeof(vars), "vars currentEpoch %llu lastVoteEpoch %llu\n",
                 (unsigned long long)cs->current_epoch, (unsigned long long)cs->last_vote_epoch);
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
        free(content);
        return fail(err, errlen, NODESCONF_EIO, "path too long: %s", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int saved = errno;
        free(content);
        return fail(err, errlen, NODESCONF_EIO, "%s", strerror(saved));
    }
    int rc = 0;
    if (write_all(fd, content, len) != 0 || write_all(fd, vars, (size_t)vlen) != 0 ||
        (durable && fsync(fd) != 0))
        rc = -1;
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    free(content);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        return fail(err, errlen, NODESCONF_EIO, "%s", strerror(saved));
    }
    if (durable && sync_parent_dir(path) != 0)
        return fail(err, errlen, NODESCONF_EIO, "%s", strerror(errno));
    return 0;
}

/* ---- Loading ---- */

#define MAX_TOKENS (8 + SLOT_COUNT + 16)

/* Splits 'line' (NUL-terminated, modified) on spaces. Returns the count, or
 * -1 when there are more than 'max' tokens. */
static int split(char *line, char **tok, int max) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p == '\0')
            return n;
        if (n == max)
            return -1;
        tok[n++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
        if (*p != '\0')
            *p++ = '\0';
    }
}

/* Strict unsigned decimal: digits only, value <= 'max'. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
    if (*s == '\0')
        return false;
    uint64_t v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_slot(const char *s, unsigned *out) {
    uint64_t v;
    if (!parse_u64(s, SLOT_COUNT - 1, &v))
        return false;
    *out = (unsigned)v;
    return true;
}

/* The node 'id', added (with no flags) if not yet known. */
static struct cluster_node *node_for(struct cluster_state *cs, const char *id, int64_t now_ms) {
    struct cluster_node *n = cluster_node_lookup(cs, id, strlen(id));
    return n != NULL ? n : cluster_node_add(cs, id, 0, now_ms);
}

static const struct {
    const char *name;
    uint32_t flag;
} flag_words[] = {
    {"myself", CNODE_MYSELF}, {"master", CNODE_MASTER},
    {"slave", CNODE_SLAVE},   {"fail?", CNODE_PFAIL},
    {"fail", CNODE_FAIL},     {"handshake", CNODE_HANDSHAKE},
    {"noaddr", CNODE_NOADDR}, {"nofailover", CNODE_NOFAILOVER},
    {"noflags", 0},
};

static bool parse_flags(char *s, uint32_t *out) {
    uint32_t flags = 0;
    char *save = NULL;
    for (char *w = strtok_r(s, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < sizeof(flag_words) / sizeof(flag_words[0]); i++)
            if (strcmp(w, flag_words[i].name) == 0)
                break;
        if (i == sizeof(flag_words) / sizeof(flag_words[0]))
            return false;
        flags |= flag_words[i].flag;
    }
    *out = flags;
    return true;
}

/* "<ip>:<port>@<cport>[,<hostname>]" into 'n'. */
static bool parse_address(char *s, struct cluster_node *n) {
    char *comma = strchr(s, ',');
    if (comma != NULL) {
        *comma++ = '\0';
        if (strlen(comma) >= sizeof(n->hostname))
            return false;
        strcpy(n->hostname, comma);
    }
    char *colon = strrchr(s, ':');
    if (colon == NULL)
        return false;
    *colon = '\0';
    if (strlen(s) >= sizeof(n->ip))
        return false;
    char *port = colon + 1;
    char *at = strchr(port, '@');
    if (at != NULL)
        *at++ = '\0';
    uint64_t p, cp;
    if (!parse_u64(port, 65535, &p))
        return false;
    if (at != NULL) {
        if (!parse_u64(at, 65535, &cp))
            return false;
    } else {
        cp = p + CLUSTER_PORT_INCR;
    }
    strcpy(n->ip, s);
    n->port = (int)p;
    n->cport = (int)cp;
    return true;
}

/* "[slot->-id]" (migrating) or "[slot-<-id]" (importing). */
static bool parse_open_slot(struct cluster_state *cs, char *tok, int64_t now_ms) {
    size_t len = strlen(tok);
    if (len < 2 || tok[len - 1] != ']')
        return false;
    tok[len - 1] = '\0';
    char *body = tok + 1;
    char *arrow = strstr(body, "->-");
    bool migrating = arrow != NULL;
    if (!migrating)
        arrow = strstr(body, "-<-");
    if (arrow == NULL)
        return false;
    *arrow = '\0';
    const char *id = arrow + 3;
    unsigned slot;
    if (!parse_slot(body, &slot) || !cluster_id_is_valid(id, strlen(id)))
        return false;
    struct cluster_node *peer = node_for(cs, id, now_ms);
    if (peer == NULL)
        return false;
    if (migrating)
        slotmap_set_migrating(&cs->slots, slot, peer);
    else
        slotmap_set_importing(&cs->slots, slot, peer);
    return true;
}

static bool parse_slot_range(struct cluster_state *cs, struct cluster_node *n, char *tok) {
    unsigned start, end;
    char *dash = strchr(tok, '-');
    if (dash != NULL) {
        *dash = '\0';
        if (!parse_slot(tok, &start) || !parse_slot(dash + 1, &end) || start > end)
            return false;
    } else {
        if (!parse_slot(tok, &start))
            return false;
        end = start;
    }
    /* Redis 7.0 keeps the first claim of a slot and ignores later ones. */
    for (unsigned slot = start; slot <= end; slot++)
        if (slotmap_owner(&cs->slots, slot) == NULL)
            cluster_slot_assign(cs, slot, n);
    return true;
}

static int parse_vars(struct cluster_state *cs, char **tok, int count, int lineno, char *err,
                      size_t errlen) {
    for (int j = 1; j + 1 < count; j += 2) {
        uint64_t v;
        bool is_current = strcmp(tok[j], "currentEpoch") == 0;
        bool is_vote = strcmp(tok[j], "lastVoteEpoch") == 0;
        if (!is_current && !is_vote)
            continue; /* Redis skips unknown variables */
        if (!parse_u64(tok[j + 1], UINT64_MAX, &v))
            return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: bad %s value '%s'", lineno,
                        tok[j], tok[j + 1]);
        if (is_current)
            cs->current_epoch = v;
        else
            cs->last_vote_epoch = v;
    }
    if (count % 2 == 0)
        return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: vars without a value", lineno);
    return 0;
}

static int parse_node_line(struct cluster_state *cs, char **tok, int count, int lineno,
                           int64_t now_ms, char *err, size_t errlen) {
    if (count < 8)
        return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: %d fields, at least 8 expected",
                    lineno, count);
    if (!cluster_id_is_valid(tok[0], strlen(tok[0])))
        return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: bad node id '%s'", lineno, tok[0]);
    struct cluster_node *n = node_for(cs, tok[0], now_ms);
    if (n == NULL)
        return fail(err, errlen, NODESCONF_ENOMEM, "out of memory");
    if (!parse_address(tok[1], n))
        return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: bad address '%s'", lineno, tok[1]);
    uint32_t flags;
    if (!parse_flags(tok[2], &flags))
        return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: unknown flag in '%s'", lineno,
                    tok[2]);
    if ((flags & CNODE_MYSELF) != (n == cs->myself ? CNODE_MYSELF : 0u))
        return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: more than one 'myself' node",
                    lineno);
    n->flags = flags;
    if (strcmp(tok[3], "-") != 0) {
        if (!cluster_id_is_valid(tok[3], strlen(tok[3])) || strcmp(tok[3], n->id) == 0)
            return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: bad master id '%s'", lineno,
                        tok[3]);
        struct cluster_node *master = node_for(cs, tok[3], now_ms);
        if (master == NULL)
            return fail(err, errlen, NODESCONF_ENOMEM, "out of memory");
        n->master = master;
    }
    uint64_t ping, pong, epoch;
    if (!parse_u64(tok[4], INT64_MAX, &ping) || !parse_u64(tok[5], INT64_MAX, &pong) ||
        !parse_u64(tok[6], UINT64_MAX, &epoch))
        return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: bad ping, pong or epoch", lineno);
    n->ping_sent_ms = ping ? now_ms : 0;
    n->pong_recv_ms = pong ? now_ms : 0;
    n->config_epoch = epoch;
    if (strcmp(tok[7], "connected") != 0 && strcmp(tok[7], "disconnected") != 0)
        return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: bad link state '%s'", lineno,
                    tok[7]);
    for (int j = 8; j < count; j++) {
        /* The parsers cut their token up: keep it whole for the message. */
        char token[CLUSTER_ID_LEN + 32];
        size_t len = strlen(tok[j]);
        bool ok = len < sizeof(token);
        if (ok) {
            memcpy(token, tok[j], len + 1);
            ok = token[0] == '[' ? parse_open_slot(cs, token, now_ms)
                                 : parse_slot_range(cs, n, token);
        }
        if (!ok)
            return fail(err, errlen, NODESCONF_ECORRUPT, "line %d: bad slot '%.64s'", lineno,
                        tok[j]);
    }
    return 0;
}

/* The id on the line flagged "myself" ('text' is not modified). */
static int find_myself(const char *text, size_t len, char *id, char *err, size_t errlen) {
    int found = 0, lineno = 0;
    for (size_t at = 0; at < len;) {
        const char *eol = memchr(text + at, '\n', len - at);
        size_t end = eol != NULL ? (size_t)(eol - text) : len;
        lineno++;
        const char *line = text + at;
        size_t line_len = end - at;
        const char *space1 = memchr(line, ' ', line_len);
        const char *space2 =
            space1 != NULL ? memchr(space1 + 1, ' ', line_len - (size_t)(space1 + 1 - line)) : NULL;
        if (space2 != NULL && (size_t)(space1 - line) == CLUSTER_ID_LEN) {
            size_t rest = line_len - (size_t)(space2 + 1 - line);
            const char *flags_end = memchr(space2 + 1, ' ', rest);
            size_t flen = flags_end != NULL ? (size_t)(flags_end - space2 - 1) : rest;
            char flags[128];
            if (flen < sizeof(flags)) {
                memcpy(flags, space2 + 1, flen);
                flags[flen] = '\0';
                char *save = NULL;
                for (char *w = strtok_r(flags, ",", &save); w != NULL;
                     w = strtok_r(NULL, ",", &save)) {
                    if (strcmp(w, "myself") != 0)
                        continue;
                    if (found++ > 0)
                        return fail(err, errlen, NODESCONF_ECORRUPT,
                                    "line %d: more than one 'myself' node", lineno);
                    memcpy(id, line, CLUSTER_ID_LEN);
                    id[CLUSTER_ID_LEN] = '\0';
                }
            }
        }
        at = end + 1;
    }
    if (found == 0)
        return fail(err, errlen, NODESCONF_ECORRUPT, "no node is flagged 'myself'");
    if (!cluster_id_is_valid(id, CLUSTER_ID_LEN))
        return fail(err, errlen, NODESCONF_ECORRUPT, "bad node id for 'myself'");
    return 0;
}

int nodesconf_parse(const char *text, size_t len, int64_t now_ms, struct cluster_state **out,
                    char *err, size_t errlen) {
    char my_id[CLUSTER_ID_LEN + 1];
    if (memchr(text, '\0', len) != NULL)
        return fail(err, errlen, NODESCONF_ECORRUPT, "NUL byte in the file");
    int rc = find_myself(text, len, my_id, err, errlen);
    if (rc != 0)
        return rc;
    struct cluster_state *cs = cluster_state_new(my_id, now_ms);
    char *copy = malloc(len + 1);
    char **tok = malloc(MAX_TOKENS * sizeof(*tok));
    if (cs == NULL || copy == NULL || tok == NULL) {
        rc = fail(err, errlen, NODESCONF_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    int lineno = 0;
    char *save = NULL;
    for (char *line = copy; line != NULL && rc == 0; line = save) {
        char *eol = strchr(line, '\n');
        save = eol != NULL ? eol + 1 : NULL;
        if (eol != NULL)
            *eol = '\0';
        lineno++;
        int count = split(line, tok, MAX_TOKENS);
        if (count < 0)
            rc = fail(err, errlen, NODESCONF_ECORRUPT, "line %d: too many fields", lineno);
        else if (count == 0)
            continue;
        else if (strcmp(tok[0], "vars") == 0)
            rc = parse_vars(cs, tok, count, lineno, err, errlen);
        else
            rc = parse_node_line(cs, tok, count, lineno, now_ms, err, errlen);
    }
    if (rc == 0) {
        /* A node we only heard of (as a master or open-slot peer) has no
         * line of its own: it stays, flagless, as in Redis. */
        uint64_t max = cluster_max_epoch(cs);
        if (max > cs->current_epoch)
            cs->current_epoch = max;
        cluster_state_changed(cs, now_ms);
    }
done:
    free(tok);
    free(copy);
    if (rc != 0) {
        cluster_state_free(cs);
        return rc;
    }
    *out = cs;
    return 0;
}

int nodesconf_load(const char *path, int64_t now_ms, struct cluster_state **out, char *err,
                   size_t errlen) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT)
            return fail(err, errlen, NODESCONF_ENOENT, "%s does not exist", path);
        return fail(err, errlen, NODESCONF_EIO, "can't open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        return fail(err, errlen, NODESCONF_EIO, "can't stat %s: %s", path, strerror(saved));
    }
    if (st.st_size == 0) {
        close(fd);
        return fail(err, errlen, NODESCONF_ENOENT, "%s is empty", path);
    }
    if ((uint64_t)st.st_size > NODESCONF_MAX_BYTES) {
        close(fd);
        return fail(err, errlen, NODESCONF_ECORRUPT, "%s is too large", path);
    }
    size_t len = (size_t)st.st_size;
    char *text = malloc(len);
    if (text == NULL) {
        close(fd);
        return fail(err, errlen, NODESCONF_ENOMEM, "out of memory");
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, text + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int rc = got == len ? nodesconf_parse(text, len, now_ms, out, err, errlen)
                        : fail(err, errlen, NODESCONF_EIO, "short read of %s", path);
    free(text);
    return rc;
}
