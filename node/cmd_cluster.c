/* The CLUSTER command's subcommands, with Redis 7.0's replies and error
 * texts (cluster.c's clusterCommand). They read and change the view owned
 * by node/cluster_mode.c; the rules (epochs, state, descriptions) live in
 * cluster/. Redirection and ASKING/READONLY/READWRITE are in
 * cluster_redirect.c.
 *
 * MEET's handshake, gossip and failure detection are the bus's
 * (cluster_bus.c). REPLICATE and FAILOVER act on the shard's Raft group
 * (cluster_shard.c). */
#include "cluster/nodes.h"
#include "node/client.h"
#include "node/cluster_bus.h"
#include "node/cluster_mode.h"
#include "node/cluster_shard.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/config.h"
#include "node/exec.h"
#include "node/log.h"
#include "node/server.h"
#include "node/shard.h"
#include "raft/group.h"
#include "storage/keyslot.h"
#include "storage/keyspace.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The view, or NULL after replying Redis's error when cluster mode is off. */
static struct cluster_state *view_or_reply(struct exec_ctx *ctx) {
    struct cluster_state *cs = cluster_mode_state();
    if (cs == NULL)
        resp_add_error(ctx->out, "ERR This instance has cluster support disabled");
    return cs;
}

static void reply_unknown_node(struct exec_ctx *ctx, int i) {
    resp_add_errorf(ctx->out, "ERR Unknown node %.*s", (int)ctx->argvlen[i], ctx->argv[i]);
}

static struct cluster_node *node_arg(struct cluster_state *cs, struct exec_ctx *ctx, int i) {
    return cluster_node_lookup(cs, ctx->argv[i], ctx->argvlen[i]);
}

/* Redis's getSlotOrReply: the slot, or -1 after replying. */
static int slot_arg(struct exec_ctx *ctx, int i) {
    long long slot;
    if (!obj_parse_ll(ctx->argv[i], ctx->argvlen[i], &slot) || slot < 0 || slot >= SLOT_COUNT) {
        resp_add_error(ctx->out, "ERR Invalid or out of range slot");
        return -1;
    }
    return (int)slot;
}

static size_t db0_size(void) {
    struct keyspace *ks = server_db_if_exists(0);
    return ks != NULL ? keyspace_size(ks) : 0;
}

/* ---- Introspection ---- */

void cmd_cluster_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "ADDSLOTS <slot> [<slot> ...]",
        "    Assign slots to current node.",
        "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Assign slots which are between <start-slot> and <end-slot> to current node.",
        "BUMPEPOCH",
        "    Advance the cluster config epoch.",
        "COUNT-FAILURE-REPORTS <node-id>",
        "    Return number of failure reports for <node-id>.",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "DELSLOTS <slot> [<slot> ...]",
        "    Delete slots information from current node.",
        "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Delete slots information which are between <start-slot> and <end-slot> from "
        "current node.",
        "FAILOVER [FORCE|TAKEOVER]",
        "    Promote current replica node to being a master.",
        "FORGET <node-id>",
        "    Remove a node from the cluster.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "FLUSHSLOTS",
        "    Delete current node own slots information.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MEET <ip> <port> [<bus-port>]",
        "    Connect nodes into a working cluster.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICATE <node-id>",
        "    Configure current node as replica to <node-id>.",
        "RESET [HARD|SOFT]",
        "    Reset current node (default: soft).",
        "SET-CONFIG-EPOCH <epoch>",
        "    Set config epoch of current node.",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
        "    Set slot state.",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SAVECONFIG",
        "    Force saving cluster configuration on disk.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "LINKS",
        "    Return information about all network links between this node and its peers.",
        "    Output format is an array where each array element is a map containing attributes "
        "of a link",
        NULL,
    };
    if (view_or_reply(ctx) == NULL)
        return;
    exec_reply_help(ctx, lines);
}

void cmd_cluster_info(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    unsigned assigned = 0, ok = 0, pfail = 0, fail = 0;
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
        const struct cluster_node *n = slotmap_owner(&cs->slots, slot);
        if (n == NULL)
            continue;
        assigned++;
        if (n->flags & CNODE_FAIL)
            fail++;
        else if (n->flags & CNODE_PFAIL)
            pfail++;
        else
            ok++;
    }
    char text[2048];
    int len = snprintf(text, sizeof(text),
                       "cluster_state:%s\r\n"
                       "cluster_slots_assigned:%u\r\n"
                       "cluster_slots_ok:%u\r\n"
                       "cluster_slots_pfail:%u\r\n"
                       "cluster_slots_fail:%u\r\n"
                       "cluster_known_nodes:%zu\r\n"
                       "cluster_size:%d\r\n"
                       "cluster_current_epoch:%llu\r\n"
                       "cluster_my_epoch:%llu\r\n",
                       cs->state_ok ? "ok" : "fail", assigned, ok, pfail, fail, cs->node_count,
                       cs->size, (unsigned long long)cs->current_epoch,
                       (unsigned long long)cluster_node_epoch(cs->myself));
    size_t used = (size_t)len < sizeof(text) ? (size_t)len : sizeof(text) - 1;
    used += cluster_bus_info(text + used, sizeof(text) - used);
    used += (size_t)snprintf(text + used, sizeof(text) - used,
                             "total_cluster_links_buffer_limit_exceeded:0\r\n");
    resp_add_verbatim(ctx->out, text, used < sizeof(text) ? used : sizeof(text) - 1, "txt");
}

void cmd_cluster_myid(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs != NULL)
        resp_add_bulk(ctx->out, cs->myself->id, CLUSTER_ID_LEN);
}

/* Redis 7.2's shard id; keyraft's shard is its master's Raft group, named
 * after the master's node id. */
void cmd_cluster_myshardid(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    const struct cluster_node *me = cs->myself;
    const struct cluster_node *primary = (me->flags & CNODE_SLAVE) && me->master ? me->master : me;
    resp_add_bulk(ctx->out, primary->id, CLUSTER_ID_LEN);
}

void cmd_cluster_nodes(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    size_t len;
    char *text = cluster_describe_all_for_clients(cs, 0, &len);
    if (text == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    resp_add_verbatim(ctx->out, text, len, "txt");
    free(text);
}

/* A replica shows in CLUSTER SLOTS unless it failed (Redis also leaves out
 * replicas with replication offset 0; keyraft does not track peers'
 * offsets yet). */
static bool replica_available(const struct cluster_node *n) {
    return !(n->flags & CNODE_FAIL);
}

/* [ip, port, id, metadata]: Redis 7.0's addNodeToNodeReply with the ip as
 * preferred endpoint: the metadata map holds the hostname when one is
 * announced. The address is the one clients are told. */
static void add_slot_node(struct resp_out *out, const struct cluster_node *n) {
    resp_add_array(out, 4);
    resp_add_bulk_cstr(out, cluster_node_client_ip(n));
    resp_add_int(out, cluster_node_client_port(n));
    resp_add_bulk(out, n->id, CLUSTER_ID_LEN);
    if (n->hostname[0] != '\0') {
        resp_add_map(out, 1);
        resp_add_bulk_cstr(out, "hostname");
        resp_add_bulk_cstr(out, n->hostname);
    } else {
        resp_add_map(out, 0);
    }
}

void cmd_cluster_slots(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    size_t entries = resp_begin_deferred(ctx->out);
    long long count = 0;
    struct cluster_node *replicas[64];
    for (size_t i = 0; i < cs->node_count; i++) {
        const struct cluster_node *n = cs->nodes[i];
        if (!(n->flags & CNODE_MASTER) || n->slot_count == 0)
            continue;
        size_t nrep = cluster_node_replicas(cs, n, replicas, 64);
        if (nrep > 64)
            nrep = 64;
        unsigned cursor = 0, start, end;
        while (slotmap_next_range(&cs->slots, n, &cursor, &start, &end)) {
            size_t entry = resp_begin_deferred(ctx->out);
            long long fields = 3;
            resp_add_int(ctx->out, start);
            resp_add_int(ctx->out, end);
            add_slot_node(ctx->out, n);
            for (size_t r = 0; r < nrep; r++) {
                if (!replica_available(replicas[r]))
                    continue;
                add_slot_node(ctx->out, replicas[r]);
                fields++;
            }
            resp_end_deferred(ctx->out, entry, '*', fields);
            count++;
        }
    }
    resp_end_deferred(ctx->out, entries, '*', count);
}

/* Redis 7.0's addNodeDetailsToShardReply (no TLS port), with the address
 * clients are told. */
static void add_shard_node(struct resp_out *out, const struct cluster_node *n) {
    bool has_hostname = n->hostname[0] != '\0';
    resp_add_map(out, has_hostname ? 8 : 7);
    resp_add_bulk_cstr(out, "id");
    resp_add_bulk(out, n->id, CLUSTER_ID_LEN);
    resp_add_bulk_cstr(out, "port");
    resp_add_int(out, cluster_node_client_port(n));
    resp_add_bulk_cstr(out, "ip");
    resp_add_bulk_cstr(out, cluster_node_client_ip(n));
    resp_add_bulk_cstr(out, "endpoint");
    resp_add_bulk_cstr(out, cluster_node_client_ip(n));
    if (has_hostname) {
        resp_add_bulk_cstr(out, "hostname");
        resp_add_bulk_cstr(out, n->hostname);
    }
    resp_add_bulk_cstr(out, "role");
    resp_add_bulk_cstr(out, (n->flags & CNODE_SLAVE) ? "replica" : "master");
    resp_add_bulk_cstr(out, "replication-offset");
    resp_add_int(out, 0);
    resp_add_bulk_cstr(out, "health");
    if (n->flags & CNODE_FAIL)
        resp_add_bulk_cstr(out, "fail");
    else if (n->flags & CNODE_SLAVE)
        resp_add_bulk_cstr(out, "loading"); /* offset 0: nothing replicated yet */
    else
        resp_add_bulk_cstr(out, "online");
}

void cmd_cluster_shards(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    size_t shards = resp_begin_deferred(ctx->out);
    long long count = 0;
    for (size_t i = 0; i < cs->node_count; i++) {
        const struct cluster_node *n = cs->nodes[i];
        if (!(n->flags & CNODE_MASTER))
            continue;
        count++;
        resp_add_map(ctx->out, 2);
        resp_add_bulk_cstr(ctx->out, "slots");
        size_t slots = resp_begin_deferred(ctx->out);
        long long bounds = 0;
        unsigned cursor = 0, start, end;
        while (n->slot_count > 0 && slotmap_next_range(&cs->slots, n, &cursor, &start, &end)) {
            resp_add_int(ctx->out, start);
            resp_add_int(ctx->out, end);
            bounds += 2;
        }
        resp_end_deferred(ctx->out, slots, '*', bounds);
        resp_add_bulk_cstr(ctx->out, "nodes");
        size_t nrep = cluster_node_replicas(cs, n, NULL, 0);
        struct cluster_node **replicas = nrep ? malloc(nrep * sizeof(*replicas)) : NULL;
        if (nrep > 0 && replicas == NULL)
            nrep = 0;
        cluster_node_replicas(cs, n, replicas, nrep);
        resp_add_array(ctx->out, (long long)nrep + 1);
        add_shard_node(ctx->out, n);
        for (size_t r = 0; r < nrep; r++)
            add_shard_node(ctx->out, replicas[r]);
        free(replicas);
    }
    resp_end_deferred(ctx->out, shards, '*', count);
}

void cmd_cluster_links(struct exec_ctx *ctx) {
    if (view_or_reply(ctx) != NULL)
        cluster_bus_links_reply(ctx->out);
}

void cmd_cluster_keyslot(struct exec_ctx *ctx) {
    if (view_or_reply(ctx) != NULL)
        resp_add_int(ctx->out, keyslot_of(ctx->argv[2], ctx->argvlen[2]));
}

void cmd_cluster_countkeysinslot(struct exec_ctx *ctx) {
    if (view_or_reply(ctx) == NULL)
        return;
    long long slot;
    if (!exec_arg_ll(ctx, 2, &slot))
        return;
    if (slot < 0 || slot >= SLOT_COUNT) {
        resp_add_error(ctx->out, "ERR Invalid slot");
        return;
    }
    struct keyspace *ks = server_db_if_exists(0);
    resp_add_int(ctx->out, ks != NULL ? (long long)keyspace_slot_size(ks, (unsigned)slot) : 0);
}

static void add_key_name(struct kv *kv, void *arg) {
    size_t len;
    const char *key = kv_key_of(kv, &len);
    resp_add_bulk(arg, key, len);
}

void cmd_cluster_getkeysinslot(struct exec_ctx *ctx) {
    if (view_or_reply(ctx) == NULL)
        return;
    long long maxkeys, slot;
    if (!exec_arg_ll(ctx, 3, &maxkeys) || !exec_arg_ll(ctx, 2, &slot))
        return;
    if (maxkeys < 0 || slot < 0 || slot >= SLOT_COUNT) {
        resp_add_error(ctx->out, "ERR Invalid slot or number of keys");
        return;
    }
    struct keyspace *ks = server_db_if_exists(0);
    size_t in_slot = ks != NULL ? keyspace_slot_size(ks, (unsigned)slot) : 0;
    size_t count = (unsigned long long)maxkeys < in_slot ? (size_t)maxkeys : in_slot;
    resp_add_array(ctx->out, (long long)count);
    if (count > 0)
        keyspace_slot_each(ks, (unsigned)slot, count, add_key_name, ctx->out);
}

void cmd_cluster_count_failure_reports(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    struct cluster_node *n = node_arg(cs, ctx, 2);
    if (n == NULL) {
        reply_unknown_node(ctx, 2);
        return;
    }
    resp_add_int(ctx->out, cluster_bus_failure_reports(n));
}

void cmd_cluster_replicas(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    const struct cluster_node *n = node_arg(cs, ctx, 2);
    if (n == NULL) {
        reply_unknown_node(ctx, 2);
        return;
    }
    if (n->flags & CNODE_SLAVE) {
        resp_add_error(ctx->out, "ERR The specified node is not a master");
        return;
    }
    size_t count = cluster_node_replicas(cs, n, NULL, 0);
    resp_add_array(ctx->out, (long long)count);
    for (size_t i = 0; i < cs->node_count; i++) {
        const struct cluster_node *r = cs->nodes[i];
        if (r->master != n || !(r->flags & CNODE_SLAVE))
            continue;
        size_t len;
        char *line = cluster_node_describe_for_clients(cs, r, &len);
        if (line == NULL) {
            resp_add_bulk(ctx->out, "", 0);
            continue;
        }
        resp_add_bulk(ctx->out, line, len);
        free(line);
    }
}

void cmd_cluster_slaves(struct exec_ctx *ctx) {
    cmd_cluster_replicas(ctx);
}

/* ---- Slots ---- */

/* Redis's checkSlotAssignmentsOrReply over 'start'..'end': slots must be
 * assigned (deleting) or free (adding), and named once ('seen'). */
static bool check_slots(struct exec_ctx *ctx, struct cluster_state *cs, unsigned char *seen,
                        bool del, int start, int end) {
    for (int slot = start; slot <= end; slot++) {
        bool owned = slotmap_owner(&cs->slots, (unsigned)slot) != NULL;
        if (del && !owned) {
            resp_add_errorf(ctx->out, "ERR Slot %d is already unassigned", slot);
            return false;
        }
        if (!del && owned) {
            resp_add_errorf(ctx->out, "ERR Slot %d is already busy", slot);
            return false;
        }
        if (seen[slot]++ == 1) {
            resp_add_errorf(ctx->out, "ERR Slot %d specified multiple times", slot);
            return false;
        }
    }
    return true;
}

/* Redis's clusterUpdateSlots: assign the 'seen' slots to myself (clearing
 * an importing state: we are the owner now), or unassign them. */
static void update_slots(struct cluster_state *cs, const unsigned char *seen, bool del) {
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
        if (!seen[slot])
            continue;
        slotmap_set_importing(&cs->slots, slot, NULL);
        if (del)
            cluster_slot_unassign(cs, slot);
        else
            cluster_slot_assign(cs, slot, cs->myself);
    }
    cluster_mode_changed_nofsync();
}

static void add_or_del_slots(struct exec_ctx *ctx, bool del) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    for (int i = 2; i < ctx->argc; i++)
        if (slot_arg(ctx, i) < 0)
            return;
    unsigned char *seen = calloc(SLOT_COUNT, 1);
    if (seen == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    bool ok = true;
    for (int i = 2; i < ctx->argc && ok; i++) {
        int slot = slot_arg(ctx, i);
        ok = check_slots(ctx, cs, seen, del, slot, slot);
    }
    if (ok) {
        update_slots(cs, seen, del);
        exec_reply_ok(ctx);
    }
    free(seen);
}

static void add_or_del_slot_ranges(struct exec_ctx *ctx, bool del) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    if (ctx->argc % 2 == 1) {
        resp_add_errorf(ctx->out, "ERR wrong number of arguments for '%s' command",
                        ctx->cmd->fullname);
        return;
    }
    unsigned char *seen = calloc(SLOT_COUNT, 1);
    if (seen == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    bool ok = true;
    for (int i = 2; i < ctx->argc && ok; i += 2) {
        int start = slot_arg(ctx, i);
        int end = start < 0 ? -1 : slot_arg(ctx, i + 1);
        if (start < 0 || end < 0) {
            ok = false;
        } else if (start > end) {
            resp_add_errorf(ctx->out, "ERR start slot number %d is greater than end slot number %d",
                            start, end);
            ok = false;
        } else {
            ok = check_slots(ctx, cs, seen, del, start, end);
        }
    }
    if (ok) {
        update_slots(cs, seen, del);
        exec_reply_ok(ctx);
    }
    free(seen);
}

void cmd_cluster_addslots(struct exec_ctx *ctx) {
    add_or_del_slots(ctx, false);
}

void cmd_cluster_delslots(struct exec_ctx *ctx) {
    add_or_del_slots(ctx, true);
}

void cmd_cluster_addslotsrange(struct exec_ctx *ctx) {
    add_or_del_slot_ranges(ctx, false);
}

void cmd_cluster_delslotsrange(struct exec_ctx *ctx) {
    add_or_del_slot_ranges(ctx, true);
}

void cmd_cluster_flushslots(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    if (db0_size() != 0) {
        resp_add_error(ctx->out, "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
        return;
    }
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++)
        if (slotmap_owner(&cs->slots, slot) == cs->myself)
            cluster_slot_unassign(cs, slot);
    cluster_mode_changed_nofsync();
    exec_reply_ok(ctx);
}

/* CLUSTER SETSLOT <slot> IMPORTING|MIGRATING|NODE <id> | STABLE (Redis 7.0). */
void cmd_cluster_setslot(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    struct cluster_node *me = cs->myself;
    if (me->flags & CNODE_SLAVE) {
        resp_add_error(ctx->out, "ERR Please use SETSLOT only with masters.");
        return;
    }
    int slot = slot_arg(ctx, 2);
    if (slot < 0)
        return;
    unsigned s = (unsigned)slot;
    bool durable = false; /* Redis fsyncs nodes.conf only for a new epoch */
    struct keyspace *ks = server_db_if_exists(0);
    size_t keys_in_slot = ks != NULL ? keyspace_slot_size(ks, s) : 0;
    if (exec_arg_is(ctx, 3, "migrating") && ctx->argc == 5) {
        if (slotmap_owner(&cs->slots, s) != me) {
            resp_add_errorf(ctx->out, "ERR I'm not the owner of hash slot %u", s);
            return;
        }
        struct cluster_node *n = node_arg(cs, ctx, 4);
        if (n == NULL) {
            resp_add_errorf(ctx->out, "ERR I don't know about node %.*s", (int)ctx->argvlen[4],
                            ctx->argv[4]);
            return;
        }
        if (n->flags & CNODE_SLAVE) {
            resp_add_error(ctx->out, "ERR Target node is not a master");
            return;
        }
        slotmap_set_migrating(&cs->slots, s, n);
    } else if (exec_arg_is(ctx, 3, "importing") && ctx->argc == 5) {
        if (slotmap_owner(&cs->slots, s) == me) {
            resp_add_errorf(ctx->out, "ERR I'm already the owner of hash slot %u", s);
            return;
        }
        struct cluster_node *n = node_arg(cs, ctx, 4);
        if (n == NULL) {
            resp_add_errorf(ctx->out, "ERR I don't know about node %.*s", (int)ctx->argvlen[4],
                            ctx->argv[4]);
            return;
        }
        if (n->flags & CNODE_SLAVE) {
            resp_add_error(ctx->out, "ERR Target node is not a master");
            return;
        }
        slotmap_set_importing(&cs->slots, s, n);
    } else if (exec_arg_is(ctx, 3, "stable") && ctx->argc == 4) {
        slotmap_set_importing(&cs->slots, s, NULL);
        slotmap_set_migrating(&cs->slots, s, NULL);
    } else if (exec_arg_is(ctx, 3, "node") && ctx->argc == 5) {
        struct cluster_node *n = node_arg(cs, ctx, 4);
        if (n == NULL) {
            reply_unknown_node(ctx, 4);
            return;
        }
        if (n->flags & CNODE_SLAVE) {
            resp_add_error(ctx->out, "ERR Target node is not a master");
            return;
        }
        bool was_mine = slotmap_owner(&cs->slots, s) == me;
        if (was_mine && n != me && keys_in_slot != 0) {
            resp_add_errorf(ctx->out,
                            "ERR Can't assign hashslot %d to a different node while I still hold "
                            "keys for this hash slot.",
                            slot);
            return;
        }
        /* No keys left: handing the slot over closes its migration. */
        if (keys_in_slot == 0)
            slotmap_set_migrating(&cs->slots, s, NULL);
        cluster_slot_assign(cs, s, n);
        /* Taking over an imported slot: bump the epoch so the new owner wins
         * (Redis 7.0: clusterBumpConfigEpochWithoutConsensus). */
        if (n == me && cs->slots.importing_from[s] != NULL) {
            if (cluster_bump_epoch(cs)) {
                log_warning("configEpoch updated after importing slot %d", slot);
                durable = true;
            }
            slotmap_set_importing(&cs->slots, s, NULL);
        }
        /* A master left without slots follows the node that took them
         * (cluster-allow-replica-migration yes), with its replicas: it joins
         * that node's Raft group at once (cluster_shard.c; the replicas
         * follow when they see it a replica of a node outside their group). */
        if (was_mine && n != me && me->slot_count == 0) {
            log_warning("Configuration change detected. Reconfiguring myself as a replica of %s",
                        n->id);
            cluster_shard_replicate(n);
            durable = true;
        }
    } else {
        resp_add_error(
            ctx->out,
            "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
        return;
    }
    if (durable)
        cluster_mode_changed();
    else
        cluster_mode_changed_nofsync();
    exec_reply_ok(ctx);
}

/* ---- Epochs ---- */

void cmd_cluster_bumpepoch(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    bool bumped = cluster_bump_epoch(cs);
    if (bumped)
        cluster_mode_changed();
    char status[64];
    snprintf(status, sizeof(status), "%s %llu", bumped ? "BUMPED" : "STILL",
             (unsigned long long)cs->myself->config_epoch);
    resp_add_status(ctx->out, status);
}

void cmd_cluster_set_config_epoch(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    long long epoch;
    if (!exec_arg_ll(ctx, 2, &epoch))
        return;
    if (epoch < 0) {
        resp_add_errorf(ctx->out, "ERR Invalid config epoch specified: %lld", epoch);
    } else if (cs->node_count > 1) {
        resp_add_error(ctx->out, "ERR The user can assign a config epoch only when the node does "
                                 "not know any other node.");
    } else if (cs->myself->config_epoch != 0) {
        resp_add_error(ctx->out, "ERR Node config epoch is already non-zero");
    } else {
        cs->myself->config_epoch = (uint64_t)epoch;
        log_warning("configEpoch set to %llu via CLUSTER SET-CONFIG-EPOCH",
                    (unsigned long long)epoch);
        if (cs->current_epoch < (uint64_t)epoch)
            cs->current_epoch = (uint64_t)epoch;
        cluster_mode_changed();
        exec_reply_ok(ctx);
    }
}

/* ---- Membership ---- */

/* CLUSTER MEET <ip> <port> [<bus-port>]: Redis 7.0's clusterStartHandshake
 * checks. The node is recorded in handshake state with the MEET flag; the
 * bus connects to it, sends the MEET and completes the handshake when the
 * PONG names the node (cluster_bus.c). */
void cmd_cluster_meet(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    if (ctx->argc > 5) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    long long port, cport;
    if (!obj_parse_ll(ctx->argv[3], ctx->argvlen[3], &port)) {
        resp_add_errorf(ctx->out, "ERR Invalid TCP base port specified: %.*s", (int)ctx->argvlen[3],
                        ctx->argv[3]);
        return;
    }
    if (ctx->argc == 5) {
        if (!obj_parse_ll(ctx->argv[4], ctx->argvlen[4], &cport)) {
            resp_add_errorf(ctx->out, "ERR Invalid TCP bus port specified: %.*s",
                            (int)ctx->argvlen[4], ctx->argv[4]);
            return;
        }
    } else {
        cport = port + CLUSTER_PORT_INCR;
    }
    char ip[CLUSTER_IP_LEN];
    unsigned char addr[16];
    bool valid = ctx->argvlen[2] < sizeof(ip);
    if (valid) {
        char raw[CLUSTER_IP_LEN];
        memcpy(raw, ctx->argv[2], ctx->argvlen[2]);
        raw[ctx->argvlen[2]] = '\0';
        if (inet_pton(AF_INET, raw, addr) == 1)
            valid = inet_ntop(AF_INET, addr, ip, sizeof(ip)) != NULL;
        else if (inet_pton(AF_INET6, raw, addr) == 1)
            valid = inet_ntop(AF_INET6, addr, ip, sizeof(ip)) != NULL;
        else
            valid = false;
    }
    if (!valid || port <= 0 || port > 65535 || cport <= 0 || cport > 65535) {
        resp_add_errorf(ctx->out, "ERR Invalid node address specified: %.*s:%.*s",
                        (int)ctx->argvlen[2], ctx->argv[2], (int)ctx->argvlen[3], ctx->argv[3]);
        return;
    }
    /* A handshake already in progress with that address: nothing to add. */
    for (size_t i = 0; i < cs->node_count; i++) {
        const struct cluster_node *n = cs->nodes[i];
        if ((n->flags & CNODE_HANDSHAKE) && strcasecmp(n->ip, ip) == 0 && n->port == port &&
            n->cport == cport) {
            exec_reply_ok(ctx);
            return;
        }
    }
    char id[CLUSTER_ID_LEN + 1];
    cluster_mode_random_id(id);
    struct cluster_node *n =
        cluster_node_add(cs, id, CNODE_HANDSHAKE | CNODE_MEET, server_now_ms());
    if (n == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    snprintf(n->ip, sizeof(n->ip), "%s", ip);
    n->port = (int)port;
    n->cport = (int)cport;
    cluster_mode_changed();
    exec_reply_ok(ctx);
}

#define REMOVE_RETRY_MS    100
#define REMOVE_MAX_RETRIES 600 /* a promotion under way may take a while to give up */
#define REMOVE_MAX_PENDING 16
#define REMOVE_MAX_HOLD    100 /* retries (10 s) a FORGET's reply waits at most */

/* Forgotten nodes to take out of this node's Raft group; retried while
 * another membership change is under way (a replica being promoted: when
 * the node was deleted right after joining, libraft gives the promotion up
 * only after some election timeouts). Owned statically, like the timer, so
 * a shutdown leaves nothing behind. */
static struct {
    uv_timer_t timer;
    bool timer_ready;
    struct {
        uint64_t member_id;
        char node_id[CLUSTER_ID_LEN + 1];
        int tries;
        uint64_t client_id; /* whose FORGET waits for the removal, 0: none */
    } items[REMOVE_MAX_PENDING];
    size_t count;
} removals;

static bool in_my_group(struct group *g, uint64_t member_id) {
    struct group_member_info m[64];
    size_t count = group_members(g, m, 64);
    for (size_t i = 0; i < count && i < 64; i++)
        if (m[i].id == member_id)
            return true;
    return false;
}

/* Sends the +OK of a FORGET that waited for its Raft removal. */
static void release_forget(uint64_t client_id) {
    for (struct client *c = server.clients; c != NULL && client_id != 0; c = c->next) {
        if (c->id != client_id)
            continue;
        resp_add_raw(&c->out, "+OK\r\n", 5);
        c->flags &= ~(uint32_t)CLIENT_BLOCKED;
        client_schedule_write(c);
        client_process_input(c);
        return;
    }
}

static void on_removed(void *arg, int status) {
    (void)status; /* the node is forgotten either way; a failure was a lost leadership */
    release_forget((uint64_t)(uintptr_t)arg);
}

/* One attempt at every pending removal; the timer comes back while some
 * remain. Nothing is removed once this node no longer leads. */
static void try_removals(uv_timer_t *t) {
    (void)t;
    struct group *g = shard_group();
    size_t kept = 0;
    for (size_t i = 0; i < removals.count; i++) {
        uint64_t client_id = removals.items[i].client_id;
        if (g == NULL || !group_is_leader(g) || !in_my_group(g, removals.items[i].member_id)) {
            release_forget(client_id);
            continue;
        }
        int rc = group_remove_member(g, removals.items[i].member_id, on_removed,
                                     (void *)(uintptr_t)client_id);
        if (rc == GROUP_OK) {
            log_notice("Removing forgotten node %.40s from my Raft group",
                       removals.items[i].node_id);
        } else if (++removals.items[i].tries < REMOVE_MAX_RETRIES) {
            if (removals.items[i].tries >= REMOVE_MAX_HOLD) {
                release_forget(client_id);
                removals.items[i].client_id = 0;
            }
            removals.items[kept++] = removals.items[i];
        } else {
            release_forget(client_id);
            log_warning("Could not remove forgotten node %.40s from my Raft group: %s",
                        removals.items[i].node_id, group_strerror(rc));
        }
    }
    removals.count = kept;
    if (kept > 0)
        uv_timer_start(&removals.timer, try_removals, REMOVE_RETRY_MS, 0);
}

/* A node forgotten on the leader of its shard (redis-cli del-node sends
 * FORGET to every other node) leaves the shard's Raft group too, or the
 * group would keep counting its vote and might lose its majority. Nothing
 * on a follower or for a node outside the group.
 *
 * The FORGET's reply waits (up to 10 s) until the removal is committed:
 * del-node resets the node right after, and a node that restarts as a
 * group of one while its old leader still replicates to it would take that
 * leader's messages for its own group's. Returns true when the reply is
 * deferred (the client is blocked). */
static bool leave_my_group(struct exec_ctx *ctx, const struct cluster_node *n) {
    struct group *g = shard_group();
    uint64_t member_id = shard_node_member_id(n->id);
    if (g == NULL || !group_is_leader(g) || !in_my_group(g, member_id))
        return false;
    if (!removals.timer_ready) {
        uv_timer_init(server.loop, &removals.timer);
        uv_unref((uv_handle_t *)&removals.timer); /* never keeps the loop alive alone */
        removals.timer_ready = true;
    }
    if (removals.count == REMOVE_MAX_PENDING) {
        log_warning("Could not remove forgotten node %.40s from my Raft group: too many pending",
                    n->id);
        return false;
    }
    /* Only a plain command can wait (not one inside MULTI/EXEC or a script). */
    struct client *c = ctx->client;
    bool hold = c != NULL && ctx->out == &c->out && !(c->flags & CLIENT_MULTI);
    removals.items[removals.count].member_id = member_id;
    memcpy(removals.items[removals.count].node_id, n->id, CLUSTER_ID_LEN + 1);
    removals.items[removals.count].tries = 0;
    removals.items[removals.count].client_id = hold ? c->id : 0;
    removals.count++;
    if (hold)
        c->flags |= CLIENT_BLOCKED;
    try_removals(NULL);
    return hold;
}

void cmd_cluster_forget(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    struct cluster_node *n = node_arg(cs, ctx, 2);
    if (n == NULL) {
        reply_unknown_node(ctx, 2);
    } else if (n == cs->myself) {
        resp_add_error(ctx->out, "ERR I tried hard but I can't forget myself...");
    } else if ((cs->myself->flags & CNODE_SLAVE) && cs->myself->master == n) {
        resp_add_error(ctx->out, "ERR Can't forget my master!");
    } else {
        bool deferred = leave_my_group(ctx, n);
        cluster_bus_forget(n);
        cluster_mode_changed_nofsync();
        if (!deferred)
            exec_reply_ok(ctx);
    }
}

/* CLUSTER REPLICATE <id>: Redis 7.0's checks, then myself is the node's
 * replica in the view at once and joins its Raft group (cluster_shard.c). */
void cmd_cluster_replicate(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    struct cluster_node *n = node_arg(cs, ctx, 2);
    struct cluster_node *me = cs->myself;
    if (n == NULL) {
        reply_unknown_node(ctx, 2);
    } else if (n == me) {
        resp_add_error(ctx->out, "ERR Can't replicate myself");
    } else if (n->flags & CNODE_SLAVE) {
        resp_add_error(ctx->out, "ERR I can only replicate a master, not a replica.");
    } else if ((me->flags & CNODE_MASTER) && (me->slot_count != 0 || db0_size() != 0)) {
        resp_add_error(ctx->out,
                       "ERR To set a master the node must be empty and without assigned slots.");
    } else {
        cluster_shard_replicate(n);
        exec_reply_ok(ctx);
    }
}

void cmd_cluster_failover(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    if (ctx->argc > 3) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    bool force = false;
    if (ctx->argc == 3) {
        if (exec_arg_is(ctx, 2, "force") || exec_arg_is(ctx, 2, "takeover")) {
            force = true;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    const struct cluster_node *me = cs->myself;
    if (me->flags & CNODE_MASTER) {
        resp_add_error(ctx->out, "ERR You should send CLUSTER FAILOVER to a replica");
    } else if (me->master == NULL) {
        resp_add_error(ctx->out, "ERR I'm a replica but my master is unknown to me");
    } else if (!force && ((me->master->flags & CNODE_FAIL) ||
                          (!me->master->link_connected && !cluster_shard_led_by(me->master)))) {
        /* The replication link of a shard is its Raft group: a master that
         * leads it is reachable, whatever the bus link says. */
        resp_add_error(ctx->out, "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE");
    } else {
        /* A Raft leadership transfer to this member (cluster_shard.c). */
        cluster_shard_failover();
        exec_reply_ok(ctx);
    }
}

void cmd_cluster_reset(struct exec_ctx *ctx) {
    struct cluster_state *cs = view_or_reply(ctx);
    if (cs == NULL)
        return;
    if (ctx->argc > 3) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    bool hard = false;
    if (ctx->argc == 3) {
        if (exec_arg_is(ctx, 2, "hard")) {
            hard = true;
        } else if (!exec_arg_is(ctx, 2, "soft")) {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    if ((cs->myself->flags & CNODE_MASTER) && ks != NULL && keyspace_size(ks) != 0) {
        resp_add_error(ctx->out, "ERR CLUSTER RESET can't be called with master nodes containing "
                                 "keys");
        return;
    }
    cluster_reset(cs, hard);
    if (hard) {
        log_warning("configEpoch set to 0 via CLUSTER RESET HARD");
        char id[CLUSTER_ID_LEN + 1];
        cluster_mode_random_id(id);
        cluster_node_rename_myself(cs, id);
        log_notice("Node hard reset, now I'm %s", id);
    }
    cluster_mode_changed();
    /* The node leaves its shard: a new Raft group of one, under the member
     * id of its (possibly new) node id. A master has no keys by now; a
     * replica's data goes, as in Redis. */
    cluster_shard_reset();
    if (shard_start_alone() != 0) {
        resp_add_error(ctx->out, "ERR can't reset the node's Raft log (see the server log)");
        return;
    }
    exec_reply_ok(ctx);
}

void cmd_cluster_saveconfig(struct exec_ctx *ctx) {
    if (view_or_reply(ctx) == NULL)
        return;
    char err[512];
    if (cluster_mode_save(err, sizeof(err)) != 0) {
        resp_add_errorf(ctx->out, "ERR error saving the cluster node config: %s", err);
        return;
    }
    exec_reply_ok(ctx);
}
