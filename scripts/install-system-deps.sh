#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: the SSH server and client
# that tests/deployments/ run a networked DVC remote on. Idempotent: installs
# only what is missing, and only as root (CI and the dev machines run as root;
# elsewhere it says what to install and leaves the machine alone).
set -euo pipefail

PACKAGES=(openssh-server openssh-client)

missing=()
for package in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-system-deps: already installed: ${PACKAGES[*]}"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-deps: not root; install these yourself: ${missing[*]}" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: no apt-get here; install these yourself: ${missing[*]}" >&2
    exit 0
fi

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The tests start their own sshd on a loopback port; the package's service is not used.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-system-deps: installed ${missing[*]}"
