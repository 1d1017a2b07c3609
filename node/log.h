/* Server log in Redis's format ("pid:role dd Mon yyyy hh:mm:ss.mmm * text"),
 * to stdout or the configured logfile, filtered by loglevel. The level marks
 * are Redis's: '.' debug, '-' verbose, '*' notice, '#' warning. The only
 * place keyraft writes diagnostic text. */
#ifndef KR_NODE_LOG_H
#define KR_NODE_LOG_H

#include "node/config.h"

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Closes the logfile; the next line reopens cfg.logfile (after rotation or a
 * config change). */
void log_reopen(void);
/* The role character after the pid: 'M' (default: a master / shard leader),
 * 'S' (replica / follower), 'C' (a forked child). */
void log_set_role(char role);

#define log_debug(...)   log_write(LOG_DEBUG, __VA_ARGS__)
#define log_verbose(...) log_write(LOG_VERBOSE, __VA_ARGS__)
#define log_notice(...)  log_write(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_write(LOG_WARNING, __VA_ARGS__)

#endif
