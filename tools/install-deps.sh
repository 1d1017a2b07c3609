#!/usr/bin/env bash
# Installs the Debian packages keyraft needs to build and test. Idempotent: it
# asks apt only for what is missing, so `make run` / `make test` stay fast on a
# machine that already has everything.
set -euo pipefail

packages=(
    build-essential cmake pkg-config
    libuv1-dev libraft-dev liblz4-dev liblua5.4-dev libmsgpack-dev
    redis-tools redis-server
    python3 python3-redis python3-pytest
    clang libclang-rt-14-dev clang-format
    docker-compose python3-yaml shellcheck
)

# ioredis (the npm registry) drives the cluster-client tests: Node.js and npm
# come from Debian unless the machine already has them.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

# tests/clients/package-lock.json pins the client versions.
install_clients() {
    local dir
    dir="$(cd "$(dirname "$0")/.." && pwd)/tests/clients"
    [ -d "$dir/node_modules/ioredis" ] && return 0
    echo "install-deps: npm ci in tests/clients"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    install_clients
    exit 0
fi

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged redis-server starts a system service on 6379; keyraft's tests
# start their own reference server, so stop it to keep the port free.
if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
$sudo service redis-server stop >/dev/null 2>&1 || true
install_clients
