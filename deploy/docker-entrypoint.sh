#!/bin/sh
# Container entry point: runs the command given (default: keyraft-server
# /etc/keyraft/keyraft.conf). For keyraft-server it adds
# `--cluster-announce-ip <this container's current IP>` (or
# $KEYRAFT_ANNOUNCE_IP when set): the address other nodes use for gossip and
# Raft. The IP may differ after a restart; the node keeps its id and data
# (in /data) and peers re-learn its address from gossip.
set -eu
if [ "${1:-}" = keyraft-server ]; then
    ip="${KEYRAFT_ANNOUNCE_IP:-$(hostname -i 2>/dev/null | awk '{ print $1 }')}"
    if [ -n "$ip" ]; then
        set -- "$@" --cluster-announce-ip "$ip"
    fi
fi
exec "$@"
