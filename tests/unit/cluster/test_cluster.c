/* cluster/: slot ranges, the node table's epoch and state rules, node
 * descriptions, and nodes.conf round trips and rejection of corrupt files. */
#include "cluster/nodes.h"
#include "cluster/nodesconf.h"
#include "cluster/redirect.h"
#include "cluster/slotmap.h"
#include "tests/unit/lib/test.h"

#include <stdlib.h>
#include <unistd.h>

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

TEST(slot_ranges_merge_and_format) {
    struct cluster_state *cs = cluster_state_new(ID_A, 0);
    CHECK(cs != NULL);
    for (unsigned s = 0; s <= 5460; s++)
        cluster_slot_assign(cs, s, cs->myself);
    cluster_slot_assign(cs, 7000, cs->myself);
    cluster_slot_assign(cs, 16383, cs->myself);
    CHECK_EQ_INT(cs->myself->slot_count, 5463);
    CHECK_EQ_INT(cs->slots.assigned, 5463);
    size_t len;
    char *line = cluster_node_describe(cs, cs->myself, &len);
    CHECK(line != NULL);
    CHECK(strcmp(line, ID_A " :0@0 myself,master - 0 0 0 connected 0-5460 7000 16383") == 0);
    free(line);
    cluster_slot_unassign(cs, 7000);
    CHECK_EQ_INT(cs->myself->slot_count, 5462);
    cluster_state_free(cs);
}

TEST(bump_epoch_like_redis) {
    struct cluster_state *cs = cluster_state_new(ID_A, 0);
    CHECK(cs != NULL);
    CHECK(cluster_bump_epoch(cs));
    CHECK_EQ_INT(cs->myself->config_epoch, 1);
    CHECK(!cluster_bump_epoch(cs));
    struct cluster_node *b = cluster_node_add(cs, ID_B, CNODE_MASTER, 0);
    CHECK(b != NULL);
    b->config_epoch = 5;
    CHECK(cluster_bump_epoch(cs));
    CHECK_EQ_INT(cs->myself->config_epoch, 2); /* currentEpoch + 1, as Redis 7.0 */
    cluster_state_free(cs);
}

TEST(state_waits_for_writable_and_rejoin_delays) {
    struct cluster_state *cs = cluster_state_new(ID_A, 1000);
    CHECK(cs != NULL);
    cluster_update_state(cs, 1500, true, 15000);
    CHECK(!cs->state_ok);
    cluster_update_state(cs, 3500, true, 15000); /* minority: no slots served */
    CHECK(!cs->state_ok);
    for (unsigned s = 0; s < SLOT_COUNT; s++)
        cluster_slot_assign(cs, s, cs->myself);
    cluster_state_changed(cs, 4000);
    cluster_update_state(cs, 4001, true, 15000);
    CHECK(!cs->state_ok); /* rejoin delay: 5 s after leaving the minority */
    cluster_update_state(cs, 8999, true, 15000);
    CHECK(!cs->state_ok);
    cluster_update_state(cs, 9000, true, 15000);
    CHECK(cs->state_ok);
    CHECK_EQ_INT(cs->size, 1);
    cluster_slot_unassign(cs, 5);
    cluster_state_changed(cs, 9100);
    cluster_update_state(cs, 9100, true, 15000);
    CHECK(!cs->state_ok);
    cluster_update_state(cs, 9100, false, 15000);
    CHECK(cs->state_ok);
    cluster_state_free(cs);
}

static bool never_exists(const char *key, size_t len, void *arg) {
    (void)key, (void)len, (void)arg;
    return false;
}

TEST(redirect_decisions) {
    struct cluster_state *cs = cluster_state_new(ID_A, 0);
    CHECK(cs != NULL);
    struct cluster_node *b = cluster_node_add(cs, ID_B, CNODE_MASTER, 0);
    strcpy(b->ip, "127.0.0.1");
    b->port = 7001;
    for (unsigned s = 0; s < SLOT_COUNT; s++)
        cluster_slot_assign(cs, s, s < 8192 ? cs->myself : b);
    cs->state_ok = true;
    struct redirect_query q;
    char msg[128];
    redirect_query_init(&q, cs, never_exists, NULL);
    CHECK(redirect_add_key(&q, "foo", 3)); /* slot 12182 */
    struct redirect_result r = redirect_decide(&q, 0);
    CHECK_EQ_INT(r.kind, REDIRECT_MOVED);
    redirect_format(&r, msg, sizeof(msg));
    CHECK(strcmp(msg, "MOVED 12182 127.0.0.1:7001") == 0);
    redirect_query_init(&q, cs, never_exists, NULL);
    CHECK(redirect_add_key(&q, "a", 1));
    CHECK(!redirect_add_key(&q, "foo", 3));
    CHECK_EQ_INT(redirect_decide(&q, 0).kind, REDIRECT_CROSSSLOT);
    /* migrating slot 15495 ("a") away: a missing key is ASKed, several TRYAGAIN */
    cluster_slot_assign(cs, 15495, cs->myself);
    slotmap_set_migrating(&cs->slots, 15495, b);
    redirect_query_init(&q, cs, never_exists, NULL);
    CHECK(redirect_add_key(&q, "a", 1));
    CHECK_EQ_INT(redirect_decide(&q, 0).kind, REDIRECT_ASK);
    CHECK(redirect_add_key(&q, "{a}x", 4));
    CHECK_EQ_INT(redirect_decide(&q, 0).kind, REDIRECT_TRYAGAIN);
    /* importing: MOVED without ASKING, served with it */
    slotmap_set_migrating(&cs->slots, 15495, NULL);
    cluster_slot_assign(cs, 15495, b);
    slotmap_set_importing(&cs->slots, 15495, b);
    redirect_query_init(&q, cs, never_exists, NULL);
    CHECK(redirect_add_key(&q, "a", 1));
    CHECK_EQ_INT(redirect_decide(&q, 0).kind, REDIRECT_MOVED);
    CHECK_EQ_INT(redirect_decide(&q, REDIRECT_F_ASKING).kind, REDIRECT_NONE);
    cs->state_ok = false;
    CHECK_EQ_INT(redirect_decide(&q, 0).kind, REDIRECT_DOWN_STATE);
    cluster_slot_unassign(cs, 0);
    redirect_query_init(&q, cs, never_exists, NULL);
    CHECK(!redirect_add_key(&q, "{06S}", 5)); /* slot 0 */
    CHECK_EQ_INT(redirect_decide(&q, 0).kind, REDIRECT_DOWN_UNBOUND);
    cluster_state_free(cs);
}

TEST(nodesconf_round_trip) {
    struct cluster_state *cs = cluster_state_new(ID_A, 0);
    CHECK(cs != NULL);
    strcpy(cs->myself->ip, "127.0.0.1");
    cs->myself->port = 7000;
    cs->myself->cport = 17000;
    struct cluster_node *b = cluster_node_add(cs, ID_B, CNODE_MASTER, 0);
    strcpy(b->ip, "10.0.0.2");
    b->port = 7001;
    b->cport = 17001;
    b->config_epoch = 3;
    cs->current_epoch = 3;
    for (unsigned s = 0; s < 100; s++)
        cluster_slot_assign(cs, s, s % 2 ? b : cs->myself);
    slotmap_set_migrating(&cs->slots, 2, b);
    char path[] = "/tmp/kr-nodesconf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    char err[256];
    CHECK_EQ_INT(nodesconf_save(cs, path, err, sizeof(err)), 0);
    struct cluster_state *back = NULL;
    CHECK_EQ_INT(nodesconf_load(path, 5, &back, err, sizeof(err)), 0);
    unlink(path);
    size_t a_len, b_len;
    char *before = cluster_describe_all(cs, 0, &a_len);
    char *after = cluster_describe_all(back, 0, &b_len);
    CHECK(before != NULL && after != NULL);
    CHECK(strcmp(before, after) == 0);
    CHECK_EQ_INT(back->current_epoch, 3);
    CHECK(strcmp(back->myself->id, ID_A) == 0);
    free(before);
    free(after);
    cluster_state_free(back);
    cluster_state_free(cs);
}

/* nodesconf_write without fsync (SETSLOT's save) writes the same file
 * through the same rename: nothing of the temporary file is left. */
TEST(nodesconf_write_without_fsync) {
    struct cluster_state *cs = cluster_state_new(ID_A, 0);
    CHECK(cs != NULL);
    for (unsigned s = 100; s < 200; s++)
        cluster_slot_assign(cs, s, cs->myself);
    cs->myself->config_epoch = 7;
    cs->current_epoch = 9;
    char path[] = "/tmp/kr-nodesconf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    char err[256];
    CHECK_EQ_INT(nodesconf_write(cs, path, false, err, sizeof(err)), 0);
    char tmp[sizeof(path) + 32];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
    CHECK(access(tmp, F_OK) != 0);
    struct cluster_state *back = NULL;
    CHECK_EQ_INT(nodesconf_load(path, 5, &back, err, sizeof(err)), 0);
    unlink(path);
    size_t a_len, b_len;
    char *before = cluster_describe_all(cs, 0, &a_len);
    char *after = cluster_describe_all(back, 0, &b_len);
    CHECK(before != NULL && after != NULL);
    CHECK(strcmp(before, after) == 0);
    CHECK_EQ_INT(back->current_epoch, 9);
    free(before);
    free(after);
    cluster_state_free(back);
    cluster_state_free(cs);
}

TEST(nodesconf_rejects_corrupt_files) {
    static const char *bad[] = {
        "",
        "garbage\n",
        ID_A " :0@0 master - 0 0 0 connected\n", /* no myself */
        ID_A " :0@0 myself,master - 0 0 0 connected 0-99999\n",
        ID_A " :0@0 myself,master - 0 0 0 connected 9-3\n",
        ID_A " :0@0 myself,bogus - 0 0 0 connected\n",
        ID_A " 0@0 myself,master - 0 0 0 connected\n",
        ID_A " :0@0 myself,master - x 0 0 connected\n",
        ID_A " :0@0 myself,master - 0 0 0 connected [1->-zz]\n",
        ID_A " :0@0 myself,master - 0 0 0 connected\n" ID_A
             " :0@0 myself,master - 0 0 0 connected\n",
        ID_A " :0@0 myself,master " ID_A " 0 0 0 connected\n",
        ID_A " :0@0 myself,master - 0 0 0 connected\nvars currentEpoch x\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cluster_state *cs = NULL;
        char err[256];
        int rc = nodesconf_parse(bad[i], strlen(bad[i]), 0, &cs, err, sizeof(err));
        CHECK_EQ_INT(rc, NODESCONF_ECORRUPT);
        CHECK(cs == NULL);
    }
    const char *good = ID_A " :7000@17000 myself,master - 0 0 2 connected 0-10\n" ID_B
                            " 127.0.0.1:7001@17001 slave " ID_A " 0 0 0 connected\n"
                            "vars currentEpoch 1 lastVoteEpoch 0\n";
    struct cluster_state *cs = NULL;
    char err[256];
    CHECK_EQ_INT(nodesconf_parse(good, strlen(good), 0, &cs, err, sizeof(err)), 0);
    CHECK_EQ_INT(cs->current_epoch, 2); /* raised to the greatest config epoch */
    struct cluster_node *b = cluster_node_lookup(cs, ID_B, 40);
    CHECK(b != NULL && b->master == cs->myself && cluster_node_epoch(b) == 2);
    CHECK_EQ_INT(cs->myself->slot_count, 11);
    cluster_state_free(cs);
}
