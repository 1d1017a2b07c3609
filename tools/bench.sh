#!/usr/bin/env bash
# Benchmarks keyraft-server against redis-server 7.0 on this machine and
# prints keyraft/redis ratios, one section per workload (see --help).
#
# Throughput sections run redis-benchmark -c CLIENTS at each pipeline depth
# in PIPELINES against both servers, side by side with persistence off.
# Every round runs both, alternating which goes first, so background load on
# the machine hits both alike. Reported per case: the median over ROUNDS of
# requests per second, and of the server's CPU time per request (from
# /proc/<pid>/task/*/schedstat), which other load on a busy machine disturbs
# far less than throughput.
#
# Memory sections load a data set with a pipelined generator (awk writing
# RESP, fed through redis-cli --pipe) into a fresh server of each kind and
# report the growth of used_memory (INFO memory) per key, and of VmRSS.
#
# Every server and subscriber runs on 127.0.0.1 on a free port and is killed
# by PID on exit; every wait is bounded.
set -euo pipefail

ALL_SECTIONS="strings collections collection-memory scripting pubsub string-memory durable cluster"

usage() {
    cat <<EOF
Usage: tools/bench.sh [--quick] [SECTION...]   (from the repository root; \`make bench\`)

Runs the named sections (default: all) and prints keyraft/redis ratios.

Sections:
  strings            redis-benchmark -t ping_mbulk,set,get,incr,mset
  collections        issue 3: -t lpush,rpop,sadd,hset,zadd and LRANGE_100
                     (-r KEYSPACE; LRANGE_100 is the command -t lrange_100
                     sends, LRANGE mylist 0 99, on a list of 100 items filled
                     beforehand, so its CPU time excludes -t lrange_100's own
                     LPUSH fill)
  collection-memory  issue 3: used_memory growth for COLL_KEYS hashes of 10
                     fields, sorted sets of 10 members and lists of 10 items
  scripting          issue 4: EVALSHA of a script doing one GET and one SET
                     (key:__rand_int__, -r KEYSPACE), after SCRIPT LOAD
  pubsub             issue 4: PUBLISH to a channel with SUBSCRIBERS redis-cli
                     subscribers per server (PUB_REQUESTS per run; delivery
                     is checked by counting the subscribers' output lines)
  string-memory      used_memory growth for KEYS keys (SET key:<i> xxx)
  durable            issue 5: -t set,incr,lpush at -P DURABLE_PIPELINES with
                     appendfsync always on both sides, in two layouts: one
                     keyraft node (a Raft group of one) vs redis-server
                     appendonly yes; a 3-member keyraft group vs a redis-server
                     master with 2 replicas (CPU time summed over all three)
  cluster            issue 6: redis-benchmark --cluster -t set,get against
                     3 shards x 3 members (keyraft) and a 3-master Redis
                     Cluster with 2 replicas each, both created with
                     redis-cli --cluster create, appendfsync always on both
                     (CPU time summed over all nine nodes)

Options:
  --quick   a short run: ROUNDS=1 REQUESTS=20000 KEYS=100000 COLL_KEYS=20000
            (environment settings still win)
  --help    this text

Environment: KEYRAFT_SERVER (default build/keyraft-server) REDIS_SERVER ROUNDS
  REQUESTS CLIENTS PIPELINES KEYSPACE PUB_REQUESTS SUBSCRIBERS KEYS COLL_KEYS
  RUN_TIMEOUT (seconds allowed to one redis-benchmark or load run)
  DURABLE_PIPELINES (default 16) DURABLE_REQUESTS (requests per durable run)
EOF
}

QUICK=0
SECTIONS=()
for arg in "$@"; do
    case $arg in
    --help | -h) usage; exit 0 ;;
    --quick) QUICK=1 ;;
    -*) echo "bench: unknown option $arg (see --help)" >&2; exit 2 ;;
    *)
        [[ " $ALL_SECTIONS " == *" $arg "* ]] ||
            { echo "bench: unknown section $arg (see --help)" >&2; exit 2; }
        SECTIONS+=("$arg")
        ;;
    esac
done
[ ${#SECTIONS[@]} -gt 0 ] || read -r -a SECTIONS <<<"$ALL_SECTIONS"

if [ "$QUICK" = 1 ]; then
    : "${ROUNDS:=1}" "${REQUESTS:=20000}" "${KEYS:=100000}" "${COLL_KEYS:=20000}"
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KEYRAFT=${KEYRAFT_SERVER:-$ROOT/build/keyraft-server}
REDIS=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-"1 16"}
KEYSPACE=${KEYSPACE:-100000}
PUB_REQUESTS=${PUB_REQUESTS:-$REQUESTS}
SUBSCRIBERS=${SUBSCRIBERS:-10}
KEYS=${KEYS:-1000000}
COLL_KEYS=${COLL_KEYS:-100000}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
DURABLE_PIPELINES=${DURABLE_PIPELINES:-16}
DURABLE_REQUESTS=${DURABLE_REQUESTS:-$((REQUESTS * 5))}

for tool in redis-benchmark redis-cli python3 timeout; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done
[ -x "$KEYRAFT" ] || { echo "bench: no keyraft-server at $KEYRAFT (make build)" >&2; exit 1; }
[ -x "$REDIS" ] || { echo "bench: no redis-server at $REDIS" >&2; exit 1; }

WORK=$(mktemp -d /tmp/kr-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Servers ----

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A free port whose cluster bus port (port + 10000) is free too.
free_cluster_port() {
    python3 - <<'EOF'
import socket
for _ in range(100):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if port + 10000 > 65535:
        continue
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port + 10000))
    except OSError:
        continue
    print(port)
    break
EOF
}

# start_server <kind> <port> [directive...]: starts keyraft or redis on
# 127.0.0.1:<port> with persistence off unless the extra directives (which
# come last, so they win) turn it on, waits (bounded) until it answers,
# records its pid in STARTED_PID.
start_server() {
    local kind=$1 port=$2 dir="$WORK/$1-$2"
    shift 2
    mkdir -p "$dir"
    if [ "$kind" = keyraft ]; then
        "$KEYRAFT" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' "$@" \
            >"$dir/log" 2>&1 &
    else
        "$REDIS" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no "$@" \
            >"$dir/log" 2>&1 &
    fi
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
    for _ in $(seq 100); do
        [ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && return 0
        kill -0 "$STARTED_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: $kind did not start on port $port:" >&2
    cat "$dir/log" >&2
    exit 1
}

stop_server() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# The throughput sections share one server of each kind, started on first use.
declare -A PORT PID
ensure_servers() {
    [ -n "${PID[keyraft]:-}" ] && return 0
    local kind
    for kind in keyraft redis; do
        PORT[$kind]=$(free_port)
        start_server "$kind" "${PORT[$kind]}"
        PID[$kind]=$STARTED_PID
    done
    echo "keyraft: $KEYRAFT (pid ${PID[keyraft]}, port ${PORT[keyraft]})"
    echo "redis:   $("$REDIS" --version | head -1) (pid ${PID[redis]}, port ${PORT[redis]})"
    echo
}

# cli <kind> <args...>: redis-cli against the shared server of that kind.
cli() {
    local kind=$1
    shift
    timeout 10 redis-cli -p "${PORT[$kind]}" "$@"
}

# redis-benchmark counts error replies as answers: make sure keyraft really
# implements what is measured. probe <command...> runs it on keyraft once.
probe() {
    local reply
    reply=$(cli keyraft "$@" 2>&1 | head -1)
    case $reply in
    ERR* | NOSCRIPT* | WRONGTYPE* | *"unknown command"*)
        echo "bench: warning: keyraft answers '$*' with '$reply'; its numbers count errors" >&2
        ;;
    esac
}

# ---- Throughput ----

RESULTS="$WORK/results"
: >"$RESULTS"
cpu_ns() { # <pid...>: CPU time the processes have used, all threads, in ns
    local pid files=()
    for pid in "$@"; do files+=(/proc/"$pid"/task/*/schedstat); done
    cat "${files[@]}" | awk '{ sum += $1 } END { printf "%.0f", sum }'
}

# measure <section> <label> <kind> <pipeline> <round> <requests> <redis-benchmark args...>:
# runs one redis-benchmark and appends "section P label kind round rps cpu_ns/request".
measure() {
    local section=$1 label=$2 kind=$3 p=$4 round=$5 n=$6 before after rps
    shift 6
    # shellcheck disable=SC2086 # PID holds all the pids of a replicated set
    before=$(cpu_ns ${PID[$kind]})
    rps=$(timeout "$RUN_TIMEOUT" redis-benchmark -h 127.0.0.1 -p "${PORT[$kind]}" \
        -c "$CLIENTS" -n "$n" -P "$p" --csv -q "$@" 2>/dev/null |
        sed -n '/^"test"/{n;s/^"[^"]*","\([0-9.]*\)".*/\1/p}') || true
    # shellcheck disable=SC2086
    after=$(cpu_ns ${PID[$kind]})
    if [ -z "$rps" ]; then
        echo "bench: redis-benchmark $* against $kind gave no result" >&2
        rps=0
    fi
    echo "$section $p $label $kind $round $rps $(((after - before) / n))" >>"$RESULTS"
}

# Requests per run at pipeline depth <p>: REQUESTS x P, at most x 16.
requests_at() {
    local p=$1
    [ "$p" -gt 16 ] && p=16
    echo $((REQUESTS * p))
}

# rounds <section>: calls cases_<section> <kind> <pipeline> <round> for both
# kinds at every depth in every round, alternating which kind goes first.
rounds() {
    local section=$1 round p first second
    echo "[$section] redis-benchmark -c $CLIENTS (-P $PIPELINES), $ROUNDS rounds, alternating"
    for round in $(seq "$ROUNDS"); do
        for p in $PIPELINES; do
            first=keyraft second=redis
            [ $((round % 2)) -eq 0 ] && first=redis second=keyraft
            "cases_$section" "$first" "$p" "$round"
            "cases_$section" "$second" "$p" "$round"
        done
        echo "[$section] round $round/$ROUNDS done"
    done
}

report_throughput() { # <section>
    python3 - "$RESULTS" "$1" <<'EOF'
import statistics, sys
rows, order = {}, []
for line in open(sys.argv[1]):
    section, p, label, kind, _round, rps, cpu_ns = line.split()
    if section != sys.argv[2]:
        continue
    key = (int(p), label)
    if key not in rows:
        rows[key] = {"keyraft": ([], []), "redis": ([], [])}
        order.append(key)
    rows[key][kind][0].append(float(rps))
    rows[key][kind][1].append(float(cpu_ns))
def med(values):
    return statistics.median(values) if values else 0.0
print(f"[{sys.argv[2]}] medians; rps ratio = keyraft/redis throughput, cpu ratio = redis/keyraft")
print("server CPU time per request (both: higher is better for keyraft)")
print(f"{'P':>3} {'test':<11} {'keyraft rps':>11} {'redis rps':>10} {'ratio':>6}"
      f"  {'keyraft ns':>10} {'redis ns':>9} {'ratio':>6}")
ratios = []
for key in order:
    kr, rd = rows[key]["keyraft"], rows[key]["redis"]
    rps_ratio = med(kr[0]) / med(rd[0]) if med(rd[0]) else 0.0
    cpu_ratio = med(rd[1]) / med(kr[1]) if med(kr[1]) else 0.0
    ratios.append(rps_ratio)
    print(f"{key[0]:>3} {key[1]:<11} {med(kr[0]):>11.0f} {med(rd[0]):>10.0f} {rps_ratio:>6.2f}"
          f"  {med(kr[1]):>10.0f} {med(rd[1]):>9.0f} {cpu_ratio:>6.2f}")
if ratios:
    print(f"lowest rps ratio: {min(ratios):.2f}")
EOF
    echo
}

# ---- Section strings ----

STRING_TESTS=ping_mbulk,set,get,incr,mset

cases_strings() { # <kind> <pipeline> <round>
    local test
    for test in ${STRING_TESTS//,/ }; do
        measure strings "${test^^}" "$1" "$2" "$3" "$(requests_at "$2")" -t "$test"
    done
}

section_strings() {
    ensure_servers
    local probe_cmd
    for probe_cmd in "SET bench:probe 1" "GET bench:probe" "INCR bench:probe" \
        "MSET bench:a 1 bench:b 2"; do
        # shellcheck disable=SC2086
        probe $probe_cmd
    done
    cli keyraft DEL bench:probe bench:a bench:b >/dev/null
    rounds strings
    report_throughput strings
}

# ---- Section collections (issue 3) ----

COLLECTION_TESTS=lpush,rpop,sadd,hset,zadd

cases_collections() { # <kind> <pipeline> <round>
    local test n
    n=$(requests_at "$2")
    # lpush runs before rpop, so rpop pops what lpush pushed.
    for test in ${COLLECTION_TESTS//,/ }; do
        measure collections "${test^^}" "$1" "$2" "$3" "$n" -r "$KEYSPACE" -t "$test"
    done
    measure collections LRANGE_100 "$1" "$2" "$3" "$n" LRANGE bench:list100 0 99
}

section_collections() {
    ensure_servers
    local kind items=()
    for _ in $(seq 100); do items+=(xxx); done
    for kind in keyraft redis; do
        cli "$kind" DEL bench:list100 >/dev/null
        cli "$kind" RPUSH bench:list100 "${items[@]}" >/dev/null
    done
    probe LPUSH bench:probe xxx
    probe RPOP bench:probe
    probe SADD bench:probe-set element:1
    probe HSET bench:probe-hash element:1 xxx
    probe ZADD bench:probe-zset 0 element:1
    probe LRANGE bench:list100 0 99
    cli keyraft DEL bench:probe bench:probe-set bench:probe-hash bench:probe-zset >/dev/null
    rounds collections
    report_throughput collections
}

# ---- Section scripting (issue 4) ----

SCRIPT="redis.call('GET', KEYS[1]); return redis.call('SET', KEYS[1], ARGV[1])"
SCRIPT_SHA=

cases_scripting() { # <kind> <pipeline> <round>
    measure scripting EVALSHA "$1" "$2" "$3" "$(requests_at "$2")" -r "$KEYSPACE" \
        EVALSHA "$SCRIPT_SHA" 1 key:__rand_int__ xxx
}

section_scripting() {
    ensure_servers
    local kind sha
    for kind in keyraft redis; do
        sha=$(cli "$kind" SCRIPT LOAD "$SCRIPT")
        [ -z "$SCRIPT_SHA" ] || [ "$sha" = "$SCRIPT_SHA" ] ||
            { echo "bench: SCRIPT LOAD sha differs: $sha vs $SCRIPT_SHA" >&2; exit 1; }
        SCRIPT_SHA=$sha
    done
    probe EVALSHA "$SCRIPT_SHA" 1 bench:probe xxx
    cli keyraft DEL bench:probe >/dev/null
    rounds scripting
    report_throughput scripting
}

# ---- Section pubsub (issue 4) ----

CHANNEL=bench:channel
declare -A PUBLISHED
SUB_PIDS=()

cases_pubsub() { # <kind> <pipeline> <round>
    measure pubsub PUBLISH "$1" "$2" "$3" "$PUB_REQUESTS" PUBLISH "$CHANNEL" xxx
    PUBLISHED[$1]=$((PUBLISHED[$1] + PUB_REQUESTS))
}

# start_subscribers <kind>: SUBSCRIBERS redis-cli processes subscribed to
# CHANNEL, each writing to $WORK/sub-<kind>-<i>; waits (bounded) until the
# server counts them all.
start_subscribers() {
    local kind=$1 i count=0
    for i in $(seq "$SUBSCRIBERS"); do
        redis-cli -p "${PORT[$kind]}" SUBSCRIBE "$CHANNEL" >"$WORK/sub-$kind-$i" 2>&1 &
        SUB_PIDS+=($!)
        PIDS+=($!)
    done
    for _ in $(seq 100); do
        count=$(cli "$kind" PUBSUB NUMSUB "$CHANNEL" | sed -n 2p)
        [ "$count" = "$SUBSCRIBERS" ] && return 0
        sleep 0.1
    done
    echo "bench: $kind has $count of $SUBSCRIBERS subscribers" >&2
    exit 1
}

# check_delivery <kind>: every subscriber prints 3 lines for its SUBSCRIBE
# reply and 3 per message (message, channel, payload). Waits (bounded) until
# each has at least as many messages as were published (redis-benchmark may
# send a few more than -n when pipelining) or stops growing, then prints what
# arrived.
check_delivery() {
    local kind=$1 i lines total last=-1 least most
    for _ in $(seq 300); do
        least=-1 most=0 total=0
        for i in $(seq "$SUBSCRIBERS"); do
            lines=$(wc -l <"$WORK/sub-$kind-$i")
            total=$((total + lines))
            [ "$least" -lt 0 ] || [ "$lines" -lt "$least" ] && least=$lines
            [ "$lines" -gt "$most" ] && most=$lines
        done
        if [ $((least / 3 - 1)) -ge "${PUBLISHED[$kind]}" ] || [ "$total" = "$last" ]; then
            break
        fi
        last=$total
        sleep 0.2
    done
    least=$((least / 3 - 1)) most=$((most / 3 - 1))
    printf '  %-8s each of %d subscribers got %d..%d messages; %d were published%s\n' \
        "$kind" "$SUBSCRIBERS" "$least" "$most" "${PUBLISHED[$kind]}" \
        "$([ "$least" -ge "${PUBLISHED[$kind]}" ] || echo '  << LOST OR LATE')"
}

section_pubsub() {
    ensure_servers
    local kind pid
    for kind in keyraft redis; do
        PUBLISHED[$kind]=0
        start_subscribers "$kind"
    done
    probe PUBLISH bench:probe-channel xxx
    rounds pubsub
    echo "[pubsub] delivery to the subscribers:"
    for kind in keyraft redis; do
        check_delivery "$kind"
    done
    for pid in "${SUB_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    SUB_PIDS=()
    report_throughput pubsub
}

# ---- Section durable (issue 5) ----

DURABLE_TESTS=set,incr,lpush

cases_durable() { # <kind> <pipeline> <round>
    local test
    for test in ${DURABLE_TESTS//,/ }; do
        measure "durable-$DURABLE_LAYOUT" "${test^^}" "$1" "$2" "$3" "$DURABLE_REQUESTS" \
            -r "$KEYSPACE" -t "$test"
    done
}

# wait_replicas_online <kind> <port> <count>: waits (bounded) until the
# master on <port> reports <count> replicas in state online; exits if not.
wait_replicas_online() {
    local online=0
    for _ in $(seq 300); do
        online=$(timeout 10 redis-cli -p "$2" INFO replication | grep -c 'state=online' || true)
        [ "$online" = "$3" ] && return 0
        sleep 0.1
    done
    echo "bench: $1 master on port $2 has $online of $3 replicas online" >&2
    exit 1
}

# replicated_set <kind> <members>: a master with appendfsync always and
# <members>-1 replicas of it; sets PORT[kind] (the master's) and PID[kind]
# (every member's). Waits (bounded) until every replica is online: Redis
# counts a replica in connected_slaves from its first handshake, while its
# full sync still waits out repl-diskless-sync-delay (5 s), and a replica
# that is not yet in sync costs the master nothing to feed.
replicated_set() {
    local kind=$1 members=$2 port pids i master
    # keyraft's Raft traffic uses the bus port (port + 10000): keep it free too.
    master=$(free_cluster_port)
    start_server "$kind" "$master" --appendonly yes --appendfsync always
    pids=$STARTED_PID
    for ((i = 1; i < members; i++)); do
        port=$(free_cluster_port)
        start_server "$kind" "$port" --appendonly yes --appendfsync always
        pids="$pids $STARTED_PID"
        timeout 10 redis-cli -p "$port" REPLICAOF 127.0.0.1 "$master" >/dev/null
    done
    wait_replicas_online "$kind" "$master" $((members - 1))
    PORT[$kind]=$master
    PID[$kind]=$pids
}

# The replicated sections run their own sets of servers under the same two
# kinds: the shared servers (if started) are set aside meanwhile.
SET_ASIDE=()
set_aside_shared_servers() {
    SET_ASIDE=("${PORT[keyraft]:-}" "${PID[keyraft]:-}" "${PORT[redis]:-}" "${PID[redis]:-}")
}

# Stops every process of the current sets, then brings the shared servers back.
stop_sets_restore_shared() {
    local kind pid
    for kind in keyraft redis; do
        for pid in ${PID[$kind]}; do stop_server "$pid"; done
    done
    PORT[keyraft]=${SET_ASIDE[0]} PID[keyraft]=${SET_ASIDE[1]}
    PORT[redis]=${SET_ASIDE[2]} PID[redis]=${SET_ASIDE[3]}
}

section_durable() {
    local kind saved_pipelines=$PIPELINES
    PIPELINES=$DURABLE_PIPELINES
    for DURABLE_LAYOUT in single trio; do
        set_aside_shared_servers
        for kind in keyraft redis; do
            replicated_set "$kind" "$([ "$DURABLE_LAYOUT" = single ] && echo 1 || echo 3)"
        done
        echo "[durable-$DURABLE_LAYOUT] appendfsync always; keyraft pids ${PID[keyraft]}," \
            "redis pids ${PID[redis]}"
        probe SET bench:probe 1
        probe LPUSH bench:probe-list 1
        cli keyraft DEL bench:probe bench:probe-list >/dev/null
        rounds durable
        report_throughput "durable-$DURABLE_LAYOUT"
        stop_sets_restore_shared
    done
    PIPELINES=$saved_pipelines
}

# ---- Section cluster (issue 6) ----

CLUSTER_NODES=9

cases_cluster() { # <kind> <pipeline> <round>
    local test
    for test in set get; do
        measure cluster "${test^^}" "$1" "$2" "$3" "$(requests_at "$2")" --cluster -t "$test"
    done
}

# cluster_of <kind>: CLUSTER_NODES nodes with appendfsync always, created
# with redis-cli --cluster create --cluster-replicas 2; sets PORT[kind] (the
# first node's) and PID[kind] (every node's). Waits (bounded) for
# cluster_state:ok on every node and for every master's replicas to be online.
cluster_of() {
    local kind=$1 port ports=() pids="" addrs=() i state
    for ((i = 0; i < CLUSTER_NODES; i++)); do
        port=$(free_cluster_port)
        start_server "$kind" "$port" --cluster-enabled yes --appendonly yes \
            --appendfsync always --cluster-node-timeout 5000
        ports+=("$port")
        addrs+=("127.0.0.1:$port")
        pids="$pids $STARTED_PID"
    done
    timeout 120 redis-cli --cluster create "${addrs[@]}" --cluster-replicas 2 --cluster-yes \
        >"$WORK/create-$kind.log" 2>&1 || {
        echo "bench: redis-cli --cluster create failed for $kind:" >&2
        cat "$WORK/create-$kind.log" >&2
        exit 1
    }
    for port in "${ports[@]}"; do
        for _ in $(seq 300); do
            state=$(timeout 10 redis-cli -p "$port" CLUSTER INFO | tr -d '\r' |
                sed -n 's/^cluster_state://p')
            [ "$state" = ok ] && break
            sleep 0.1
        done
        [ "$state" = ok ] || { echo "bench: $kind node $port: cluster_state $state" >&2; exit 1; }
    done
    for port in "${ports[@]}"; do
        if timeout 10 redis-cli -p "$port" INFO replication | grep -q '^role:master'; then
            wait_replicas_online "$kind" "$port" 2
        fi
    done
    PORT[$kind]=${ports[0]}
    PID[$kind]=$pids
}

section_cluster() {
    local kind
    set_aside_shared_servers
    for kind in keyraft redis; do
        cluster_of "$kind"
    done
    echo "[cluster] 3 shards x 3 members, appendfsync always; keyraft pids ${PID[keyraft]}," \
        "redis pids ${PID[redis]}"
    rounds cluster
    report_throughput cluster
    stop_sets_restore_shared
}

# ---- Memory ----

used_memory() { # <port>: used_memory from INFO memory, or empty
    redis-cli -p "$1" INFO memory 2>/dev/null | tr -d '\r' | sed -n 's/^used_memory://p'
}
rss_bytes() { # <pid>
    awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

# load_growth <kind> <resp file> <keys>: loads the file into a fresh server of
# that kind and prints "<used_memory growth or -> <VmRSS growth>".
load_growth() {
    local kind=$1 file=$2 keys=$3 port pid used0 used1 rss0 rss1 dbsize
    port=$(free_port)
    start_server "$kind" "$port"
    pid=$STARTED_PID
    used0=$(used_memory "$port")
    rss0=$(rss_bytes "$pid")
    timeout "$RUN_TIMEOUT" redis-cli -p "$port" --pipe <"$file" >"$WORK/pipe-$kind.log" 2>&1 || {
        echo "bench: loading $file into $kind failed:" >&2
        cat "$WORK/pipe-$kind.log" >&2
        exit 1
    }
    dbsize=$(redis-cli -p "$port" DBSIZE)
    [ "$dbsize" = "$keys" ] || { echo "bench: $kind holds $dbsize keys, expected $keys" >&2; exit 1; }
    used1=$(used_memory "$port")
    rss1=$(rss_bytes "$pid")
    stop_server "$pid"
    if [ -n "$used0" ] && [ -n "$used1" ]; then
        echo "$((used1 - used0)) $((rss1 - rss0))"
    else
        echo "- $((rss1 - rss0))"
    fi
}

# memory_row <what> <keys> <resp file>: loads into both kinds (alternating
# which goes first from row to row) and prints bytes per key and ratios.
MEMORY_ROWS=0
memory_row() {
    local what=$1 keys=$2 file=$3 kind kinds=(keyraft redis)
    local -A growth
    [ $((MEMORY_ROWS % 2)) -eq 1 ] && kinds=(redis keyraft)
    MEMORY_ROWS=$((MEMORY_ROWS + 1))
    for kind in "${kinds[@]}"; do
        growth[$kind]=$(load_growth "$kind" "$file" "$keys")
    done
    # shellcheck disable=SC2086 # each growth is two words
    python3 - "$what" "$keys" ${growth[keyraft]} ${growth[redis]} <<'EOF'
import sys
what, n = sys.argv[1], int(sys.argv[2])
used_kr, rss_kr, used_rd, rss_rd = sys.argv[3:7]
def line(metric, kr, rd):
    kr, rd = int(kr) / n, int(rd) / n
    print(f"  {what:<24} {metric:<11} keyraft {kr:7.1f} B/key   redis {rd:7.1f} B/key"
          f"   keyraft/redis {kr / rd:.2f}")
if used_kr != "-" and used_rd != "-":
    line("used_memory", used_kr, used_rd)
else:
    print(f"  {what:<24} used_memory not reported by keyraft's INFO memory")
line("RSS", rss_kr, rss_rd)
EOF
}

# ---- Section collection-memory (issue 3) ----

section_collection_memory() {
    echo "[collection-memory] growth per key for $COLL_KEYS keys (lower ratio is better)"
    awk -v n="$COLL_KEYS" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = "hash:" i
            printf "*22\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n", length(k), k
            for (j = 0; j < 10; j++)
                printf "$6\r\nfield%d\r\n$6\r\nvalue%d\r\n", j, j
        }
    }' >"$WORK/hashes.resp"
    awk -v n="$COLL_KEYS" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = "zset:" i
            printf "*22\r\n$4\r\nZADD\r\n$%d\r\n%s\r\n", length(k), k
            for (j = 0; j < 10; j++)
                printf "$1\r\n%d\r\n$7\r\nmember%d\r\n", j, j
        }
    }' >"$WORK/zsets.resp"
    awk -v n="$COLL_KEYS" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = "list:" i
            printf "*12\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n", length(k), k
            for (j = 0; j < 10; j++)
                printf "$5\r\nitem%d\r\n", j
        }
    }' >"$WORK/lists.resp"
    memory_row "hash (10 fields)" "$COLL_KEYS" "$WORK/hashes.resp"
    memory_row "sorted set (10 members)" "$COLL_KEYS" "$WORK/zsets.resp"
    memory_row "list (10 items)" "$COLL_KEYS" "$WORK/lists.resp"
    rm -f "$WORK/hashes.resp" "$WORK/zsets.resp" "$WORK/lists.resp"
    echo
}

# ---- Section string-memory ----

section_string_memory() {
    echo "[string-memory] growth per key for $KEYS keys (lower ratio is better)"
    awk -v n="$KEYS" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = "key:" i
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n", length(k), k
        }
    }' >"$WORK/strings.resp"
    memory_row "string (SET key:<i> xxx)" "$KEYS" "$WORK/strings.resp"
    rm -f "$WORK/strings.resp"
    echo
}

# ---- Main ----

echo "bench: sections ${SECTIONS[*]}; ROUNDS=$ROUNDS REQUESTS=$REQUESTS CLIENTS=$CLIENTS" \
    "PIPELINES='$PIPELINES'; load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for section in "${SECTIONS[@]}"; do
    "section_${section//-/_}"
done
