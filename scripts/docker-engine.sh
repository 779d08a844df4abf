#!/usr/bin/env bash
# The Docker engine the image tests need (tests/deployments/test_container_image.py).
#
#   scripts/docker-engine.sh start   start dockerd in the background when no engine answers
#   scripts/docker-engine.sh stop    stop the dockerd that `start` started; nothing else
#   scripts/docker-engine.sh status  say whether an engine answers, and whose it is
#
# `start` records the pid of the dockerd it starts in $ASSET_PLATFORM_DOCKERD_STATE
# (default /tmp/asset-platform-dockerd); `stop` stops that process only, so an engine
# that was already running (systemd's, a developer's) is never touched. Images and
# Docker's layer cache stay in /var/lib/docker across stops, so the next start
# reuses them. The engine it starts has no default bridge network (--bridge=none):
# the tests use host networking only, and a container without it fails loudly.
# dockerd comes from Debian's docker.io (scripts/install-system-deps.sh); it runs as root.
set -euo pipefail

STATE=${ASSET_PLATFORM_DOCKERD_STATE:-/tmp/asset-platform-dockerd}
PID_FILE=$STATE/pid
LOG=$STATE/dockerd.log
START_S=60

answers() { docker info >/dev/null 2>&1; }
log() { echo "docker-engine: $*" >&2; }

ours() {
    # The recorded process, if it is still a dockerd.
    [ -f "$PID_FILE" ] || return 1
    local pid
    pid=$(cat "$PID_FILE")
    [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q '^[^ ]*dockerd '
}

start() {
    if answers; then
        log "an engine answers already; nothing started"
        return 0
    fi
    if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
        log "dockerd is not installed (apt-get install docker.io, or scripts/install-system-deps.sh)"
        return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        log "dockerd must be started as root; start an engine yourself"
        return 1
    fi
    mkdir -p "$STATE"
    # Its own session, outliving this script; stdin closed. setsid forks when it already leads a
    # process group (a caller with job control on), so $! may be setsid's own short-lived pid:
    # the pid recorded is the dockerd's, found once it runs.
    setsid dockerd --bridge=none --iptables=false </dev/null >"$LOG" 2>&1 &
    echo $! >"$PID_FILE"
    local waited=0
    until answers; do
        if ! ours; then
            # No engine answered before this start: the newest dockerd is the one just started.
            pgrep -n -x dockerd >"$PID_FILE" 2>/dev/null || true
        fi
        if ! ours; then
            log "dockerd exited at start; its log ($LOG):"
            tail -20 "$LOG" >&2
            rm -f "$PID_FILE"
            return 1
        fi
        if [ "$waited" -ge "$START_S" ]; then
            log "dockerd did not answer within ${START_S}s; its log ($LOG):"
            tail -20 "$LOG" >&2
            stop
            return 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    ours || pgrep -n -x dockerd >"$PID_FILE" 2>/dev/null || true
    log "started dockerd (pid $(cat "$PID_FILE"), log $LOG)"
}

stop() {
    if ! ours; then
        rm -f "$PID_FILE"
        log "no dockerd started by this script is running; nothing stopped"
        return 0
    fi
    local pid
    pid=$(cat "$PID_FILE")
    kill -TERM "$pid"
    for _ in $(seq 60); do
        [ -d "/proc/$pid" ] || break
        sleep 1
    done
    if [ -d "/proc/$pid" ]; then
        log "dockerd $pid did not stop within 60s; killing it"
        kill -KILL "$pid" || true
    fi
    rm -f "$PID_FILE"
    log "stopped dockerd (pid $pid)"
}

status() {
    if answers; then
        if ours; then echo "running (started by this script, pid $(cat "$PID_FILE"))"; else echo "running (not started by this script)"; fi
    else
        echo "not running"
        return 1
    fi
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *)
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
