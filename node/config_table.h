/* The directive table behind config.c, for the CONFIG command. */
#ifndef KR_NODE_CONFIG_TABLE_H
#define KR_NODE_CONFIG_TABLE_H

#include <stddef.h>

enum config_kind { CONFIG_BOOL, CONFIG_INT, CONFIG_MEMORY, CONFIG_ENUM, CONFIG_STRING, CONFIG_CUSTOM };

enum config_flags {
    CONFIG_IMMUTABLE = 1 << 0, /* not settable with CONFIG SET */
    CONFIG_SENSITIVE = 1 << 1, /* value is redacted in logs */
};

struct config_enum {
    const char *name;
    int value;
};

struct config_directive {
    const char *name;
    const char *alias;
    enum config_kind kind;
    unsigned flags;
    void *value; /* into 'cfg'; NULL for CONFIG_CUSTOM */
    long long min, max;
    const char *default_value;
    const struct config_enum *enums;
    int (*set)(int argc, char **argv, char *err, size_t errlen);
    size_t (*get)(char *buf, size_t len);
};

/* Terminated by a row with a NULL name. */
extern const struct config_directive config_table[];

const struct config_directive *config_find(const char *name);
/* Formats the current value as CONFIG GET shows it; returns its length. */
size_t config_format(const struct config_directive *d, char *buf, size_t len);

#endif
