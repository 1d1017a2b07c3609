/* raft/group on the real libuv backend: entries proposed on the leader are
 * applied in order on every member with the proposer's result; a restarted
 * member replays its log (the commit-index trap: it must not sit on an
 * unapplied log); three members on loopback converge. Snapshots: taken by a
 * forked child at the threshold and on request, a restart restores the
 * newest one and replays the rest, a member that missed the compacted part
 * of the log gets the snapshot installed, and the log's size in bytes is
 * counted across snapshots, failures and restarts. Every wait is
 * bounded. */
#include "raft/group.h"
#include "tests/unit/lib/test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_MEMBERS 3
#define MAX_APPLIED 512

struct member {
    struct group *g;
    char dir[64];
    char snapdir[64]; /* where the payload writer puts its file */
    bool snapshots;   /* open with the snapshot hooks */
    size_t snapshots_ok, snapshots_failed, restores;
    size_t payload_forks;      /* payload writers started */
    unsigned payload_delay_ms; /* the writer waits this long before writing */
    bool payload_fails;        /* the writer exits with an error */
    char address[32];
    uint64_t id;
    uint64_t applied[MAX_APPLIED]; /* payloads in apply order */
    size_t napplied;
    bool closed;
};

struct fixture {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes uv_run so predicates are re-checked */
    struct member m[MAX_MEMBERS];
    size_t n;
    size_t done_ok;
    size_t done_bad;
};

static void apply_entry(void *arg, const void *buf, size_t len, void **result) {
    struct member *m = arg;
    uint64_t v = 0;
    if (len == sizeof(v) + 5)
        memcpy(&v, buf, sizeof(v));
    if (m->napplied < MAX_APPLIED)
        m->applied[m->napplied++] = v;
    *result = (void *)(uintptr_t)(v * 2);
}

/* ---- Snapshot hooks: the payload is napplied then the applied values ---- */

static int write_payload(void *arg, const char *path) {
    struct member *m = arg;
    pid_t pid = fork();
    if (pid != 0) {
        m->payload_forks += pid > 0;
        return pid > 0 ? (int)pid : -1;
    }
    usleep(m->payload_delay_ms * 1000);
    if (m->payload_fails)
        _exit(1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    uint64_t n = m->napplied;
    bool ok = fd >= 0 && write(fd, &n, sizeof(n)) == sizeof(n) &&
              write(fd, m->applied, n * sizeof(uint64_t)) == (ssize_t)(n * sizeof(uint64_t)) &&
              fsync(fd) == 0;
    _exit(ok ? 0 : 1);
}

static int restore_payload(void *arg, const void *buf, size_t len) {
    struct member *m = arg;
    uint64_t n;
    if (len < sizeof(n))
        return -1;
    memcpy(&n, buf, sizeof(n));
    if (n > MAX_APPLIED || len != sizeof(n) + n * sizeof(uint64_t))
        return -1;
    memcpy(m->applied, (const uint8_t *)buf + sizeof(n), n * sizeof(uint64_t));
    m->napplied = n;
    m->restores++;
    return 0;
}

static void snapshot_done(void *arg, int status, uint64_t index, const char *path) {
    struct member *m = arg;
    (void)index;
    (void)path;
    if (status == GROUP_OK)
        m->snapshots_ok++;
    else
        m->snapshots_failed++;
}

static void on_tick(uv_timer_t *t) {
    (void)t;
}

/* Runs the loop until 'pred' holds or 'timeout_ms' passes. */
static bool run_until(struct fixture *f, bool (*pred)(struct fixture *), uint64_t timeout_ms) {
    uint64_t deadline = uv_now(&f->loop) + timeout_ms;
    while (!pred(f)) {
        if (uv_now(&f->loop) > deadline)
            return false;
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    return true;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static bool open_member(struct fixture *f, size_t i) {
    struct member *m = &f->m[i];
    struct group_config cfg = {
        .loop = &f->loop,
        .dir = m->dir,
        .id = m->id,
        .address = m->address,
        .apply = apply_entry,
        .apply_arg = m,
        .election_timeout_ms = 150,
        .heartbeat_timeout_ms = 30,
    };
    if (m->snapshots) {
        cfg.snapshot = write_payload;
        cfg.restore = restore_payload;
        cfg.snapshot_done = snapshot_done;
        cfg.snapshot_dir = m->snapdir;
        cfg.snapshot_threshold = 8;
        cfg.snapshot_trailing = 2;
        /* The leader tried to send the snapshot while the member was down. */
        cfg.install_snapshot_timeout_ms = 1000;
    }
    char err[256];
    m->napplied = 0;
    m->closed = false;
    return group_new(&cfg, &m->g, err, sizeof(err)) == GROUP_OK;
}

static bool setup_with(struct fixture *f, size_t n, bool snapshots) {
    /* libuv writes to sockets with write(2): a peer that closed (a member
     * shut down) must not kill the test, as keyraft-server ignores it too. */
    signal(SIGPIPE, SIG_IGN);
    memset(f, 0, sizeof(*f));
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, on_tick, 10, 10);
    f->n = n;
    struct group_member members[MAX_MEMBERS];
    for (size_t i = 0; i < n; i++) {
        struct member *m = &f->m[i];
        snprintf(m->dir, sizeof(m->dir), "/tmp/kr-group-XXXXXX");
        snprintf(m->snapdir, sizeof(m->snapdir), "/tmp/kr-group-XXXXXX");
        if (mkdtemp(m->dir) == NULL || mkdtemp(m->snapdir) == NULL)
            return false;
        m->snapshots = snapshots;
        snprintf(m->address, sizeof(m->address), "127.0.0.1:%d", free_port());
        m->id = i + 1;
        members[i].id = m->id;
        members[i].address = m->address;
    }
    for (size_t i = 0; i < n; i++)
        if (!open_member(f, i) || group_bootstrap(f->m[i].g, members, n) != GROUP_OK ||
            group_start(f->m[i].g) != GROUP_OK)
            return false;
    return true;
}

static bool setup(struct fixture *f, size_t n) {
    return setup_with(f, n, false);
}

static void member_closed(void *arg) {
    ((struct member *)arg)->closed = true;
}

static bool all_closed(struct fixture *f) {
    for (size_t i = 0; i < f->n; i++)
        if (!f->m[i].closed)
            return false;
    return true;
}

static bool close_members(struct fixture *f) {
    for (size_t i = 0; i < f->n; i++)
        group_close(f->m[i].g, member_closed, &f->m[i]);
    return run_until(f, all_closed, 5000);
}

/* Closes everything; true if the loop ends with no handle left open. */
static bool teardown(struct fixture *f) {
    bool ok = close_members(f);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ok = ok && uv_loop_close(&f->loop) == 0;
    for (size_t i = 0; i < f->n; i++) {
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf %s %s", f->m[i].dir, f->m[i].snapdir);
        ok = ok && system(cmd) == 0;
    }
    return ok;
}

static struct member *leader_of(struct fixture *f) {
    for (size_t i = 0; i < f->n; i++)
        if (!f->m[i].closed && group_is_leader(f->m[i].g))
            return &f->m[i];
    return NULL;
}

static bool has_leader(struct fixture *f) {
    return leader_of(f) != NULL;
}

struct expect {
    struct fixture *f;
    uint64_t value;
};

static void proposal_done(void *arg, int status, void *result) {
    struct expect *e = arg;
    if (status == GROUP_OK && (uintptr_t)result == e->value * 2)
        e->f->done_ok++;
    else
        e->f->done_bad++;
    free(e);
}

static bool propose_values(struct fixture *f, struct member *leader, uint64_t from, size_t n) {
    for (size_t i = 0; i < n; i++) {
        /* 13 bytes: sizes that are not a multiple of 8 must work too. */
        uint64_t *buf = calloc(1, sizeof(*buf) + 5);
        struct expect *e = malloc(sizeof(*e));
        *buf = from + i;
        e->f = f;
        e->value = from + i;
        if (group_propose(leader->g, buf, sizeof(*buf) + 5, proposal_done, e) != GROUP_OK) {
            free(buf);
            free(e);
            return false;
        }
    }
    return true;
}

static size_t wanted_done;
static bool proposals_done(struct fixture *f) {
    return f->done_ok + f->done_bad >= wanted_done;
}

static size_t wanted_applied;
static bool all_applied(struct fixture *f) {
    for (size_t i = 0; i < f->n; i++)
        if (f->m[i].napplied < wanted_applied)
            return false;
    return true;
}

TEST(single_member_applies_in_order_and_replays_after_restart) {
    static struct fixture f;
    CHECK(setup(&f, 1));
    CHECK(run_until(&f, has_leader, 5000));
    CHECK(propose_values(&f, &f.m[0], 1000, 100));
    wanted_done = 100;
    CHECK(run_until(&f, proposals_done, 5000));
    CHECK_EQ_INT(f.done_ok, 100);
    CHECK_EQ_INT(f.m[0].napplied, 100);
    for (size_t i = 0; i < 100; i++)
        CHECK_EQ_INT(f.m[0].applied[i], 1000 + i);

    /* Restart on the same directory: the log is the only state. */
    CHECK(close_members(&f));
    CHECK(open_member(&f, 0));
    CHECK(group_start(f.m[0].g) == GROUP_OK);
    wanted_applied = 100;
    CHECK(run_until(&f, all_applied, 5000));
    for (size_t i = 0; i < 100; i++)
        CHECK_EQ_INT(f.m[0].applied[i], 1000 + i);
    CHECK(teardown(&f));
}

TEST(three_members_converge) {
    static struct fixture f;
    CHECK(setup(&f, 3));
    CHECK(run_until(&f, has_leader, 10000));
    struct member *leader = leader_of(&f);
    /* A follower refuses proposals. */
    struct member *follower = leader == &f.m[0] ? &f.m[1] : &f.m[0];
    uint64_t v = 1;
    CHECK_EQ_INT(group_propose(follower->g, &v, sizeof(v), proposal_done, NULL), GROUP_ENOTLEADER);
    CHECK(propose_values(&f, leader, 1, 50));
    wanted_done = 50;
    CHECK(run_until(&f, proposals_done, 10000));
    CHECK_EQ_INT(f.done_ok, 50);
    wanted_applied = 50;
    CHECK(run_until(&f, all_applied, 10000));
    for (size_t i = 0; i < f.n; i++)
        CHECK(memcmp(f.m[i].applied, leader->applied, 50 * sizeof(uint64_t)) == 0);
    const char *address;
    CHECK_EQ_INT(group_leader(follower->g, &address), leader->id);
    CHECK(teardown(&f));
}

static int promoted_status = 1;
static void on_promoted(void *arg, int status) {
    (void)arg;
    promoted_status = status;
}

static bool is_promoted(struct fixture *f) {
    (void)f;
    return promoted_status != 1;
}

TEST(a_member_joins_catches_up_and_votes) {
    static struct fixture f;
    CHECK(setup(&f, 1));
    CHECK(run_until(&f, has_leader, 5000));
    CHECK(propose_values(&f, &f.m[0], 1, 30));
    wanted_done = 30;
    CHECK(run_until(&f, proposals_done, 5000));
    /* A second member on a fresh directory, started without bootstrap. */
    struct member *m = &f.m[1];
    snprintf(m->dir, sizeof(m->dir), "/tmp/kr-group-XXXXXX");
    CHECK(mkdtemp(m->dir) != NULL);
    snprintf(m->address, sizeof(m->address), "127.0.0.1:%d", free_port());
    m->id = 2;
    f.n = 2;
    CHECK(open_member(&f, 1));
    CHECK(group_start(m->g) == GROUP_OK);
    CHECK_EQ_INT(group_add_member(f.m[0].g, m->id, m->address, NULL, on_promoted, NULL), GROUP_OK);
    /* One change at a time: the library refuses another until it commits. */
    CHECK_EQ_INT(group_remove_member(f.m[0].g, m->id, NULL, NULL), GROUP_ECHANGING);
    CHECK(run_until(&f, is_promoted, 10000));
    CHECK_EQ_INT(promoted_status, GROUP_OK);
    wanted_applied = 30;
    CHECK(run_until(&f, all_applied, 10000));
    CHECK(memcmp(m->applied, f.m[0].applied, 30 * sizeof(uint64_t)) == 0);
    struct group_member_info info[4];
    CHECK_EQ_INT(group_members(f.m[0].g, info, 4), 2);
    CHECK(info[1].id == 2 && info[1].role == GROUP_ROLE_VOTER);
    CHECK(teardown(&f));
}

/* ---- Snapshots ---- */

/* Files in 'dir' whose name starts with 'prefix'. */
static size_t count_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d != NULL)
        closedir(d);
    return n;
}

static size_t wanted_snapshots;
static struct member *snapshot_member;
static bool snapshots_taken(struct fixture *f) {
    (void)f;
    return snapshot_member->snapshots_ok >= wanted_snapshots;
}

static bool payload_files_gone(struct fixture *f) {
    return count_files(f->m[0].snapdir, "temp-raft-snapshot-") == 0;
}

static bool all_closed_lagging(struct fixture *f) {
    (void)f;
    return snapshot_member->closed;
}

static bool restored_and_applied(struct fixture *f) {
    return snapshot_member->restores > 0 && all_applied(f);
}

TEST(snapshots_at_the_threshold_and_restart_from_the_newest) {
    static struct fixture f;
    CHECK(setup_with(&f, 1, true));
    CHECK(run_until(&f, has_leader, 5000));
    /* The library looks at the threshold after applying, and not while a
     * snapshot is under way: propose in rounds. */
    snapshot_member = &f.m[0];
    for (size_t round = 0; round < 4; round++) {
        CHECK(propose_values(&f, &f.m[0], 1 + round * 10, 10));
        wanted_done = 10 * (round + 1);
        CHECK(run_until(&f, proposals_done, 5000));
        wanted_snapshots = round + 1;
        CHECK(run_until(&f, snapshots_taken, 5000));
    }
    CHECK(group_snapshot_index(f.m[0].g) > 0);
    CHECK_EQ_INT(f.m[0].snapshots_failed, 0);
    /* The library keeps at most two; the payload files are gone. */
    CHECK(count_files(f.m[0].dir, "snapshot-") >= 2 && count_files(f.m[0].dir, "snapshot-") <= 4);
    /* (removed on the thread pool: wait for it) */
    CHECK(run_until(&f, payload_files_gone, 5000));

    /* Restart: the newest snapshot, then the log after it. */
    CHECK(close_members(&f));
    CHECK(open_member(&f, 0));
    CHECK(group_start(f.m[0].g) == GROUP_OK);
    CHECK_EQ_INT(f.m[0].restores, 1);
    wanted_applied = 40;
    CHECK(run_until(&f, all_applied, 5000));
    CHECK_EQ_INT(f.m[0].napplied, 40);
    for (size_t i = 0; i < 40; i++)
        CHECK_EQ_INT(f.m[0].applied[i], 1 + i);
    CHECK(teardown(&f));
}

TEST(snapshot_on_request) {
    static struct fixture f;
    CHECK(setup(&f, 1));
    CHECK(run_until(&f, has_leader, 5000));
    /* Without hooks there are no snapshots. */
    CHECK_EQ_INT(group_snapshot_now(f.m[0].g), GROUP_ENOSNAPSHOTS);
    CHECK(teardown(&f));

    CHECK(setup_with(&f, 1, true));
    group_set_snapshot_limits(f.m[0].g, 1000, 0);
    CHECK(run_until(&f, has_leader, 5000));
    CHECK(propose_values(&f, &f.m[0], 1, 5));
    wanted_done = 5;
    CHECK(run_until(&f, proposals_done, 5000));
    CHECK_EQ_INT(f.m[0].snapshots_ok, 0);
    CHECK_EQ_INT(group_snapshot_now(f.m[0].g), GROUP_OK);
    CHECK_EQ_INT(group_snapshot_now(f.m[0].g), GROUP_OK); /* another barrier */
    snapshot_member = &f.m[0];
    wanted_snapshots = 1;
    CHECK(run_until(&f, snapshots_taken, 5000));
    /* Nothing applied since: the snapshot is current. */
    CHECK_EQ_INT(group_snapshot_now(f.m[0].g), GROUP_CURRENT);
    CHECK(count_files(f.m[0].dir, "snapshot-") == 2); /* the file and its .meta */
    CHECK(teardown(&f));
}

TEST(a_member_behind_the_compacted_log_gets_the_snapshot) {
    static struct fixture f;
    CHECK(setup_with(&f, 3, true));
    CHECK(run_until(&f, has_leader, 10000));
    struct member *leader = leader_of(&f);
    struct member *lagging = leader == &f.m[2] ? &f.m[1] : &f.m[2];
    group_close(lagging->g, member_closed, lagging);
    snapshot_member = lagging;
    CHECK(run_until(&f, all_closed_lagging, 5000));
    snapshot_member = leader;
    for (size_t round = 0; round < 6; round++) {
        CHECK(propose_values(&f, leader, 1 + round * 10, 10));
        wanted_done = 10 * (round + 1);
        CHECK(run_until(&f, proposals_done, 10000));
        wanted_snapshots = round / 2 + 1;
        CHECK(run_until(&f, snapshots_taken, 10000));
    }
    CHECK_EQ_INT(f.done_ok, 60);

    CHECK(open_member(&f, (size_t)(lagging - f.m)));
    CHECK(group_start(lagging->g) == GROUP_OK);
    snapshot_member = lagging;
    wanted_applied = 60;
    CHECK(run_until(&f, restored_and_applied, 20000));
    CHECK(memcmp(lagging->applied, leader->applied, 60 * sizeof(uint64_t)) == 0);
    CHECK(teardown(&f));
}

/* ---- Log size ---- */

/* Every entry propose_values makes: a 13-byte payload, framed. */
#define ENTRY_BYTES group_frame_size(sizeof(uint64_t) + 5)
/* write_payload's payload for 'n' applied values. */
#define PAYLOAD_BYTES(n) (sizeof(uint64_t) * (1 + (n)))

static bool log_sizes_are(struct group *g, uint64_t log_bytes, uint64_t snapshot_bytes) {
    uint64_t got_log, got_snapshot;
    group_log_sizes(g, &got_log, &got_snapshot);
    if (got_log != log_bytes || got_snapshot != snapshot_bytes)
        fprintf(stderr, "log %llu snapshot %llu, want %llu %llu\n", (unsigned long long)got_log,
                (unsigned long long)got_snapshot, (unsigned long long)log_bytes,
                (unsigned long long)snapshot_bytes);
    return got_log == log_bytes && got_snapshot == snapshot_bytes;
}

static size_t wanted_forks;
static bool payload_forked(struct fixture *f) {
    return f->m[0].payload_forks >= wanted_forks;
}

static bool snapshot_failed(struct fixture *f) {
    return f->m[0].snapshots_failed > 0;
}

TEST(log_bytes_since_the_last_snapshot) {
    static struct fixture f;
    CHECK(setup_with(&f, 1, true));
    struct group *g = f.m[0].g;
    /* Threshold 0: no snapshot however many entries. */
    group_set_snapshot_limits(g, 0, 0);
    CHECK(run_until(&f, has_leader, 5000));
    CHECK(log_sizes_are(g, 0, 0)); /* the bootstrap configuration is no command */
    CHECK(propose_values(&f, &f.m[0], 1, 20));
    wanted_done = 20;
    CHECK(run_until(&f, proposals_done, 5000));
    CHECK_EQ_INT(f.m[0].snapshots_ok, 0);
    CHECK(log_sizes_are(g, 20 * ENTRY_BYTES, 0));

    /* Entries applied while the child writes stay counted after it. */
    f.m[0].payload_delay_ms = 300;
    CHECK_EQ_INT(group_snapshot_now(g), GROUP_OK);
    wanted_forks = 1;
    CHECK(run_until(&f, payload_forked, 5000));
    CHECK(propose_values(&f, &f.m[0], 21, 3));
    wanted_done = 23;
    CHECK(run_until(&f, proposals_done, 5000));
    CHECK_EQ_INT(f.m[0].snapshots_ok, 0); /* the child still sleeps */
    snapshot_member = &f.m[0];
    wanted_snapshots = 1;
    CHECK(run_until(&f, snapshots_taken, 5000));
    CHECK(log_sizes_are(g, 3 * ENTRY_BYTES, PAYLOAD_BYTES(20)));

    /* A failed snapshot takes nothing off. */
    f.m[0].payload_delay_ms = 0;
    f.m[0].payload_fails = true;
    CHECK_EQ_INT(group_snapshot_now(g), GROUP_OK);
    CHECK(run_until(&f, snapshot_failed, 5000));
    CHECK(log_sizes_are(g, 3 * ENTRY_BYTES, PAYLOAD_BYTES(20)));

    /* A restart restores the snapshot and counts the log it replays. */
    CHECK(close_members(&f));
    CHECK(open_member(&f, 0));
    g = f.m[0].g;
    CHECK(group_start(g) == GROUP_OK);
    CHECK_EQ_INT(f.m[0].restores, 1);
    wanted_applied = 23;
    CHECK(run_until(&f, all_applied, 5000));
    CHECK(log_sizes_are(g, 3 * ENTRY_BYTES, PAYLOAD_BYTES(20)));
    CHECK(teardown(&f));
}
