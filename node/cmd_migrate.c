/* MIGRATE (Redis 7.0 migrateCommand) and KEYRAFT MIGRATED, the write that
 * completes it.
 *
 * MIGRATE is not a log entry: it runs at once on the node that received it
 * (command.h CMD_PROPOSES_EFFECTS). It reads the keys, serializes each (DUMP
 * payload and remaining TTL) and sends them to the target as pipelined
 * RESTORE commands (RESTORE-ASKING in cluster mode, as Redis 7.0), after
 * AUTH and SELECT when needed, over a cached connection (migrate_conn.h).
 * Its client waits meanwhile, like a blocked client; the loop serves the
 * others. The reply rules, retry and error texts are Redis's line for line.
 *
 * Keys the target acknowledged are deleted (unless COPY) by ONE proposed
 * write, KEYRAFT MIGRATED, which every member of the shard applies and
 * which writes the MIGRATE reply; without acknowledged keys MIGRATE replies
 * itself.
 *
 * Redis holds its whole server while it migrates; keyraft does not, so
 * another client may change a key after it was sent. Two guards keep such
 * a write: once the target has answered, keys that changed meanwhile are
 * sent again (RESTORE ... REPLACE: the target holds our older copy), for up
 * to MIGRATE_MAX_ROUNDS rounds; and KEYRAFT MIGRATED deletes a key only if
 * it still holds what was sent last (same fingerprint and expiry), so a
 * write still in flight then is not lost either (the key then stays here,
 * and the target has the older value). A key deleted meanwhile stays on
 * the target.
 *
 * Not supported: MIGRATE inside MULTI/EXEC or a script (its client cannot
 * wait there); it replies an error instead. */
#include "cluster/nodes.h"
#include "node/cluster_mode.h"
#include "node/cmd_handlers.h"
#include "node/client.h"
#include "node/command.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/info.h"
#include "node/migrate_conn.h"
#include "node/monitor.h"
#include "node/notify.h"
#include "node/propose.h"
#include "node/server.h"
#include "node/shard.h"
#include "raft/group.h"
#include "storage/crc64.h"
#include "storage/digest.h"
#include "storage/keyslot.h"
#include "storage/mem.h"
#include "storage/object.h"
#include "storage/snapshot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_DEFAULT_TIMEOUT_MS 1000 /* Redis: a timeout <= 0 means 1000 ms */
#define REPLY_LINE_MAX             1023 /* Redis reads reply lines into 1024-byte buffers */
#define MIGRATE_MAX_ROUNDS         4    /* sends of a key changed while it travelled */
#define FINGERPRINT_LEN            DIGEST_HEX_LEN

struct migrated_key {
    char *key;
    size_t keylen;
    int64_t expire_ms;                     /* absolute, or -1 */
    char fingerprint[FINGERPRINT_LEN + 1]; /* of the value sent last */
    bool is_acked;                         /* the target restored it */
};

/* One MIGRATE in progress. Owned by the exchange callbacks until it ends. */
struct migrate_job {
    uint64_t client_id; /* who waits (looked up again: it may have gone) */
    int db;             /* the source database */
    long long dbid;     /* the target database */
    int64_t timeout_ms;
    bool copy, replace;
    char *host, *port, *username, *password; /* owned copies; user/password may be NULL */
    size_t hostlen, portlen, userlen, passlen;

    struct migrated_key *keys;
    size_t nkeys;
    size_t *round_keys; /* indexes into 'keys' of the RESTOREs in 'body' */
    size_t round_count;
    int round;               /* 1 for the first sending */
    long long dirty_at_send; /* server.dirty when the round's values were read */
    struct resp_out head;    /* AUTH and SELECT of the current attempt */
    struct resp_out body;    /* the round's RESTOREs, the same for every attempt */
    uv_buf_t bufs[2];

    /* The current attempt. */
    struct migrate_conn *conn;
    bool sends_select;
    bool may_retry;        /* Redis retries once on a fresh connection */
    bool has_target_error; /* the first error line is in 'target_error' */
    bool has_bad_line;     /* a reply that is neither +... nor -... */
    char *auth_error;      /* the AUTH reply, if it was an error */
    char *select_error;    /* the SELECT reply, if it was an error */
    size_t restores_read;  /* RESTORE replies read */
    char *target_error;    /* "ERR Target instance replied with error: ..." */
};

static struct command *migrate_command(void) {
    static struct command *cmd;
    if (cmd == NULL)
        cmd = command_lookup("migrate", 7);
    return cmd;
}

static const struct command *migrated_command(void) {
    static const struct command *cmd;
    if (cmd == NULL) {
        const struct command *parent = command_lookup("keyraft", 7);
        cmd = parent != NULL ? command_lookup_sub(parent, "migrated", 8) : NULL;
    }
    return cmd;
}

/* What KEYRAFT MIGRATED compares to tell whether a key still holds what was
 * sent: the same on every member for the same logical value, whatever its
 * encoding or table order, as FINGERPRINT_LEN characters. A string gives
 * "s", its length and the CRC-64 of its bytes (big values are mostly
 * strings, and SHA-1 over megabytes costs tens of milliseconds); any other
 * type storage/digest's value digest in hex. */
static void fingerprint(const struct kv *kv, char out[FINGERPRINT_LEN + 1]) {
    if (kv->type == OBJ_STRING) {
        char buf[32];
        size_t len;
        const char *p = kv_string(kv, buf, &len);
        snprintf(out, FINGERPRINT_LEN + 1, "s%023zx%016" PRIx64, len, crc64(0, p, len));
        return;
    }
    uint8_t digest[DIGEST_LEN] = {0};
    digest_value(kv, digest);
    digest_hex(digest, out);
}

static struct client *client_with_id(uint64_t id) {
    for (struct client *c = server.clients; c != NULL; c = c->next)
        if (c->id == id && !(c->flags & CLIENT_CLOSING))
            return c;
    return NULL;
}

static char *copy_arg(const char *p, size_t len) {
    char *s = malloc(len + 1);
    if (s != NULL) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

static void reset_attempt(struct migrate_job *job) {
    free(job->auth_error);
    free(job->select_error);
    free(job->target_error);
    job->auth_error = job->select_error = job->target_error = NULL;
    job->has_target_error = job->has_bad_line = false;
    job->restores_read = 0;
}

static void job_free(struct migrate_job *job) {
    reset_attempt(job);
    for (size_t i = 0; i < job->nkeys; i++)
        free(job->keys[i].key);
    free(job->keys);
    free(job->round_keys);
    resp_out_close(&job->head);
    resp_out_close(&job->body);
    free(job->host);
    free(job->port);
    free(job->username);
    free(job->password);
    free(job);
}

/* ---- Ending: the reply, and the proposed deletion ---- */

static struct resp_out *reply_out(struct client *c) {
    return c->reply_mode == REPLY_ON ? &c->out : &c->sink;
}

/* Lets the client's next commands run. */
static void resume(struct client *c) {
    if (c == NULL)
        return;
    c->flags &= ~(uint32_t)CLIENT_BLOCKED;
    client_schedule_write(c);
    client_process_input(c);
}

/* Proposes KEYRAFT MIGRATED for the acknowledged keys, with 'error' (NULL
 * for +OK) as the reply it writes. Returns false when out of memory. */
static bool propose_deletion(struct migrate_job *job, struct client *c, const char *error,
                             size_t acked) {
    const struct command *cmd = migrated_command();
    int argc = 3 + 3 * (int)acked;
    char **argv = malloc((size_t)argc * sizeof(*argv));
    size_t *argvlen = malloc((size_t)argc * sizeof(*argvlen));
    char *numbers = malloc(acked * 24);
    if (cmd == NULL || argv == NULL || argvlen == NULL || numbers == NULL) {
        free(argv);
        free(argvlen);
        free(numbers);
        return false;
    }
    argv[0] = "KEYRAFT";
    argvlen[0] = 7;
    argv[1] = "MIGRATED";
    argvlen[1] = 8;
    argv[2] = (char *)(error != NULL ? error : "");
    argvlen[2] = strlen(argv[2]);
    int at = 3;
    char *num = numbers;
    for (size_t i = 0; i < job->nkeys; i++) {
        struct migrated_key *k = &job->keys[i];
        if (!k->is_acked)
            continue;
        argv[at] = k->key;
        argvlen[at++] = k->keylen;
        argv[at] = num;
        argvlen[at++] = resp_ll2str(num, k->expire_ms);
        num += 24;
        argv[at] = k->fingerprint;
        argvlen[at++] = FINGERPRINT_LEN;
    }
    struct resp_out sink;
    resp_out_init_discard(&sink);
    struct exec_ctx ctx = {
        .client = c,
        .out = c != NULL ? reply_out(c) : &sink,
        .cmd = cmd,
        .argc = argc,
        .argv = argv,
        .argvlen = argvlen,
        .dbid = job->db,
    };
    propose_write(&ctx);
    resp_out_close(&sink);
    free(argv);
    free(argvlen);
    free(numbers);
    return true;
}

/* Ends the job with 'error' (NULL: +OK): deletes what the target took, or
 * replies directly, then frees the job and resumes the client. */
static void conclude(struct migrate_job *job, const char *error) {
    struct client *c = client_with_id(job->client_id);
    if (error != NULL) {
        server.stats.total_error_replies++;
        info_count_error(error, strlen(error));
        if (migrate_command() != NULL)
            migrate_command()->stats.failed_calls++;
    }
    size_t acked = 0;
    for (size_t i = 0; i < job->nkeys; i++)
        acked += job->keys[i].is_acked;
    if (c != NULL)
        c->flags &= ~(uint32_t)CLIENT_BLOCKED;
    if (acked > 0 && !job->copy) {
        if (!propose_deletion(job, c, error, acked) && c != NULL)
            resp_add_error(reply_out(c), "OOM command not allowed when used memory > 'maxmemory'.");
    } else if (c != NULL) {
        if (error != NULL)
            resp_add_error(reply_out(c), error);
        else
            resp_add_status(reply_out(c), "OK");
    }
    job_free(job);
    resume(c);
}

/* ---- The exchange with the target ---- */

static void start_attempt(struct migrate_job *job);
static bool start_round_of_changed(struct migrate_job *job);

static bool on_line(void *arg, size_t index, const char *line, size_t len) {
    struct migrate_job *job = arg;
    if (len > REPLY_LINE_MAX)
        len = REPLY_LINE_MAX;
    /* Redis takes any line that does not start with '-' as success; a
     * reply that is not a status or an error here means the target is not
     * speaking RESP (or the stream is out of step): stop, delete nothing
     * more. */
    if (len == 0 || (line[0] != '+' && line[0] != '-')) {
        job->has_bad_line = true;
        return false;
    }
    size_t restore_first = (job->password != NULL) + job->sends_select;
    if (index < restore_first) {
        char **slot = job->password != NULL && index == 0 ? &job->auth_error : &job->select_error;
        if (line[0] == '-')
            *slot = copy_arg(line, len);
        return true;
    }
    size_t k = index - restore_first;
    job->restores_read = k + 1;
    struct migrated_key *key = &job->keys[job->round_keys[k]];
    if (job->auth_error != NULL || job->select_error != NULL || line[0] == '-') {
        if (!job->has_target_error) {
            /* Redis: the AUTH error first, then SELECT's, then this one's. */
            const char *err = job->auth_error != NULL     ? job->auth_error
                              : job->select_error != NULL ? job->select_error
                                                          : NULL;
            size_t errlen = err != NULL ? strlen(err) : len;
            if (err == NULL)
                err = line;
            size_t size = errlen + 64;
            job->target_error = malloc(size);
            if (job->target_error != NULL)
                snprintf(job->target_error, size, "ERR Target instance replied with error: %.*s",
                         (int)(errlen - 1), err + 1);
            job->has_target_error = true;
        }
    } else if (!job->copy) {
        key->is_acked = true;
    }
    return true;
}

static void on_done(void *arg, int status, bool timed_out) {
    struct migrate_job *job = arg;
    if (status == MIGRATE_CONN_ECLOSED) {
        job_free(job); /* shutting down: nobody is answered */
        return;
    }
    struct migrate_conn *conn = job->conn;
    job->conn = NULL;
    if (status == MIGRATE_CONN_OK) {
        /* Redis forgets the selected db after an error from the target. */
        migrate_conn_set_selected_db(conn, job->has_target_error ? -1 : job->dbid);
        migrate_conn_give_back(conn);
        if (job->has_target_error)
            conclude(job, job->target_error != NULL ? job->target_error
                                                    : "ERR Target instance replied with error");
        else if (!start_round_of_changed(job))
            conclude(job, NULL);
        return;
    }
    migrate_conn_close(conn);
    if (status == MIGRATE_CONN_ESELF) {
        /* What Redis answers once its timeout passes; nothing was sent. */
        conclude(job, "IOERR error or timeout reading to target instance");
        return;
    }
    if (status == MIGRATE_CONN_ECONNECT) {
        /* Redis's migrateGetSocket text, returned without a retry. */
        conclude(job, "IOERR error or timeout connecting to the client");
        return;
    }
    /* Redis retries once on a new connection when nothing was read back
     * yet and the failure was not a timeout: a cached connection the target
     * had closed fails exactly so. */
    bool nothing_read = status == MIGRATE_CONN_EWRITE || job->restores_read == 0;
    if (job->may_retry && !timed_out && nothing_read && !job->has_target_error &&
        !job->has_bad_line) {
        job->may_retry = false;
        reset_attempt(job);
        for (size_t i = 0; i < job->round_count; i++)
            job->keys[job->round_keys[i]].is_acked = false;
        start_attempt(job);
        return;
    }
    if (job->has_target_error)
        conclude(job, job->target_error != NULL ? job->target_error
                                                : "ERR Target instance replied with error");
    else if (status == MIGRATE_CONN_EWRITE)
        conclude(job, "IOERR error or timeout writing to target instance");
    else
        conclude(job, "IOERR error or timeout reading to target instance");
}

static void start_attempt(struct migrate_job *job) {
    job->conn = migrate_conn_take(job->host, job->hostlen, job->port, job->portlen);
    if (job->conn == NULL) {
        conclude(job, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    resp_out_close(&job->head);
    resp_out_init(&job->head, 2);
    if (job->password != NULL) {
        resp_add_array(&job->head, job->username != NULL ? 3 : 2);
        resp_add_bulk(&job->head, "AUTH", 4);
        if (job->username != NULL)
            resp_add_bulk(&job->head, job->username, job->userlen);
        resp_add_bulk(&job->head, job->password, job->passlen);
    }
    job->sends_select = migrate_conn_selected_db(job->conn) != job->dbid;
    if (job->sends_select) {
        resp_add_array(&job->head, 2);
        resp_add_bulk(&job->head, "SELECT", 6);
        resp_add_bulk_ll(&job->head, job->dbid);
    }
    if (job->head.failed) {
        migrate_conn_give_back(job->conn);
        job->conn = NULL;
        conclude(job, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    /* Set directly: uv_buf_init takes an unsigned int, a body may be bigger. */
    job->bufs[0].base = job->head.buf;
    job->bufs[0].len = job->head.len;
    job->bufs[1].base = job->body.buf;
    job->bufs[1].len = job->body.len;
    size_t nlines = (job->password != NULL) + job->sends_select + job->round_count;
    migrate_conn_exchange(job->conn, job->bufs, 2, nlines, job->timeout_ms, on_line, on_done, job);
}

/* ---- MIGRATE ---- */

/* Adds to the round's request the RESTORE of keys[i], whose live record is
 * 'kv', and notes the expiry and fingerprint sent. Returns false when out of
 * memory. */
static bool send_key(struct migrate_job *job, size_t i, const struct kv *kv, int64_t now_ms,
                     bool replace) {
    struct migrated_key *k = &job->keys[i];
    k->expire_ms = kv->has_expire ? kv_expire(kv) : -1;
    long long ttl = 0;
    if (k->expire_ms != -1) {
        ttl = k->expire_ms - now_ms;
        if (ttl < 1)
            ttl = 1;
    }
    unsigned char *payload;
    size_t len;
    if (snapshot_dump(kv, &payload, &len) != SNAPSHOT_OK)
        return false;
    fingerprint(kv, k->fingerprint);
    struct resp_out *b = &job->body;
    resp_add_array(b, replace ? 5 : 4);
    if (cfg.cluster_enabled)
        resp_add_bulk(b, "RESTORE-ASKING", 14);
    else
        resp_add_bulk(b, "RESTORE", 7);
    resp_add_bulk(b, k->key, k->keylen);
    resp_add_bulk_ll(b, ttl);
    resp_add_bulk(b, (const char *)payload, len);
    if (replace)
        resp_add_bulk(b, "REPLACE", 7);
    mem_free(payload);
    job->round_keys[job->round_count++] = i;
    return !b->failed;
}

/* After a round the target fully acknowledged: sends again, with REPLACE,
 * the acknowledged keys that changed here meanwhile (read from the applied
 * state). Returns true if a round started, false when none is needed (or
 * possible: out of rounds or memory; KEYRAFT MIGRATED then keeps them). */
static bool start_round_of_changed(struct migrate_job *job) {
    /* No write applied since the values were read: nothing changed (a
     * snapshot resetting the counter only makes us look). */
    if (job->copy || job->round >= MIGRATE_MAX_ROUNDS || server.dirty == job->dirty_at_send)
        return false;
    struct resp_out sink;
    resp_out_init_discard(&sink);
    struct exec_ctx ctx = {.out = &sink, .dbid = job->db, .now_ms = server_now_ms()};
    resp_out_close(&job->body);
    resp_out_init(&job->body, 2);
    job->round_count = 0;
    for (size_t i = 0; i < job->nkeys; i++) {
        struct migrated_key *k = &job->keys[i];
        const struct kv *kv = k->is_acked ? db_peek(&ctx, k->key, k->keylen) : NULL;
        if (kv == NULL)
            continue; /* deleted or expired here meanwhile: nothing to send */
        char now[FINGERPRINT_LEN + 1];
        fingerprint(kv, now);
        if ((kv->has_expire ? kv_expire(kv) : -1) == k->expire_ms &&
            memcmp(now, k->fingerprint, FINGERPRINT_LEN) == 0)
            continue;
        k->is_acked = false;
        if (!send_key(job, i, kv, ctx.now_ms, true)) {
            resp_out_close(&sink);
            return false;
        }
    }
    resp_out_close(&sink);
    if (job->round_count == 0)
        return false;
    job->dirty_at_send = server.dirty;
    job->round++;
    job->may_retry = true;
    reset_attempt(job);
    start_attempt(job);
    return true;
}

/* True for a key of a slot this node is migrating (cluster mode). A copy
 * the target holds of such a key can only be one an earlier MIGRATE of ours
 * left there: a key changed while it travelled stays here, newer (see the
 * top of the file), and while the slot migrates, writes to keys present
 * here are served here, only missing ones are ASKed to the target. So it
 * is replaced: without REPLACE, redis-cli's next MIGRATE of the key got
 * BUSYKEY and its reshard stopped (its value check needs DEBUG). */
static bool in_migrating_slot(const char *key, size_t keylen) {
    struct cluster_state *cs = cluster_mode_state();
    return cs != NULL && cs->slots.migrating_to[keyslot_of(key, keylen)] != NULL;
}

/* MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
 * [AUTH password] [AUTH2 username password] [KEYS key [key ...]]: Redis 7.0
 * checks options first, then the timeout and db numbers, then which keys
 * exist (+NOKEY if none), then talks to the target. */
void cmd_migrate(struct exec_ctx *ctx) {
    if (ctx->is_apply || ctx->client == NULL) {
        resp_add_error(ctx->out, "ERR MIGRATE is not supported inside MULTI/EXEC or scripts");
        return;
    }
    struct group *g = shard_group();
    if (g != NULL && !group_is_leader(g)) {
        resp_add_error(ctx->out, "READONLY You can't write against a read only replica.");
        return;
    }
    bool copy = false, replace = false;
    int user_arg = 0, pass_arg = 0;
    int first_key = 3, num_keys = 1;
    for (int j = 6; j < ctx->argc; j++) {
        int more = ctx->argc - 1 - j;
        if (exec_arg_is(ctx, j, "copy")) {
            copy = true;
        } else if (exec_arg_is(ctx, j, "replace")) {
            replace = true;
        } else if (exec_arg_is(ctx, j, "auth")) {
            if (more < 1) {
                exec_reply_syntax_error(ctx);
                return;
            }
            pass_arg = ++j;
            monitor_redact_arg(j);
        } else if (exec_arg_is(ctx, j, "auth2")) {
            if (more < 2) {
                exec_reply_syntax_error(ctx);
                return;
            }
            user_arg = ++j;
            monitor_redact_arg(j);
            pass_arg = ++j;
            monitor_redact_arg(j);
        } else if (exec_arg_is(ctx, j, "keys")) {
            if (ctx->argvlen[3] != 0) {
                resp_add_error(ctx->out, "ERR When using MIGRATE KEYS option, the key argument "
                                         "must be set to the empty string");
                return;
            }
            first_key = j + 1;
            num_keys = ctx->argc - j - 1;
            break;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    long long timeout, dbid;
    if (!exec_arg_ll(ctx, 5, &timeout) || !exec_arg_ll(ctx, 4, &dbid))
        return;
    if (timeout <= 0)
        timeout = MIGRATE_DEFAULT_TIMEOUT_MS;

    struct migrate_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    resp_out_init(&job->head, 2);
    resp_out_init(&job->body, 2);
    job->copy = copy;
    job->replace = replace;
    size_t slots = num_keys > 0 ? (size_t)num_keys : 1;
    job->keys = calloc(slots, sizeof(*job->keys));
    job->round_keys = calloc(slots, sizeof(*job->round_keys));
    if (job->keys == NULL || job->round_keys == NULL)
        goto err_oom;
    job->round = 1;
    job->dirty_at_send = server.dirty;
    for (int j = 0; j < num_keys; j++) {
        const char *key = ctx->argv[first_key + j];
        size_t keylen = ctx->argvlen[first_key + j];
        struct kv *kv = db_lookup_read(ctx, key, keylen);
        if (kv == NULL)
            continue;
        struct migrated_key *k = &job->keys[job->nkeys];
        if ((k->key = copy_arg(key, keylen)) == NULL)
            goto err_oom;
        k->keylen = keylen;
        job->nkeys++;
        if (!send_key(job, job->nkeys - 1, kv, ctx->now_ms,
                      replace || in_migrating_slot(key, keylen)))
            goto err_oom;
    }
    if (job->nkeys == 0) {
        job_free(job);
        resp_add_status(ctx->out, "NOKEY");
        return;
    }
    job->client_id = ctx->client->id;
    job->db = ctx->dbid;
    job->dbid = dbid;
    job->timeout_ms = timeout;
    job->may_retry = true;
    job->hostlen = ctx->argvlen[1];
    job->portlen = ctx->argvlen[2];
    job->host = copy_arg(ctx->argv[1], ctx->argvlen[1]);
    job->port = copy_arg(ctx->argv[2], ctx->argvlen[2]);
    if (job->host == NULL || job->port == NULL)
        goto err_oom;
    if (pass_arg != 0) {
        job->passlen = ctx->argvlen[pass_arg];
        if ((job->password = copy_arg(ctx->argv[pass_arg], job->passlen)) == NULL)
            goto err_oom;
    }
    if (user_arg != 0) {
        job->userlen = ctx->argvlen[user_arg];
        if ((job->username = copy_arg(ctx->argv[user_arg], job->userlen)) == NULL)
            goto err_oom;
    }
    ctx->client->flags |= CLIENT_BLOCKED; /* answered by conclude() */
    start_attempt(job);
    return;

err_oom:
    job_free(job);
    exec_reply_oom(ctx);
}

/* ---- KEYRAFT MIGRATED ---- */

/* KEYRAFT MIGRATED <reply> [<key> <expire-ms> <fingerprint> ...]: proposed
 * by MIGRATE once the target acknowledged the keys. Deletes each key that
 * still has expiry 'expire-ms' (-1: none) and value 'fingerprint' (see
 * fingerprint(): independent of encoding and table order, so every member
 * decides alike), then replies +OK, or the error 'reply' when it is not
 * empty. */
void cmd_keyraft_migrated(struct exec_ctx *ctx) {
    if ((ctx->argc - 3) % 3 != 0) {
        exec_reply_syntax_error(ctx);
        return;
    }
    for (int i = 3; i < ctx->argc; i += 3) {
        long long expire;
        if (!obj_parse_ll(ctx->argv[i + 1], ctx->argvlen[i + 1], &expire) ||
            ctx->argvlen[i + 2] != FINGERPRINT_LEN) {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    for (int i = 3; i < ctx->argc; i += 3) {
        const char *key = ctx->argv[i];
        size_t keylen = ctx->argvlen[i];
        struct kv *kv = db_lookup_write(ctx, key, keylen);
        if (kv == NULL)
            continue;
        long long expire;
        obj_parse_ll(ctx->argv[i + 1], ctx->argvlen[i + 1], &expire);
        if ((kv->has_expire ? kv_expire(kv) : -1) != expire)
            continue;
        char now[FINGERPRINT_LEN + 1];
        fingerprint(kv, now);
        if (memcmp(now, ctx->argv[i + 2], FINGERPRINT_LEN) != 0)
            continue;
        if (db_delete(ctx, key, keylen))
            notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", key, keylen);
    }
    if (ctx->argvlen[2] == 0)
        exec_reply_ok(ctx);
    else
        resp_add_errorf(ctx->out, "%.*s", (int)ctx->argvlen[2], ctx->argv[2]);
}
