/* Command tips and key specs (see command_meta.h): lookups in the generated
 * node/command_meta.def and key extraction from specs. The command table
 * itself (names, arity, flags) is command.c's. */
#include "node/command_meta.h"

#include "node/command.h"
#include "storage/object.h"

#include <string.h>
#include <strings.h>

struct tips_row {
    const char *fullname;
    const char *tips;
};

#define TIPS(full, tips) {full, tips},
#define KEYSPEC(...)
static const struct tips_row tips_rows[] = {
#include "node/command_meta.def"
};
#undef TIPS
#undef KEYSPEC

#define TIPS(full, tips)
#define KEYSPEC(full, notes, flags, bs, bs_pos, bs_word, fk, a, b, c)                              \
    {full, notes, flags, bs, bs_pos, bs_word, fk, a, b, c},
static const struct keyspec keyspec_rows[] = {
#include "node/command_meta.def"
};
#undef TIPS
#undef KEYSPEC

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Index of the first row whose fullname is >= 'name' (rows are sorted). */
static size_t lower_bound(const void *rows, size_t count, size_t row_size, const char *name) {
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *at = *(const char *const *)((const char *)rows + mid * row_size);
        if (strcmp(at, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const char *command_meta_tips(const struct command *cmd) {
    size_t i = lower_bound(tips_rows, COUNT_OF(tips_rows), sizeof(tips_rows[0]), cmd->fullname);
    if (i < COUNT_OF(tips_rows) && strcmp(tips_rows[i].fullname, cmd->fullname) == 0)
        return tips_rows[i].tips;
    return "";
}

size_t command_meta_keyspecs(const struct command *cmd, struct keyspec *derived,
                             const struct keyspec **specs) {
    size_t first =
        lower_bound(keyspec_rows, COUNT_OF(keyspec_rows), sizeof(keyspec_rows[0]), cmd->fullname);
    size_t end = first;
    while (end < COUNT_OF(keyspec_rows) && strcmp(keyspec_rows[end].fullname, cmd->fullname) == 0)
        end++;
    if (end > first) {
        *specs = &keyspec_rows[first];
        return end - first;
    }
    *specs = NULL;
    if (cmd->first_key <= 0)
        return 0;
    /* Redis's legacy range spec: lastkey is relative to the first key when
     * it is not counted from the end. */
    *derived = (struct keyspec){
        .fullname = cmd->fullname,
        .flags = (cmd->flags & CMD_WRITE) ? "RW update" : "RO access",
        .begin = BS_INDEX,
        .begin_pos = cmd->first_key,
        .find = FK_RANGE,
        .fk_a = cmd->last_key < 0 ? cmd->last_key : cmd->last_key - cmd->first_key,
        .fk_b = cmd->key_step,
    };
    *specs = derived;
    return 1;
}

bool command_meta_has_keys(const struct command *cmd) {
    struct keyspec derived;
    const struct keyspec *specs;
    size_t n = command_meta_keyspecs(cmd, &derived, &specs);
    for (size_t i = 0; i < n; i++)
        if (strstr(specs[i].flags, "not_key") == NULL)
            return true;
    return false;
}

/* Where the keys of 'spec' start in 'argv', or 0 if its keyword is absent. */
static int begin_of(const struct keyspec *spec, int argc, char **argv, size_t *argvlen) {
    if (spec->begin == BS_INDEX)
        return spec->begin_pos;
    /* BS_KEYWORD: search forwards from startfrom, or backwards from the end. */
    int start = spec->begin_pos > 0 ? spec->begin_pos : argc + spec->begin_pos;
    int stop = spec->begin_pos > 0 ? argc - 1 : 1;
    size_t wordlen = strlen(spec->begin_word);
    for (int i = start; i != stop; i = start <= stop ? i + 1 : i - 1) {
        if (i >= argc || i < 1)
            break;
        if (argvlen[i] == wordlen && strncasecmp(argv[i], spec->begin_word, wordlen) == 0)
            return i + 1;
    }
    return 0;
}

/* Redis 7.0 migrateGetKeys: the key argument, or every argument after KEYS
 * (skipping the values of AUTH and AUTH2, which may spell "keys"). */
static int migrate_getkeys(int argc, char **argv, const size_t *argvlen, const char *flags,
                           struct keyref *out, int max) {
    int first = 3, num = 1;
    for (int i = 6; i < argc; i++) {
        if (argvlen[i] == 4 && strncasecmp(argv[i], "keys", 4) == 0) {
            if (argvlen[3] > 0)
                return 0; /* Redis logs "Cannot use MIGRATE KEYS option ..." */
            first = i + 1;
            num = argc - first;
            break;
        }
        if (argvlen[i] == 4 && strncasecmp(argv[i], "auth", 4) == 0)
            i += 1;
        else if (argvlen[i] == 5 && strncasecmp(argv[i], "auth2", 5) == 0)
            i += 2;
    }
    int found = 0;
    for (int i = 0; i < num && found < max; i++)
        out[found++] = (struct keyref){.pos = first + i, .flags = flags};
    return found;
}

int command_meta_getkeys(const struct command *cmd, int argc, char **argv, size_t *argvlen,
                         struct keyref *out, int max) {
    struct keyspec derived;
    const struct keyspec *specs;
    size_t nspecs = command_meta_keyspecs(cmd, &derived, &specs);
    int found = 0;
    for (size_t s = 0; s < nspecs; s++) {
        const struct keyspec *spec = &specs[s];
        /* Redis 7.0 cannot trust an "incomplete" spec and asks the
         * command's key function instead; MIGRATE is the only one. */
        if (strstr(spec->flags, "incomplete") != NULL && strcmp(cmd->fullname, "migrate") == 0)
            return migrate_getkeys(argc, argv, argvlen, specs[0].flags, out, max);
        if (strstr(spec->flags, "not_key") != NULL || spec->begin == BS_UNKNOWN ||
            spec->find == FK_UNKNOWN)
            continue;
        int first = begin_of(spec, argc, argv, argvlen);
        if (first == 0)
            continue;
        int last, step;
        if (spec->find == FK_RANGE) {
            step = spec->fk_b;
            if (spec->fk_a >= 0)
                last = first + spec->fk_a;
            else if (spec->fk_c == 0)
                last = argc + spec->fk_a;
            else
                last = first + ((argc - first) / spec->fk_c + spec->fk_a);
        } else {
            long long numkeys;
            int at = first + spec->fk_a;
            if (at >= argc || !obj_parse_ll(argv[at], argvlen[at], &numkeys) || numkeys < 0 ||
                numkeys > argc)
                return -1;
            first += spec->fk_b;
            last = first + (int)numkeys - 1;
            step = spec->fk_c;
        }
        /* Redis 7.0: first or last out of bounds is a syntax error. */
        if (last >= argc || last < first || first >= argc || step <= 0)
            return -1;
        for (int i = first; i <= last && found < max; i += step)
            out[found++] = (struct keyref){.pos = i, .flags = spec->flags};
    }
    return found;
}
