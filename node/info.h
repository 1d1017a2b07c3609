/* INFO: the server report in Redis 7.0's sections and field names, plus the
 * statistics only INFO shows: instantaneous rates (sampled by the cron) and
 * per-error-code counts (errorstats). */
#ifndef KR_NODE_INFO_H
#define KR_NODE_INFO_H

#include <stddef.h>
#include <stdint.h>

struct resp_out;

/* Writes the report for the sections named in 'argv'[0..argc) (none: the
 * default sections) as INFO's reply (a verbatim string) into 'out'. */
void info_reply(struct resp_out *out, int argc, char **argv, const size_t *argvlen);

/* Memory figures shared by INFO memory and MEMORY STATS. */
struct info_memory {
    size_t used;     /* storage/mem data plus client buffers */
    size_t peak;     /* highest 'used' seen by the cron or INFO */
    size_t overhead; /* keyspace tables plus client buffers */
    size_t clients;  /* client structs and buffers */
    size_t dataset;  /* used - overhead */
    size_t rss;      /* resident set size (/proc/self/statm) */
};
void info_memory(struct info_memory *m);

/* Takes used_memory as it is once the server is set up, before any data is
 * loaded (INFO used_memory_startup). main.c calls it once. */
void info_note_startup(void);

/* Samples operation and network rates; the cron calls it every tick. */
void info_cron(void);

/* Counts an error reply under its code, the first word of 'msg' ("ERR",
 * "WRONGTYPE") as errorstat_<code>. */
void info_count_error(const char *msg, size_t len);

/* Counts the error replies a command wrote to 'out' from byte 'from' on
 * ('count' of them): a top-level error is counted under its code; errors
 * nested in an aggregate (EXEC) are not attributed. */
void info_count_reply_errors(const struct resp_out *out, size_t from, unsigned long long count);

/* Forgets errorstats (CONFIG RESETSTAT). */
void info_reset_errorstats(void);

#endif
