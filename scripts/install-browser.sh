#!/usr/bin/env bash
# The browser tests/ui/ drives through Playwright: Debian's Chromium at
# /usr/bin/chromium (Playwright's own browser download is not used). Idempotent:
# installs only when the binary is missing, and only as root (CI and the dev
# machines run as root; elsewhere it says what to install and leaves the machine
# alone, and the browser tests skip).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "install-browser: already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser: not root; install Chromium yourself (apt-get install chromium) or the browser tests skip" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get here; install Chromium at $CHROMIUM yourself or the browser tests skip" >&2
    exit 0
fi

echo "install-browser: installing chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Recommended packages stay: they bring the fonts the screenshots are drawn with.
apt-get install -y -qq chromium >/dev/null
echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
