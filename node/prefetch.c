/* Cache warming for pipelined reads (see prefetch.h). */
#include "node/prefetch.h"

#include "node/client.h"
#include "node/command.h"
#include "node/config.h"
#include "node/dispatch.h"
#include "node/server.h"
#include "storage/keyspace.h"

#include <stdbool.h>

/* A client whose pipeline held no reads (writes prefetch when they apply)
 * most likely sends more of the same: skip reading ahead for this many of
 * its next pipelines, then look again. */
#define PAUSE_AFTER_NO_READS 16

bool prefetch_key_of(const struct command *cmd, struct keyspace *ks, int argc, char **argv,
                     const size_t *argvlen, struct keyspace_prefetch *key) {
    key->ks = NULL;
    if (ks == NULL || cmd->first_key <= 0 || cmd->first_key >= argc)
        return false;
    key->ks = ks;
    key->key = argv[cmd->first_key];
    key->len = argvlen[cmd->first_key];
    return true;
}

/* One parser for every client: it only ever runs inside this call. */
static struct resp_parser scout;
static bool scout_ready;

size_t prefetch_pipeline(struct client *c) {
    if (c->prefetch_pause > 0) {
        c->prefetch_pause--;
        return c->qlen;
    }
    /* Inline requests are unescaped in place: they can be parsed only once.
     * Unauthenticated clients run nothing that reads keys. */
    if (c->qbuf[c->qstart] != '*' || !dispatch_is_authenticated(c))
        return c->qlen;
    if (!scout_ready) {
        resp_parser_init(&scout, cfg.proto_max_bulk_len);
        scout_ready = true;
    }
    scout.max_bulk_len = cfg.proto_max_bulk_len;
    struct keyspace_prefetch keys[PREFETCH_AHEAD];
    struct keyspace *ks = server_db_if_exists(c->db);
    size_t pos = c->qstart, commands = 0, wanted = 0;
    while (commands < PREFETCH_AHEAD && pos < c->qlen && c->qbuf[pos] == '*') {
        resp_parser_reset(&scout);
        if (resp_parse(&scout, c->qbuf + pos, c->qlen - pos) != RESP_OK)
            break;
        pos += scout.consumed;
        commands++;
        const struct command *cmd = command_lookup(scout.argv[0], scout.argvlen[0]);
        if (cmd != NULL && cmd->subcommands == NULL && !(cmd->flags & CMD_WRITE) &&
            prefetch_key_of(cmd, ks, scout.argc, scout.argv, scout.argvlen, &keys[wanted]))
            wanted++;
    }
    resp_parser_reset(&scout);
    if (commands < 2)
        return c->qlen; /* one command: nothing to overlap its lookup with */
    if (wanted == 0)
        c->prefetch_pause = PAUSE_AFTER_NO_READS;
    keyspace_prefetch(keys, wanted);
    return pos;
}
