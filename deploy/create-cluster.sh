#!/bin/sh
# One-shot cluster creation for deploy/docker-compose.yml:
#   create-cluster.sh <replicas> <host> <host> ...
# Resolves each host name to its container IP (CLUSTER MEET takes IPs), runs
# `redis-cli --cluster create` once, then waits for cluster_state:ok on every
# node. When the first node already knows other nodes, the cluster exists
# (a restarted deployment) and nothing is created again.
#
# redis-cli's final check after creating dials the addresses CLUSTER NODES
# gives clients (cluster-announce-client-ipv4/-port: the host's published
# ports), which this container cannot reach: it reports them unreachable.
# That check is informational; the wait below is the real one.
set -eu
replicas=$1
shift
addrs=""
for host in "$@"; do
    ip=$(getent hosts "$host" | awk '{ print $1; exit }')
    [ -n "$ip" ] || { echo "create-cluster: cannot resolve $host" >&2; exit 1; }
    addrs="$addrs $ip:6379"
done
first=$1
known=$(redis-cli -h "$first" CLUSTER INFO | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')
if [ "${known:-1}" -gt 1 ]; then
    echo "create-cluster: $first already knows $known nodes: the cluster exists"
else
    # shellcheck disable=SC2086
    redis-cli --cluster create $addrs --cluster-replicas "$replicas" --cluster-yes || true
fi
for host in "$@"; do
    tries=0
    until redis-cli -h "$host" CLUSTER INFO | tr -d '\r' | grep -q '^cluster_state:ok$'; do
        tries=$((tries + 1))
        [ $tries -lt 120 ] || { echo "create-cluster: $host is not ok after 60 s" >&2; exit 1; }
        sleep 0.5
    done
done
echo "create-cluster: cluster_state:ok on all $# nodes"
