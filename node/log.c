/* Server log (see log.h): formatting, level filtering and the log file. A
 * log file that cannot be opened falls back to stdout; main.c checks it can
 * be opened before the server starts, as Redis does. */
#include "node/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static FILE *log_file;
static char log_role = 'M';

void log_set_role(char role) {
    log_role = role;
}

void log_reopen(void) {
    if (log_file != NULL && log_file != stdout)
        fclose(log_file);
    log_file = NULL;
}

static FILE *target(void) {
    if (log_file == NULL) {
        if (cfg.logfile != NULL && cfg.logfile[0] != '\0')
            log_file = fopen(cfg.logfile, "a");
        if (log_file == NULL)
            log_file = stdout;
    }
    return log_file;
}

void log_write(int level, const char *fmt, ...) {
    if (level < cfg.loglevel)
        return;
    static const char marks[] = ".-*#";
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char when[64];
    size_t n = strftime(when, sizeof(when), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(when + n, sizeof(when) - n, "%03d", (int)(tv.tv_usec / 1000));
    FILE *f = target();
    fprintf(f, "%d:%c %s %c %s\n", (int)getpid(), log_role, when,
            marks[level < LOG_WARNING ? level : LOG_WARNING], msg);
    fflush(f);
}
