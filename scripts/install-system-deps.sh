#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python:
# - openssh-server/openssh-client: tests/deployments/ run a networked DVC remote on a loopback sshd;
# - chromium: tests/ui/ drive Debian's Chromium at /usr/bin/chromium through Playwright
#   (Playwright's own browser download is not used);
# - openjdk-17-jre-headless: tests/scale/ and the Spark closed loop run Spark `local[2]` in a local JVM;
# - docker.io, mmdebstrap: tests/deployments/test_container_image.py builds and runs the
#   production image (scripts/docker-engine.sh starts dockerd; mmdebstrap makes the base image).
# Idempotent: installs only what is missing, and only as root (CI and the dev
# machines run as root; elsewhere it says what to install and leaves the machine alone).
set -euo pipefail

missing_of() {
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || echo "$package"
    done
}

# $1: yes to keep recommended packages (Chromium's fonts draw the screenshots); the rest: packages.
install_group() {
    local recommends=$1
    shift
    local missing
    missing=$(missing_of "$@")
    if [ -z "$missing" ]; then
        echo "install-system-deps: already installed: $*"
        return
    fi
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "install-system-deps: cannot install here (need root and apt-get); install yourself:" $missing >&2
        return
    fi
    echo "install-system-deps: installing" $missing
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
    local flags=(-y -qq)
    [ "$recommends" = yes ] || flags+=(--no-install-recommends)
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install "${flags[@]}" $missing >/dev/null
    echo "install-system-deps: installed" $missing
}

# The tests start their own sshd on a loopback port; the package's service is not used.
install_group no openssh-server openssh-client
install_group yes chromium
# Spark 4 runs on Java 17; skipped where some Java runtime is already on the PATH.
command -v java >/dev/null 2>&1 || install_group no openjdk-17-jre-headless
# The tests start their own dockerd (scripts/docker-engine.sh); the package's service is not used.
install_group no docker.io mmdebstrap
