#!/usr/bin/env bash
# A container engine for the container tests (sourced by tests/container/test-docker.sh):
# Debian's docker.io and docker-compose installed when missing, and a private dockerd started
# when no engine answers, with its own socket, state under $NEUCO_TEST_CACHE/docker (so images
# and build cache survive between runs) and no default bridge (--bridge=none: sandboxes without
# one still work; builds use host networking). stop_engine stops only a dockerd it started.

NEUCO_TEST_CACHE=${NEUCO_TEST_CACHE:-/var/cache/neuco-test-docker}
PRIVATE_ENGINE_RUN=/run/neuco-test-docker
# Minimum versions the Dockerfile and docker-compose.yml need (README "Docker"): Engine 20.10
# (RUN without BuildKit-only syntax, healthcheck start_period), Compose v1 1.28 (profiles),
# Compose v2 2.0.
MIN_ENGINE=20.10
MIN_COMPOSE_V1=1.28
MIN_COMPOSE_V2=2.0
STARTED_DOCKERD_PID=
COMPOSE_VERSION=
export COMPOSE_VERSION

note() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'test-docker: error: %s\n' "$*" >&2
    exit 1
}

# version_at_least HAVE WANT: numeric dotted comparison of the leading x.y[.z].
version_at_least() {
    local have=${1%%[^0-9.]*} want=$2
    [[ $(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1) == "$want" ]]
}

ensure_docker_packages() {
    local missing=()
    [[ -x /usr/bin/docker && -x /usr/sbin/dockerd ]] || missing+=(docker.io)
    command -v docker-compose >/dev/null || /usr/bin/docker compose version >/dev/null 2>&1 ||
        missing+=(docker-compose)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    ((${#missing[@]} == 0)) && return 0
    [[ $EUID -eq 0 ]] || die "missing ${missing[*]}; run as root or install them"
    note "installing ${missing[*]} (Debian packages)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
}

# The Debian docker CLI (20.10 has BuildKit built in); a newer CLI elsewhere on PATH may need a
# buildx plugin it does not have. Put first on PATH for compose, which calls `docker build`.
use_docker_cli() {
    local bin=$1
    mkdir -p "$bin"
    ln -sf /usr/bin/docker "$bin/docker"
    PATH=$bin:$PATH
    export PATH
}

engine_answers() {
    timeout 20 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

ensure_engine() {
    use_docker_cli "$TEST_TMP/bin"
    if [[ -n ${DOCKER_HOST:-} ]] && engine_answers; then
        note "using the engine at $DOCKER_HOST"
    elif [[ -z ${DOCKER_HOST:-} ]] && engine_answers; then
        note "using the running engine (/var/run/docker.sock)"
    else
        export DOCKER_HOST=unix://$PRIVATE_ENGINE_RUN/docker.sock
        if engine_answers; then
            note "using the private engine left running at $DOCKER_HOST"
        else
            [[ $EUID -eq 0 ]] || die "no Docker engine answers and starting one needs root"
            mkdir -p "$PRIVATE_ENGINE_RUN" "$NEUCO_TEST_CACHE/docker"
            note "starting a private dockerd ($DOCKER_HOST, state in $NEUCO_TEST_CACHE/docker)"
            dockerd --data-root "$NEUCO_TEST_CACHE/docker" --exec-root "$PRIVATE_ENGINE_RUN/exec" \
                --pidfile "$PRIVATE_ENGINE_RUN/dockerd.pid" --host "$DOCKER_HOST" \
                --storage-driver overlay2 --bridge none --iptables=false --ip-masq=false \
                --ip-forward=false --containerd-namespace neuco-test \
                --containerd-plugins-namespace neuco-test-plugins \
                >"$PRIVATE_ENGINE_RUN/dockerd.log" 2>&1 &
            STARTED_DOCKERD_PID=$!
            local _
            for _ in $(seq 60); do
                engine_answers && break
                kill -0 "$STARTED_DOCKERD_PID" 2>/dev/null || {
                    tail -20 "$PRIVATE_ENGINE_RUN/dockerd.log" >&2
                    die "dockerd exited"
                }
                sleep 1
            done
            engine_answers || die "dockerd did not answer within 60 s"
        fi
    fi
    local engine
    engine=$(docker version --format '{{.Server.Version}}')
    version_at_least "$engine" "$MIN_ENGINE" ||
        die "Docker Engine $engine is older than $MIN_ENGINE"
    note "Docker Engine $engine"
}

# Sets COMPOSE (the command, as an array) to v2 when present, else v1; checks the minimum.
find_compose() {
    local version
    if version=$(docker compose version --short 2>/dev/null); then
        COMPOSE=(docker compose)
        version_at_least "${version#v}" "$MIN_COMPOSE_V2" ||
            die "Compose $version is older than $MIN_COMPOSE_V2"
    elif command -v docker-compose >/dev/null; then
        COMPOSE=(docker-compose)
        version=$(docker-compose version --short)
        if [[ ${version#v} == 2.* ]]; then
            version_at_least "${version#v}" "$MIN_COMPOSE_V2" ||
                die "Compose $version is older than $MIN_COMPOSE_V2"
        else
            version_at_least "$version" "$MIN_COMPOSE_V1" ||
                die "Compose $version is older than $MIN_COMPOSE_V1 (profiles)"
        fi
    else
        die "no Docker Compose found (docker compose or docker-compose)"
    fi
    COMPOSE_VERSION=$version
    note "Compose: ${COMPOSE[*]} $version"
}

stop_engine() {
    [[ -n $STARTED_DOCKERD_PID ]] || return 0
    note "stopping the private dockerd (pid $STARTED_DOCKERD_PID)"
    kill -TERM "$STARTED_DOCKERD_PID" 2>/dev/null || true
    local _
    for _ in $(seq 30); do
        kill -0 "$STARTED_DOCKERD_PID" 2>/dev/null || break
        sleep 1
    done
    kill -0 "$STARTED_DOCKERD_PID" 2>/dev/null && kill -KILL "$STARTED_DOCKERD_PID"
    wait "$STARTED_DOCKERD_PID" 2>/dev/null || true
    STARTED_DOCKERD_PID=
}
