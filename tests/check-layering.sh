#!/usr/bin/env bash
# Fails when a module includes a header from a layer above it
# (design.md: node -> cluster -> raft -> storage; resp and storage stand alone).
set -u
root=${1:-.}
status=0
check() { # dir, allowed include prefixes...
    local dir=$1; shift
    [ -d "$root/$dir" ] || return 0
    while IFS= read -r line; do
        local inc=${line#*\"}; inc=${inc%%\"*}
        local ok=0
        for allowed in "$@"; do [[ $inc == $allowed/* ]] && ok=1; done
        if [ $ok -eq 0 ]; then echo "layering: ${line%%:*} includes $inc"; status=1; fi
    done < <(grep -Hn '#include "' "$root/$dir"/*.[ch] 2>/dev/null | sed 's/:[0-9]*:/:/')
}
check resp resp
check storage storage
check raft raft storage
check cluster cluster raft storage
check node node cluster raft storage resp
[ $status -eq 0 ] && echo "layering: ok"
exit $status
