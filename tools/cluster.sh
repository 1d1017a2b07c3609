#!/usr/bin/env bash
# A local keyraft cluster on loopback: 9 nodes (3 shards x 3 members) on
# ports 7000-7008 (cluster bus 17000-17008), every node's files under one
# folder (./cluster-data/<port>/: keyraft.conf, nodes.conf, the Raft log,
# log, pid). `make cluster` runs `start`.
#
#   tools/cluster.sh start         start the cluster; the first time, create it
#                                  with redis-cli --cluster create; later, restart
#                                  the nodes with their data. Waits for
#                                  cluster_state:ok on every node.
#   tools/cluster.sh stop          stop every node (SIGTERM; data kept)
#   tools/cluster.sh status        one line per node: role, shard, Raft term,
#                                  commit/applied index, keys
#   tools/cluster.sh kill N        kill -9 node N (0-8, or its port): try a failover
#   tools/cluster.sh restart N     stop node N if it runs, then start it again
#   tools/cluster.sh logs N [-f]   the last lines of node N's log (-f: follow)
#   tools/cluster.sh clean         stop every node and remove the data folder
#
# Environment (defaults in brackets): KR_CLUSTER_DIR [./cluster-data],
# KR_CLUSTER_PORT first client port [7000] (node i uses port+i and bus port
# port+i+10000), KR_CLUSTER_NODES [9], KR_CLUSTER_REPLICAS replicas per master
# [2], KR_CLUSTER_HOST [127.0.0.1], KR_CLUSTER_TIMEOUT seconds to wait for
# cluster_state:ok [120], KEYRAFT_SERVER [build/keyraft-server]. Once a
# cluster exists, the node count, ports and host it was created with
# (<dir>/cluster.env) win over the environment.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${KR_CLUSTER_DIR:-$ROOT/cluster-data}"
BASE_PORT="${KR_CLUSTER_PORT:-7000}"
NODES="${KR_CLUSTER_NODES:-9}"
REPLICAS="${KR_CLUSTER_REPLICAS:-2}"
HOST="${KR_CLUSTER_HOST:-127.0.0.1}"
WAIT_SECONDS="${KR_CLUSTER_TIMEOUT:-120}"
SERVER="${KEYRAFT_SERVER:-$ROOT/build/keyraft-server}"
CLI="${REDIS_CLI:-redis-cli}"

# Written when the data folder is first used: `clean` removes only a folder
# that has it, so a mistyped KR_CLUSTER_DIR never deletes anything else.
MARKER=".keyraft-cluster"
# Written once redis-cli --cluster create has succeeded.
CREATED="cluster.created"
SETTINGS="cluster.env"

die() {
    echo "cluster: $*" >&2
    exit 1
}

# setting <name>: a value recorded in cluster.env (read, never sourced).
setting() { sed -n "s/^$1=\([0-9A-Za-z.:]*\)\$/\1/p" "$DATA/$SETTINGS" | head -n 1; }
if [ -f "$DATA/$SETTINGS" ]; then
    NODES=$(setting NODES)
    BASE_PORT=$(setting BASE_PORT)
    HOST=$(setting HOST)
    [[ "$NODES" =~ ^[0-9]+$ && "$BASE_PORT" =~ ^[0-9]+$ && -n "$HOST" ]] ||
        die "$DATA/$SETTINGS is damaged (NODES, BASE_PORT, HOST)"
fi

port_of() { echo $((BASE_PORT + $1)); }
node_dir() { echo "$DATA/$(port_of "$1")"; }
# cli <i> <args...>: redis-cli against node i.
cli() {
    local port
    port=$(port_of "$1")
    shift
    timeout 10 "$CLI" -h "$HOST" -p "$port" "$@"
}

# node_index <N|port>: the node's index, or an error.
node_index() {
    local n=${1:-}
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a node number (0-$((NODES - 1))) or a port, got '$n'"
    if [ "$n" -ge "$BASE_PORT" ]; then n=$((n - BASE_PORT)); fi
    [ "$n" -lt "$NODES" ] || die "no node $1: nodes are 0-$((NODES - 1)), ports $BASE_PORT-$(port_of $((NODES - 1)))"
    echo "$n"
}

# node_pid <i>: the pid of node i when it runs, else nothing (exit 1).
node_pid() {
    local f pid
    f="$(node_dir "$1")/keyraft.pid"
    [ -f "$f" ] || return 1
    pid=$(cat "$f" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # A pid reused by another program after a crash does not count.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q keyraft-server || return 1
    echo "$pid"
}

# write_conf <i>: the node's keyraft.conf, on its first start only: edit it
# and restart the node to change a setting.
write_conf() {
    local dir port
    dir=$(node_dir "$1")
    port=$(port_of "$1")
    mkdir -p "$dir"
    [ -f "$dir/keyraft.conf" ] && return 0
    cat >"$dir/keyraft.conf" <<EOF
# Node $1 of the local cluster (tools/cluster.sh).
port $port
bind $HOST
dir $dir
pidfile $dir/keyraft.pid
logfile $dir/keyraft.log
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout 5000
appendonly yes
appendfsync always
EOF
}

# start_node <i>: starts node i unless it runs; returns once it answers.
start_node() {
    local dir port pid
    dir=$(node_dir "$1")
    port=$(port_of "$1")
    node_pid "$1" >/dev/null && return 0
    write_conf "$1"
    rm -f "$dir/keyraft.pid"
    # In a session of its own, detached from this terminal (Ctrl-C on `make
    # cluster` leaves it running), but watched: a node that exits at
    # startup (port taken, bad config) is reported at once.
    setsid "$SERVER" "$dir/keyraft.conf" </dev/null >>"$dir/keyraft.log" 2>&1 &
    pid=$!
    # Any reply counts (a node replaying its log answers -LOADING).
    for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || break
        if node_pid "$1" >/dev/null && [ -n "$(cli "$1" PING 2>/dev/null)" ]; then
            return 0
        fi
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    die "node $1 (port $port) did not start; last lines of $dir/keyraft.log:
$(tail -n 20 "$dir/keyraft.log")"
}

cluster_state() { cli "$1" CLUSTER INFO 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p'; }

# wait_ok: every running node reports cluster_state:ok, twice in a row
# half a second apart (right after creation, shards still settle), bounded.
wait_ok() {
    local deadline=$((SECONDS + WAIT_SECONDS)) i bad passes=0
    while [ $passes -lt 2 ]; do
        bad=""
        for ((i = 0; i < NODES; i++)); do
            node_pid "$i" >/dev/null || continue
            if [ "$(cluster_state "$i")" != ok ]; then
                bad=$i
                break
            fi
        done
        if [ -z "$bad" ]; then
            passes=$((passes + 1))
        else
            passes=0
            [ $SECONDS -lt $deadline ] ||
                die "node $bad (port $(port_of "$bad")): cluster_state is '$(cluster_state "$bad")' after ${WAIT_SECONDS}s (tools/cluster.sh status, tools/cluster.sh logs $bad)"
        fi
        sleep 0.5
    done
}

stop_node() {
    local pid
    pid=$(node_pid "$1") || return 0
    kill -TERM "$pid" 2>/dev/null || true
}

# wait_stopped [i...]: waits (bounded) until the nodes (default: all) have
# exited; kill -9 what is left after 30 s.
wait_stopped() {
    local i pid nodes=("$@")
    [ ${#nodes[@]} -gt 0 ] || mapfile -t nodes < <(all_nodes)
    for i in "${nodes[@]}"; do
        for _ in $(seq 300); do
            node_pid "$i" >/dev/null || break
            sleep 0.1
        done
        if pid=$(node_pid "$i"); then
            echo "cluster: node $i (pid $pid) ignored SIGTERM for 30 s: kill -9" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

all_nodes() { seq 0 $((NODES - 1)); }

create_cluster() {
    local addrs=() i
    for i in $(all_nodes); do addrs+=("$HOST:$(port_of "$i")"); done
    echo "cluster: creating $NODES nodes, $REPLICAS replicas per master"
    timeout "$WAIT_SECONDS" "$CLI" --cluster create "${addrs[@]}" \
        --cluster-replicas "$REPLICAS" --cluster-yes >"$DATA/create.log" 2>&1 ||
        die "redis-cli --cluster create failed (the nodes keep running: tools/cluster.sh clean starts over):
$(tail -n 20 "$DATA/create.log")"
}

cmd_start() {
    local i
    [ -x "$SERVER" ] || die "no keyraft-server at $SERVER (make build, or set KEYRAFT_SERVER)"
    command -v "$CLI" >/dev/null || die "redis-cli not found (tools/install-deps.sh)"
    mkdir -p "$DATA"
    touch "$DATA/$MARKER"
    if [ ! -f "$DATA/$CREATED" ]; then
        # Nothing was ever acknowledged by a cluster that was not created:
        # whatever an interrupted first attempt left is dropped.
        for i in $(all_nodes); do stop_node "$i"; done
        wait_stopped
        for i in $(all_nodes); do rm -rf "$(node_dir "$i")"; done
        printf 'NODES=%s\nBASE_PORT=%s\nHOST=%s\n' "$NODES" "$BASE_PORT" "$HOST" >"$DATA/$SETTINGS"
    fi
    for i in $(all_nodes); do start_node "$i"; done
    if [ ! -f "$DATA/$CREATED" ]; then
        create_cluster
        touch "$DATA/$CREATED"
    fi
    wait_ok
    echo "cluster: $NODES nodes up on $HOST:$BASE_PORT-$(port_of $((NODES - 1))), data in $DATA"
    echo "cluster: connect with: redis-cli -c -p $BASE_PORT"
}

cmd_stop() {
    local i
    for i in $(all_nodes); do stop_node "$i"; done
    wait_stopped
    echo "cluster: stopped (data kept in $DATA)"
}

# info_field <text> <name>: the value of 'name:' in an INFO reply, or '-'.
info_field() {
    local v
    v=$(printf '%s\n' "$1" | sed -n "s/^$2://p" | head -n 1)
    echo "${v:--}"
}

cmd_status() {
    local i pid nodes info me role master slots raft keys
    printf '%-4s %-6s %-8s %-7s %-22s %-6s %-9s %-9s %s\n' \
        NODE PORT PID ROLE SHARD TERM COMMIT APPLIED KEYS
    for i in $(all_nodes); do
        if ! pid=$(node_pid "$i"); then
            printf '%-4s %-6s %-8s %-7s\n' "$i" "$(port_of "$i")" - down
            continue
        fi
        nodes=$(cli "$i" CLUSTER NODES 2>/dev/null | tr -d '\r' || true)
        info=$(cli "$i" INFO raft replication 2>/dev/null | tr -d '\r' || true)
        keys=$(cli "$i" DBSIZE 2>/dev/null | tr -d '\r' || true)
        me=$(printf '%s\n' "$nodes" | awk '$3 ~ /myself/')
        role=$(info_field "$info" raft_role)
        [ "$role" = - ] && role=$(info_field "$info" role)
        # The shard is named by its master's slots (a replica's 4th field).
        master=$(printf '%s\n' "$me" | awk '{ print ($3 ~ /slave/) ? $4 : $1 }')
        slots=$(printf '%s\n' "$nodes" | awk -v id="$master" '$1 == id {
            s = ""; for (f = 9; f <= NF; f++) if ($f !~ /^\[/) s = s (s == "" ? "" : ",") $f
            print s }')
        [ ${#slots} -gt 22 ] && slots="${slots:0:19}..."
        raft="$(info_field "$info" raft_term) $(info_field "$info" raft_commit_index)"
        raft="$raft $(info_field "$info" raft_applied_index)"
        # shellcheck disable=SC2086
        printf '%-4s %-6s %-8s %-7s %-22s %-6s %-9s %-9s %s\n' "$i" "$(port_of "$i")" "$pid" \
            "$role" "${slots:--}" $raft "${keys:--}"
    done
    if [ -f "$DATA/$CREATED" ]; then
        for i in $(all_nodes); do
            node_pid "$i" >/dev/null || continue
            echo "cluster_state: $(cluster_state "$i") (node $i)"
            break
        done
    else
        echo "cluster: not created yet (tools/cluster.sh start)"
    fi
}

cmd_kill() {
    local i pid
    i=$(node_index "${1:-}")
    pid=$(node_pid "$i") || die "node $i is not running"
    kill -KILL "$pid"
    echo "cluster: killed node $i (port $(port_of "$i"), pid $pid); tools/cluster.sh restart $i brings it back"
}

cmd_restart() {
    local i
    i=$(node_index "${1:-}")
    [ -f "$(node_dir "$i")/keyraft.conf" ] || die "node $i has never run (tools/cluster.sh start)"
    stop_node "$i"
    wait_stopped "$i"
    start_node "$i"
    echo "cluster: node $i (port $(port_of "$i")) restarted, pid $(node_pid "$i")"
}

cmd_logs() {
    local i log
    i=$(node_index "${1:-}")
    log="$(node_dir "$i")/keyraft.log"
    [ -f "$log" ] || die "node $i has no log yet"
    if [ "${2:-}" = -f ]; then exec tail -n 50 -f "$log"; fi
    tail -n 50 "$log"
}

cmd_clean() {
    [ -d "$DATA" ] || {
        echo "cluster: nothing to clean ($DATA does not exist)"
        return 0
    }
    [ -f "$DATA/$MARKER" ] || die "$DATA was not made by tools/cluster.sh ($MARKER missing): not removing it"
    cmd_stop
    rm -rf "$DATA"
    echo "cluster: removed $DATA"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
kill) cmd_kill "${2:-}" ;;
restart) cmd_restart "${2:-}" ;;
logs) cmd_logs "${2:-}" "${3:-}" ;;
clean) cmd_clean ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
