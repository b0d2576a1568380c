#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for building (`build`) or testing (`test`).
# As root it installs; otherwise it prints the one command to run.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-build}

build_pkgs=(cmake gcc make pkg-config libh2o-evloop-dev libcjson-dev libsqlite3-dev libssl-dev
            zlib1g-dev libcmocka-dev libcurl4-openssl-dev)

missing=()
want=("${build_pkgs[@]}")
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# The tests need an aws CLI and boto3 from some python; Debian's packages serve when the
# machine has neither.
if [ "$what" = test ]; then
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)   # the TLS test makes a certificate
    command -v curl >/dev/null 2>&1 || missing+=(curl)         # ... and checks ALPN with curl
    if ! scripts/find-python.sh >/dev/null 2>&1; then missing+=(python3-boto3); fi
    if ! command -v aws >/dev/null 2>&1; then missing+=(awscli); fi
    command -v promtool >/dev/null 2>&1 || missing+=(prometheus)   # checks the /metrics text
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)     # the dashboard test's browser
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "missing packages; run: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

# (again whenever the lockfile differs from the one installed: its hash is kept beside the modules)
if [ "$what" = test ]; then
    want_lock=$(sha256sum tests/clients/package-lock.json | cut -d' ' -f1)
    if [ "$(cat tests/clients/node_modules/.kinesin-lock-sha256 2>/dev/null)" != "$want_lock" ]; then
        echo "installing npm test clients (tests/clients/package-lock.json)"
        (cd tests/clients && npm ci --no-audit --no-fund --loglevel=error &&
         echo "$want_lock" > node_modules/.kinesin-lock-sha256)
    fi
fi
