#!/usr/bin/env bash
# Fails when a .c/.h file differs from the committed .clang-format style.
set -u
root=${1:-.}
cd "$root" || exit 1
files=$(find resp storage raft cluster node tests -name '*.[ch]' 2>/dev/null | sort)
if ! clang-format --dry-run -Werror $files; then
    echo "format: run 'make format' (clang-format -i) on the files above"
    exit 1
fi
echo "format: ok ($(echo "$files" | wc -l) files)"
