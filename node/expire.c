/* The active expire cycle (see expire.h), after Redis 7.0's
 * activeExpireCycle in its slow (cron) mode: per database, sample
 * ACTIVE_EXPIRE_KEYS_PER_LOOP keys that carry an expiry, propose a DEL for
 * the expired ones, and repeat while more than ACTIVE_EXPIRE_STALE_PERC
 * percent of a sample had expired; stop when the time budget is spent.
 *
 * It does not decide whether a key is visible: reads hide expired keys by
 * themselves (node/db.c); this only reclaims them. */
#include "node/expire.h"

#include "node/command.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/propose.h"
#include "node/server.h"
#include "storage/keyspace.h"
#include "storage/mem.h"

#include <string.h>

#define ACTIVE_EXPIRE_KEYS_PER_LOOP 20 /* keys sampled per database per loop */
#define ACTIVE_EXPIRE_STALE_PERC    25 /* loop again while more than this % expired */
#define ACTIVE_EXPIRE_TIME_PERC     25 /* max % of the cron period to spend */
#define ACTIVE_EXPIRE_DBS_PER_CALL  16 /* Redis's CRON_DBS_PER_CALL */
#define ACTIVE_EXPIRE_TIME_CHECK    16 /* loops between clock reads */

static int next_db; /* where the previous pass stopped */
static struct expire_stats stats;

/* Proposes "DEL key" in database 'dbid' with nobody waiting for the reply.
 * The key is copied first: the DEL frees the record that holds it. The
 * DEL's own time is at least 'now', so it sees the key expired and counts
 * it in expired_keys (db_delete). */
static void propose_del(const struct command *del, int dbid, const struct kv *kv) {
    char small[128];
    size_t len = kv->keylen;
    char *key = len <= sizeof(small) ? small : mem_alloc(len);
    if (key == NULL)
        return;
    memcpy(key, kv_key(kv), len);

    char name[] = "DEL";
    char *argv[2] = {name, key};
    size_t argvlen[2] = {3, len};
    struct resp_out sink;
    resp_out_init_discard(&sink);
    struct exec_ctx ctx = {
        .client = NULL,
        .out = &sink,
        .cmd = del,
        .argc = 2,
        .argv = argv,
        .argvlen = argvlen,
        .dbid = dbid,
    };
    propose_write(&ctx);
    resp_out_close(&sink);
    if (key != small)
        mem_free(key);
}

/* Samples one batch of database 'dbid'; returns how many keys were sampled
 * and sets '*expired' to how many of them had expired (and were proposed). */
static int sample_db(const struct command *del, int dbid, int *expired) {
    *expired = 0;
    struct keyspace *ks = server_db_if_exists(dbid);
    size_t volatile_keys = ks != NULL ? keyspace_expires_size(ks) : 0;
    int sample = volatile_keys < ACTIVE_EXPIRE_KEYS_PER_LOOP ? (int)volatile_keys
                                                             : ACTIVE_EXPIRE_KEYS_PER_LOOP;
    int64_t now_ms = server_now_ms();
    for (int i = 0; i < sample; i++) {
        /* Looked up again each time: the previous DEL may have emptied it. */
        struct kv *kv = keyspace_random_expiring(ks, server_random());
        if (kv == NULL)
            break;
        if (db_is_expired(kv, now_ms)) {
            propose_del(del, dbid, kv);
            (*expired)++;
        }
    }
    return sample;
}

void expire_active_cycle(void) {
    static const struct command *del;
    if (del == NULL)
        del = command_lookup("del", 3);
    if (del == NULL || cfg.databases <= 0)
        return;
    long long hz = cfg.hz > 0 ? cfg.hz : 1;
    uint64_t start_us = server_monotonic_us();
    uint64_t budget_us = (uint64_t)(1000000 * ACTIVE_EXPIRE_TIME_PERC / 100 / hz);
    int dbs = cfg.databases < ACTIVE_EXPIRE_DBS_PER_CALL ? (int)cfg.databases
                                                         : ACTIVE_EXPIRE_DBS_PER_CALL;
    bool out_of_time = false;
    long long total_sampled = 0, total_expired = 0;
    for (int n = 0; n < dbs && !out_of_time; n++) {
        int dbid = next_db;
        next_db = (next_db + 1) % (int)cfg.databases;
        int loops = 0, sampled, expired;
        do {
            sampled = sample_db(del, dbid, &expired);
            total_sampled += sampled;
            total_expired += expired;
            if (++loops % ACTIVE_EXPIRE_TIME_CHECK == 0 &&
                server_monotonic_us() - start_us > budget_us) {
                out_of_time = true;
                break;
            }
        } while (sampled > 0 && expired * 100 > sampled * ACTIVE_EXPIRE_STALE_PERC);
    }
    /* Redis 7.0 activeExpireCycle: the time used, the passes cut short, and
     * a moving average (weight 0.05) of the share of sampled keys found
     * expired. */
    stats.cycle_time_us += server_monotonic_us() - start_us;
    if (out_of_time)
        stats.time_cap_reached_count++;
    double perc = total_sampled ? (double)total_expired / (double)total_sampled : 0.0;
    stats.stale_perc = perc * 0.05 + stats.stale_perc * 0.95;
}

void expire_get_stats(struct expire_stats *out) {
    *out = stats;
}
