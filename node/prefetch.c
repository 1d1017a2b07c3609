/* Cache warming for pipelined reads (see prefetch.h). */
#include "node/prefetch.h"

#include "node/client.h"
#include "node/command.h"
#include "node/config.h"
#include "node/dispatch.h"
#include "node/server.h"
#include "storage/keyspace.h"

#include <stdbool.h>

/* As far ahead as the apply path reads (node/propose.c): enough misses in
 * flight to fill the core's line-fill buffers. */
#define READ_AHEAD 16

/* A client whose pipeline held no reads (writes prefetch when they apply)
 * most likely sends more of the same: skip reading ahead for this many of
 * its next pipelines, then look again. */
#define PAUSE_AFTER_NO_READS 16

/* One parser for every client: it only ever runs inside this call. */
static struct resp_parser scout;
static bool scout_ready;

size_t prefetch_pipeline(struct client *c) {
    /* Inline requests are unescaped in place: they can be parsed only once.
     * Unauthenticated clients run nothing that reads keys. */
    if (c->prefetch_pause > 0) {
        c->prefetch_pause--;
        return c->qlen;
    }
    if (c->qbuf[c->qstart] != '*' || !dispatch_is_authenticated(c))
        return c->qlen;
    if (!scout_ready) {
        resp_parser_init(&scout, cfg.proto_max_bulk_len);
        scout_ready = true;
    }
    scout.max_bulk_len = cfg.proto_max_bulk_len;
    struct keyspace_prefetch keys[READ_AHEAD];
    struct keyspace *ks = server_db_if_exists(c->db);
    size_t pos = c->qstart, commands = 0, wanted = 0;
    while (commands < READ_AHEAD && pos < c->qlen && c->qbuf[pos] == '*') {
        resp_parser_reset(&scout);
        if (resp_parse(&scout, c->qbuf + pos, c->qlen - pos) != RESP_OK)
            break;
        pos += scout.consumed;
        commands++;
        const struct command *cmd = command_lookup(scout.argv[0], scout.argvlen[0]);
        if (ks == NULL || cmd == NULL || cmd->subcommands != NULL || (cmd->flags & CMD_WRITE) ||
            cmd->first_key <= 0 || cmd->first_key >= scout.argc)
            continue;
        keys[wanted++] = (struct keyspace_prefetch){
            .ks = ks,
            .key = scout.argv[cmd->first_key],
            .len = scout.argvlen[cmd->first_key],
        };
    }
    resp_parser_reset(&scout);
    if (commands < 2)
        return c->qlen; /* one command: nothing to overlap its lookup with */
    if (wanted == 0)
        c->prefetch_pause = PAUSE_AFTER_NO_READS;
    keyspace_prefetch(keys, wanted);
    return pos;
}
