/* The directive table behind config.c, for loading and the CONFIG command.
 *
 * Two tables: 'config_table' (config.c) holds the directives keyraft
 * implements; 'config_ignored_table' (config_ignored.c) holds the rest of
 * what Redis 7.0 knows, accepted with their Redis defaults so config files
 * and tools work, and logged once at startup when a config file uses them.
 * A directive in config_table shadows a row of the same name in the ignored
 * table, so implementing a directive means adding its row to config_table. */
#ifndef KR_NODE_CONFIG_TABLE_H
#define KR_NODE_CONFIG_TABLE_H

#include <stdbool.h>
#include <stddef.h>

enum config_kind {
    CONFIG_BOOL,   /* bool; "yes"/"no" */
    CONFIG_INT,    /* long long; strict integer, within [min, max] */
    CONFIG_MEMORY, /* long long; integer with optional unit (1gb, 100mb, 1k) */
    CONFIG_ENUM,   /* int; one of 'enums' */
    CONFIG_STRING, /* char * (owned by the table); one argument */
    CONFIG_CUSTOM, /* 'set'/'get' callbacks; any number of arguments */
    CONFIG_WORDS,  /* char *; one or more arguments kept as one space-separated string */
};

enum config_flags {
    CONFIG_IMMUTABLE = 1 << 0, /* not settable with CONFIG SET */
    CONFIG_SENSITIVE = 1 << 1, /* value is redacted in logs */
    CONFIG_PROTECTED = 1 << 2, /* CONFIG SET needs enable-protected-configs */
    CONFIG_HIDDEN = 1 << 3,    /* CONFIG GET shows it only when named exactly */
    CONFIG_IGNORED = 1 << 4,   /* accepted and reported, but keyraft does not act on it */
};

struct config_enum {
    const char *name;
    int value;
};

/* One directive. Rows in other files may be written positionally up to
 * 'get'; 'apply' is optional (designated initializer). */
struct config_directive {
    const char *name;
    const char *alias; /* second name, as Redis's "slaveof" for "replicaof"; or NULL */
    enum config_kind kind;
    unsigned flags;
    void *value; /* into 'cfg' (or a private slot); NULL for CONFIG_CUSTOM */
    long long min, max;
    const char *default_value;
    const struct config_enum *enums;
    /* CONFIG_CUSTOM: parses 'argc'/'argv' (a config line's arguments, or a
     * CONFIG SET value split at spaces) into cfg; 0, or -1 with 'err'. */
    int (*set)(int argc, char **argv, char *err, size_t errlen);
    /* CONFIG_CUSTOM: formats the value as CONFIG GET shows it; returns its length. */
    size_t (*get)(char *buf, size_t len);
    /* Runs after CONFIG SET changed the value (never while loading), to make
     * it take effect. Returns 0, or -1 with 'err': the change is then undone. */
    int (*apply)(char *err, size_t errlen);
};

/* Both terminated by a row with a NULL name. */
extern const struct config_directive config_table[];
extern const struct config_directive config_ignored_table[];

/* Case-insensitive lookup by name or alias; real directives first. */
const struct config_directive *config_find(const char *name);
/* Iterates every directive that is in effect (config_table, then the ignored
 * rows not shadowed by it): pass NULL for the first; returns NULL at the end. */
const struct config_directive *config_next(const struct config_directive *d);

/* Room for any formatted value (bind lists, client-output-buffer-limit). */
#define CONFIG_VALUE_MAX 4096

/* Formats the current value as CONFIG GET shows it into 'buf' (always
 * NUL-terminated, truncated to 'len'); returns its length. */
size_t config_format(const struct config_directive *d, char *buf, size_t len);
/* The value as CONFIG REWRITE writes it after the name (memory as "1gb",
 * strings quoted); same contract as config_format. */
size_t config_format_for_file(const struct config_directive *d, char *buf, size_t len);
/* Writes 's' double-quoted with C escapes (Redis's sdscatrepr) into 'buf'
 * (NUL-terminated, truncated to 'len'); returns the length written. */
size_t config_quote(const char *s, char *buf, size_t len);
/* True if the current value equals the directive's default. */
bool config_is_default(const struct config_directive *d);

/* Sets 'd' from a config line's arguments. No immutability check. Returns 0
 * or -1 with Redis's reason in 'err' ("argument must be 'yes' or 'no'"). */
int config_set_args(const struct config_directive *d, int argc, char **argv, char *err,
                    size_t errlen);
/* Sets 'd' from one CONFIG SET value (multi-argument directives split it at
 * spaces, as Redis does). Same return as config_set_args. */
int config_set_text(const struct config_directive *d, const char *value, char *err, size_t errlen);

/* While true, a `save` line adds to the points read so far instead of
 * replacing them (the first one read drops the defaults), as Redis does. */
void config_set_loading(bool loading);

#endif
