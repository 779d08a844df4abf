#!/usr/bin/env bash
# Build the user-code image (deployments/Dockerfile): see --help.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL_BASE_TAG=asset-platform-base:bookworm
DEFAULT_BASE=python:3.11-slim-bookworm
DEFAULT_TORCH_INDEX=https://download.pytorch.org/whl/cpu

usage() {
    cat <<EOF
Usage: scripts/build-image.sh [options]

Builds deployments/Dockerfile into an image. Idempotent: a second run with the
same inputs reuses Docker's layer cache (and the wheelhouse), so it rebuilds only
what changed; a code-only change rebuilds the code layers in seconds.

Options:
  -t, --tag NAME        image name (default: asset-platform:local); push it yourself
                        (docker push NAME) after tagging it for your registry
  --base IMAGE          base image: Debian bookworm with Python 3.11
                        (default: $DEFAULT_BASE, pulled from Docker Hub)
  --local-base          make the base here instead, without a registry: a Debian
                        bookworm root file system by mmdebstrap (python3, python3-venv,
                        ca-certificates, libgomp1), imported as $LOCAL_BASE_TAG;
                        reused when that image exists
  --offline             fill the wheelhouse ($ASSET_PLATFORM_WHEELHOUSE, default
                        ~/.cache/asset-platform/wheelhouse, shared by every clone and
                        linked into the context's build/) with every wheel the lock names (pip wheel
                        on this machine, from its pip configuration and cache), then
                        build with no network at all (docker build --network none),
                        installing only from the wheelhouse. The wheelhouse is rebuilt
                        only when the lock, the overrides or the dependencies in
                        pyproject.toml change.
                        This machine must run Linux x86_64 and Python 3.11, as the image.
  --torch-index URL     where torch comes from. Online, the image's TORCH_INDEX_URL
                        (default: $DEFAULT_TORCH_INDEX, the CPU build); for a
                        GPU image a CUDA index such as https://download.pytorch.org/whl/cu128,
                        or '' for PyPI's default build (CUDA on Linux). Offline, an extra
                        index for filling the wheelhouse (default: none, pip's own
                        configuration decides, as for .venv: \`pip download torch==<lock>\`
                        shows which build that is)
  --context DIR         build context (default: the repository's working tree, $REPO_ROOT)
  -h, --help            this text

Environment: DOCKER (default: docker), PYTHON (the interpreter whose pip fills
the wheelhouse; default: .venv/bin/python, else python3).

The last lines printed are the image's name, id, size and the build's duration.
Online builds (no --offline) run with host networking: the RUN steps reach the
package index from this machine's network.
EOF
}

log() { echo "build-image: $*" >&2; }
die() { log "$*"; exit 1; }

tag=asset-platform:local
base=$DEFAULT_BASE
local_base=no
offline=no
torch_index=
torch_index_given=no
context=$REPO_ROOT
while [ $# -gt 0 ]; do
    case $1 in
        -t | --tag) tag=${2:?--tag needs a name}; shift 2 ;;
        --base) base=${2:?--base needs an image}; shift 2 ;;
        --local-base) local_base=yes; shift ;;
        --offline) offline=yes; shift ;;
        --torch-index) [ $# -ge 2 ] || die "--torch-index needs a URL (or '')"; torch_index=$2; torch_index_given=yes; shift 2 ;;
        --context) context=$(cd "${2:?--context needs a folder}" && pwd); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

DOCKER=${DOCKER:-docker}
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO_ROOT/.venv/bin/python" ]; then PYTHON=$REPO_ROOT/.venv/bin/python; else PYTHON=python3; fi
fi
[ -f "$context/deployments/Dockerfile" ] || die "no deployments/Dockerfile in the context $context"
"$DOCKER" info >/dev/null 2>&1 || die "no Docker engine answers ('$DOCKER info' failed); start one (as root: scripts/docker-engine.sh start)"

# BuildKit reads deployments/Dockerfile.dockerignore, the legacy builder .dockerignore
# (the same patterns). Without the buildx plugin only the legacy builder works.
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! "$DOCKER" buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
fi

make_local_base() {
    if "$DOCKER" image inspect "$LOCAL_BASE_TAG" >/dev/null 2>&1; then
        log "base: $LOCAL_BASE_TAG exists, reused"
        return
    fi
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
            die "--local-base needs mmdebstrap (apt-get install mmdebstrap)"
        fi
        log "installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null \
            || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null; }
    fi
    local work
    work=$(mktemp -d)
    log "base: making $LOCAL_BASE_TAG with mmdebstrap (Debian bookworm, Python 3.11)"
    local options=(--quiet --variant=apt "--include=python3,python3-venv,ca-certificates,libgomp1"
        "--dpkgopt=path-exclude=/usr/share/doc/*" "--dpkgopt=path-include=/usr/share/doc/*/copyright"
        "--dpkgopt=path-exclude=/usr/share/man/*" "--dpkgopt=path-exclude=/usr/share/info/*"
        "--dpkgopt=path-exclude=/usr/share/locale/*")
    # This machine's Debian sources when it has them (a mirror or snapshot it can reach).
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        mmdebstrap "${options[@]}" bookworm "$work/base.tar" - </etc/apt/sources.list.d/debian.sources
    else
        mmdebstrap "${options[@]}" bookworm "$work/base.tar" http://deb.debian.org/debian
    fi
    "$DOCKER" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$work/base.tar" "$LOCAL_BASE_TAG" >/dev/null
    rm -rf "$work"
    log "base: $LOCAL_BASE_TAG imported"
}

# What the image installs, as deployments/Dockerfile lists it: the project's
# dependencies and its build-system's requirements (setuptools, for the code).
requirements() {
    "$PYTHON" -c "import sys, tomllib; d = tomllib.load(open(sys.argv[1], 'rb')); print('\n'.join(d['project']['dependencies'] + d['project']['optional-dependencies']['spark-connect'] + d['build-system']['requires']))" \
        "$context/pyproject.toml"
}

# Every input of the wheelhouse: when none changed, the wheels are reused as they are.
wheelhouse_key() {
    {
        cat "$context/constraints/lock.txt" "$context/constraints/overrides.txt"
        requirements
        echo "torch index: $torch_index_given $torch_index"
        "$PYTHON" -c 'import sys, sysconfig; print(sys.version_info[:2], sysconfig.get_platform())'
    } | sha256sum | cut -d' ' -f1
}

fill_wheelhouse() {
    local wheelhouse=$1
    "$PYTHON" -c 'import sys, sysconfig; sys.exit(not (sys.version_info[:2] == (3, 11) and sysconfig.get_platform() == "linux-x86_64"))' \
        || die "--offline: $PYTHON is not CPython 3.11 on Linux x86_64, the image's platform; build online instead"
    local key
    key=$(wheelhouse_key)
    if [ -f "$wheelhouse/.key" ] && [ "$(cat "$wheelhouse/.key")" = "$key" ]; then
        log "wheelhouse: $wheelhouse is up to date ($(find "$wheelhouse" -name '*.whl' | wc -l) wheels)"
        return
    fi
    log "wheelhouse: filling $wheelhouse from constraints/lock.txt with $PYTHON -m pip wheel"
    local staging=$wheelhouse.partial
    rm -rf "$staging"
    mkdir -p "$staging"
    requirements >"$staging/.requirements.txt"
    local extra=()
    [ -z "$torch_index" ] || extra=(--extra-index-url "$torch_index")  # only when given
    "$PYTHON" -m pip wheel --quiet --disable-pip-version-check "${extra[@]}" --wheel-dir "$staging" \
        -c "$context/constraints/lock.txt" -r "$staging/.requirements.txt"
    "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$staging" \
        -r "$context/constraints/overrides.txt"
    rm "$staging/.requirements.txt"
    echo "$key" >"$staging/.key"
    rm -rf "$wheelhouse"
    mv "$staging" "$wheelhouse"
    log "wheelhouse: $(find "$wheelhouse" -name '*.whl' | wc -l) wheels, $(du -sh "$wheelhouse" | cut -f1)"
}

build_args=()
if [ "$local_base" = yes ]; then
    make_local_base
    base=$LOCAL_BASE_TAG
fi
build_args+=(--build-arg "BASE_IMAGE=$base")
[ "$torch_index_given" = no ] || build_args+=(--build-arg "TORCH_INDEX_URL=$torch_index")

if [ "$offline" = yes ]; then
    "$DOCKER" image inspect "$base" >/dev/null 2>&1 || die "--offline: the base image $base is not here (docker pull it, or use --local-base)"
    # The wheelhouse is kept in the user's cache (not in a checkout) and linked into
    # the build context, so one fill serves every clone and context on this machine.
    cache=${ASSET_PLATFORM_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/asset-platform/wheelhouse}
    mkdir -p "$(dirname "$cache")"
    fill_wheelhouse "$cache"
    rm -rf "$context/build/wheelhouse"
    mkdir -p "$context/build"
    # Hard links where the context is on the same file system, else a copy.
    cp -al "$cache" "$context/build/wheelhouse" 2>/dev/null \
        || { rm -rf "$context/build/wheelhouse" && cp -a "$cache" "$context/build/wheelhouse"; }
    build_args+=(--build-arg WHEELHOUSE=build/wheelhouse --network none)
else
    # A folder that is never there: an online build ignores a wheelhouse left in build/.
    build_args+=(--build-arg WHEELHOUSE=build/no-wheelhouse --network host)
fi

log "building $tag from $context (base $base, $([ "$offline" = yes ] && echo offline || echo online))"
started=$(date +%s)
"$DOCKER" build -f "$context/deployments/Dockerfile" "${build_args[@]}" -t "$tag" "$context"
seconds=$(($(date +%s) - started))

id=$("$DOCKER" image inspect -f '{{.Id}}' "$tag")
size=$("$DOCKER" image inspect -f '{{.Size}}' "$tag")
echo "image: $tag"
echo "id: $id"
echo "size: $((size / 1000000)) MB"
echo "build: ${seconds} s"
