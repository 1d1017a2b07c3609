/* The active expire cycle: the leader's periodic search for keys whose time
 * has passed, so memory is reclaimed even for keys nobody reads again.
 *
 * Deleting an expired key is a leader decision (design.md, write path 6):
 * the cycle samples keys from each database's expiry index and proposes a
 * DEL for each expired one through propose_write, exactly as a client's
 * write would go, so every member of the shard deletes the same keys. It
 * never deletes directly. */
#ifndef KR_NODE_EXPIRE_H
#define KR_NODE_EXPIRE_H

#include <stdint.h>

/* Runs one bounded pass, from the server cron (cfg.hz times a second).
 * Must be called on the leader with no write of its own in progress. Uses at
 * most about a quarter of the cron period, resuming where the last pass
 * stopped. */
void expire_active_cycle(void);

/* What INFO stats reports of the cycle (Redis 7.0 expired_stale_perc,
 * expired_time_cap_reached_count, expire_cycle_cpu_milliseconds). */
struct expire_stats {
    double stale_perc; /* moving average share (0..1) of sampled keys expired */
    uint64_t time_cap_reached_count;
    uint64_t cycle_time_us;
};
void expire_get_stats(struct expire_stats *out);

#endif
