/* Command metadata Redis 7.0 reports beyond the command table rows: the
 * command tips and the key specifications (COMMAND, COMMAND INFO), and key
 * extraction from those specs (COMMAND GETKEYS / GETKEYSANDFLAGS).
 *
 * The data comes from node/command_meta.def, generated from a running Redis
 * 7.0 by tools/gen-command-meta.py for every Redis command, keyed by full
 * name ("get", "config|get"). A command with keys that the file does not
 * know gets one spec derived from its first/last/step. */
#ifndef KR_NODE_COMMAND_META_H
#define KR_NODE_COMMAND_META_H

#include <stdbool.h>
#include <stddef.h>

struct command;

enum keyspec_begin { BS_INDEX, BS_KEYWORD, BS_UNKNOWN };
enum keyspec_find { FK_RANGE, FK_KEYNUM, FK_UNKNOWN };

/* One key specification, with Redis's fields. For FK_RANGE, fk_a/b/c are
 * lastkey, keystep, limit; for FK_KEYNUM, keynumidx, firstkey, keystep. */
struct keyspec {
    const char *fullname;
    const char *notes; /* or NULL */
    const char *flags; /* space separated: "RW access update" */
    enum keyspec_begin begin;
    int begin_pos;          /* BS_INDEX: index; BS_KEYWORD: startfrom */
    const char *begin_word; /* BS_KEYWORD: the keyword */
    enum keyspec_find find;
    int fk_a, fk_b, fk_c;
};

/* The command's tips, space separated ("" if none). Static storage. */
const char *command_meta_tips(const struct command *cmd);

/* The key specs of 'cmd': sets '*specs' to 'count' specs and returns the
 * count. They are static rows, or '*derived' filled from first/last/step. */
size_t command_meta_keyspecs(const struct command *cmd, struct keyspec *derived,
                             const struct keyspec **specs);

/* A key argument found by command_meta_getkeys. */
struct keyref {
    int pos;           /* index into argv */
    const char *flags; /* the flags of the spec that found it */
};

/* Finds the keys of the call 'argv'[0..argc) of 'cmd' as Redis 7.0's
 * getKeysUsingKeySpecs does (specs with unknown begin or find are skipped:
 * keyraft has no per-command key functions). Writes up to 'max' keys into
 * 'out' and returns how many, or -1 when the arguments contradict a spec
 * (a key count out of range). */
int command_meta_getkeys(const struct command *cmd, int argc, char **argv, size_t *argvlen,
                         struct keyref *out, int max);

/* True if some spec of 'cmd' finds keys (not only "not_key" specs). */
bool command_meta_has_keys(const struct command *cmd);

#endif
