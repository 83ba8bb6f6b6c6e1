#!/usr/bin/env bash
# Debian packages the test suite needs: Chromium (browser test of the service's page, driven by
# Playwright with executable_path=/usr/bin/chromium) and PostgreSQL (a throwaway server started
# by a pytest fixture). Installs only what is missing; needs root or sudo for apt-get.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-system-deps: need root (or sudo) to apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi
echo "install-system-deps: apt-get install ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a cluster on install; the tests start their own on a free port
if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v service >/dev/null 2>&1; then
    $SUDO service postgresql stop >/dev/null 2>&1 || true
fi
