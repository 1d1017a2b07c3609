/* The latency monitor: per-event series of the worst latency (ms) seen in
 * each second, the last 160 seconds with samples, recorded only when
 * 'latency-monitor-threshold' is set, as Redis 7.0 does; and the LATENCY
 * command (handlers cmd_latency_* in latency.c). */
#ifndef KR_NODE_LATENCY_H
#define KR_NODE_LATENCY_H

#include <stdint.h>

/* Adds a sample of 'latency_ms' to 'event' (a static string such as
 * "command") if the monitor is on and the sample reaches the threshold. */
void latency_add_sample_if_needed(const char *event, uint64_t latency_ms);
/* Records a command's duration under "fast-command" or "command". */
void latency_record_command(uint32_t cmd_flags, uint64_t duration_us);
/* Drops every series (shutdown). */
void latency_reset_all(void);

#endif
