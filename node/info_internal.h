/* Shared by the files that build the INFO report (info.c, info_memory.c):
 * the growing text buffer and Redis's number formatting. Not for other
 * modules: they go through info.h. */
#ifndef KR_NODE_INFO_INTERNAL_H
#define KR_NODE_INFO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* The report being built; 'failed' is set once memory ran out and every
 * later text_printf is a no-op. */
struct text {
    char *buf;
    size_t len, cap;
    bool failed;
};

void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Redis 7.0 bytesToHuman: "894.75K", "1.27M", "200B". */
void bytes_to_human(char *s, size_t size, unsigned long long n);

/* The Memory section. */
void info_section_memory(struct text *t);

/* Remembers the highest used_memory seen (the cron calls it every tick). */
void info_memory_track_peak(void);

#endif
