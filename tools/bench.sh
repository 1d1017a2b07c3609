#!/usr/bin/env bash
# Benchmarks keyraft-server against redis-server 7.0 on this machine and
# prints keyraft/redis ratios (higher is better for keyraft).
#
# 1. Throughput: redis-benchmark -c CLIENTS for each pipeline depth in
#    PIPELINES, tests TESTS. Both servers run side by side with persistence
#    off; every round runs both (alternating which goes first) so background
#    load on the machine hits both alike. Reported: the median over ROUNDS
#    of requests per second, and of the server's CPU time per request (from
#    /proc/<pid>/task/*/schedstat), which other load on a busy machine
#    disturbs far less than throughput.
# 2. Memory: KEYS distinct small string keys (SET key:<i> xxx, loaded with
#    redis-cli --pipe) into a fresh server of each kind; reported per key as
#    used_memory (INFO memory) growth, or VmRSS growth for both when keyraft
#    has no used_memory.
#
# Usage: tools/bench.sh            (from the repository root; `make bench`)
# Environment: KEYRAFT_SERVER REDIS_SERVER ROUNDS REQUESTS CLIENTS PIPELINES
#              TESTS KEYS
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KEYRAFT=${KEYRAFT_SERVER:-$ROOT/build/keyraft-server}
REDIS=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-"1 16"}
TESTS=${TESTS:-ping_mbulk,set,get,incr,mset}
KEYS=${KEYS:-1000000}

for tool in redis-benchmark redis-cli python3; do
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
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server <kind> <port>: starts keyraft or redis on 127.0.0.1:<port> with
# persistence off, waits (bounded) until it answers, records its pid in
# STARTED_PID.
start_server() {
    local kind=$1 port=$2 dir="$WORK/$1-$2"
    mkdir -p "$dir"
    if [ "$kind" = keyraft ]; then
        "$KEYRAFT" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
            >"$dir/log" 2>&1 &
    else
        "$REDIS" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
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

# ---- Throughput ----

KR_PORT=$(free_port)
start_server keyraft "$KR_PORT"
KR_PID=$STARTED_PID
RD_PORT=$(free_port)
start_server redis "$RD_PORT"
RD_PID=$STARTED_PID

# redis-benchmark counts error replies as answers: make sure keyraft really
# implements what is measured.
for probe in "SET bench:probe 1" "GET bench:probe" "INCR bench:probe" "MSET bench:a 1 bench:b 2"; do
    # shellcheck disable=SC2086
    reply=$(redis-cli -p "$KR_PORT" $probe 2>&1)
    case $reply in
    ERR* | *"unknown command"*)
        echo "bench: warning: keyraft answers '$probe' with '$reply'; its numbers count errors" >&2
        ;;
    esac
done
redis-cli -p "$KR_PORT" DEL bench:probe bench:a bench:b >/dev/null

echo "keyraft: $KEYRAFT (pid $KR_PID, port $KR_PORT)"
echo "redis:   $("$REDIS" --version | head -1) (pid $RD_PID, port $RD_PORT)"
echo "redis-benchmark -c $CLIENTS -n $REQUESTS (x P) -t $TESTS, $ROUNDS rounds, alternating"
echo

RESULTS="$WORK/results"
: >"$RESULTS"
cpu_ns() { # <pid>: CPU time the process has used, all threads, in ns
    cat /proc/"$1"/task/*/schedstat | awk '{ sum += $1 } END { printf "%.0f", sum }'
}

run_benchmark() { # <kind> <port> <pid> <pipeline> <round>
    local n=$((REQUESTS * $4)) test before after
    [ "$4" -gt 16 ] && n=$((REQUESTS * 16))
    for test in ${TESTS//,/ }; do
        before=$(cpu_ns "$3")
        redis-benchmark -h 127.0.0.1 -p "$2" -c "$CLIENTS" -n "$n" -P "$4" -t "$test" --csv -q \
            2>/dev/null | tail -n +2 | tr -d '"' |
            awk -F, -v kind="$1" -v p="$4" -v round="$5" \
                '{ sub(/ \(.*/, "", $1); printf "%s %s %s %s %s ", p, $1, kind, round, $2 }' \
                >>"$RESULTS"
        after=$(cpu_ns "$3")
        echo $(((after - before) / n)) >>"$RESULTS"
    done
}

for round in $(seq "$ROUNDS"); do
    for p in $PIPELINES; do
        if [ $((round % 2)) -eq 1 ]; then
            run_benchmark keyraft "$KR_PORT" "$KR_PID" "$p" "$round"
            run_benchmark redis "$RD_PORT" "$RD_PID" "$p" "$round"
        else
            run_benchmark redis "$RD_PORT" "$RD_PID" "$p" "$round"
            run_benchmark keyraft "$KR_PORT" "$KR_PID" "$p" "$round"
        fi
    done
    echo "round $round/$ROUNDS done"
done
echo
stop_server "$KR_PID"
stop_server "$RD_PID"

python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows, order = {}, []
for line in open(sys.argv[1]):
    p, test, kind, _round, rps, cpu_ns = line.split()
    key = (int(p), test)
    if key not in rows:
        rows[key] = {"keyraft": ([], []), "redis": ([], [])}
        order.append(key)
    rows[key][kind][0].append(float(rps))
    rows[key][kind][1].append(float(cpu_ns))
def med(values):
    return statistics.median(values) if values else 0.0
print("medians; rps ratio = keyraft/redis throughput, cpu ratio = redis/keyraft server")
print("CPU time per request (both: higher is better for keyraft)")
print(f"{'P':>3} {'test':<11} {'keyraft rps':>11} {'redis rps':>10} {'ratio':>6}"
      f"  {'keyraft ns':>10} {'redis ns':>9} {'ratio':>6}")
worst = []
for key in order:
    kr, rd = rows[key]["keyraft"], rows[key]["redis"]
    rps_ratio = med(kr[0]) / med(rd[0]) if med(rd[0]) else 0.0
    cpu_ratio = med(rd[1]) / med(kr[1]) if med(kr[1]) else 0.0
    worst.append(rps_ratio)
    print(f"{key[0]:>3} {key[1]:<11} {med(kr[0]):>11.0f} {med(rd[0]):>10.0f} {rps_ratio:>6.2f}"
          f"  {med(kr[1]):>10.0f} {med(rd[1]):>9.0f} {cpu_ratio:>6.2f}")
if worst:
    print(f"lowest rps ratio: {min(worst):.2f}")
EOF
echo

# ---- Memory per key ----

used_memory() { # <port>: used_memory from INFO memory, or empty
    redis-cli -p "$1" INFO memory 2>/dev/null | tr -d '\r' | sed -n 's/^used_memory://p'
}
rss_bytes() { # <pid>
    awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

LOAD="$WORK/load.resp"
awk -v n="$KEYS" 'BEGIN {
    for (i = 0; i < n; i++) {
        k = "key:" i
        printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n", length(k), k
    }
}' >"$LOAD"

declare -A MEM_USED MEM_RSS
for kind in keyraft redis; do
    port=$(free_port)
    start_server "$kind" "$port"
    pid=$STARTED_PID
    used0=$(used_memory "$port")
    rss0=$(rss_bytes "$pid")
    redis-cli -p "$port" --pipe <"$LOAD" >"$WORK/pipe-$kind.log" 2>&1 || {
        echo "bench: loading $kind failed:" >&2
        cat "$WORK/pipe-$kind.log" >&2
        exit 1
    }
    keys=$(redis-cli -p "$port" DBSIZE)
    [ "$keys" = "$KEYS" ] || { echo "bench: $kind holds $keys keys, expected $KEYS" >&2; exit 1; }
    used1=$(used_memory "$port")
    rss1=$(rss_bytes "$pid")
    MEM_USED[$kind]=""
    [ -n "$used0" ] && [ -n "$used1" ] && MEM_USED[$kind]=$((used1 - used0))
    MEM_RSS[$kind]=$((rss1 - rss0))
    stop_server "$pid"
done

echo "memory for $KEYS keys (SET key:<i> xxx):"
python3 - "$KEYS" "${MEM_USED[keyraft]}" "${MEM_USED[redis]}" \
    "${MEM_RSS[keyraft]}" "${MEM_RSS[redis]}" <<'EOF'
import sys
n = int(sys.argv[1])
used_kr, used_rd, rss_kr, rss_rd = sys.argv[2:6]
def line(what, kr, rd):
    kr, rd = int(kr) / n, int(rd) / n
    print(f"  {what:<12} keyraft {kr:7.1f} B/key   redis {rd:7.1f} B/key   "
          f"keyraft/redis {kr / rd:.2f} (lower is better)")
if used_kr and used_rd:
    line("used_memory", used_kr, used_rd)
else:
    print("  used_memory  not reported by keyraft's INFO memory; comparing RSS")
line("RSS", rss_kr, rss_rd)
EOF
