#!/usr/bin/env bash
# Keep exactly one NeuCo worker alive. Cron runs this every minute (see crontab.example);
# each run looks once, acts once and exits: it never waits for the worker it starts.
#
# What it reads (the worker's contract; see cronjobs/README.md):
#   <data>/worker.lock  flock'ed by the worker for its whole life, its pid written inside
#                       when it starts (so the file's mtime is the worker's start time);
#   <data>/heartbeat    rewritten by the worker at start and on every poll tick.
# What it decides:
#   no lock file, or the lock is free             -> start the worker
#   lock held, newest of heartbeat/lock is fresh  -> nothing (logs nothing)
#   lock held, both older than MAX_HEARTBEAT_AGE  -> SIGTERM the worker's process group,
#                                                    wait STOP_GRACE, SIGKILL it, then start
# Why two copies can never run: the worker itself refuses to start (exit 75) while another
# holds the lock; this script only adds that overlapping runs of itself skip quietly.
#
# Configuration: environment variables, or KEY=VALUE lines in $WATCHDOG_ENV_FILE (the same
# file the worker uses; variables already in the environment win). deploy/.env.example
# documents each. Secrets in that file are passed to the worker but never printed.
# Exit status: 0 when all is well or nothing was needed (another watchdog running, paused);
# 1 when it could not act (bad configuration, a worker that would not die).
set -euo pipefail

die() {
    printf '%s watchdog: error: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
    exit 1
}

log() {
    printf '%s watchdog: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$WATCHDOG_LOG"
}

# Parses rather than sources the file: a value is data, never shell code, and the file is the
# one docker compose and systemd read too (KEY=VALUE, # comments, optional quotes).
load_env_file() {
    local file=$1 line key value n=0
    [[ -f $file && -r $file ]] || die "WATCHDOG_ENV_FILE '$file' is not a readable file"
    while IFS= read -r line || [[ -n $line ]]; do
        n=$((n + 1))
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        # The line itself is never echoed: it may hold a token.
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] ||
            die "$file line $n is not KEY=VALUE"
        key=${BASH_REMATCH[2]}
        value=${BASH_REMATCH[3]}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then
            value=${BASH_REMATCH[1]}
        fi
        if [[ ! -v $key ]]; then
            export "$key=$value"
        fi
    done <"$file"
}

require_seconds() {
    local name=$1 value=$2
    [[ $value =~ ^[0-9]+([.][0-9]+)?$ ]] || die "$name must be a number of seconds, got '$value'"
}

mtime() {
    stat -c %Y -- "$1" 2>/dev/null || echo 0
}

# Exit status 0 when the lock is free; 1 when someone holds it; anything else is an error.
lock_is_free() {
    local rc=0
    flock -n -E 200 "$worker_lock" true || rc=$?
    case $rc in
        0) return 0 ;;
        200) return 1 ;;
        *) die "cannot probe $worker_lock (flock exit $rc)" ;;
    esac
}

# Waits up to $1 seconds for the lock to be released; flock does the waiting, so it is bounded.
lock_released_within() {
    flock -w "$1" -E 200 "$worker_lock" true 2>/dev/null
}

# Is $1 a live process of this pid namespace with the worker lock file open? Guards against
# signalling a stranger: a recycled pid, or a pid written by a worker inside a container.
holds_worker_lock() {
    local pid=$1 fd lock_path
    [[ $pid =~ ^[0-9]+$ ]] && ((pid > 1)) || return 1
    lock_path=$(readlink -f -- "$worker_lock")
    for fd in /proc/"$pid"/fd/*; do
        [[ $(readlink -- "$fd" 2>/dev/null) == "$lock_path" ]] && return 0
    done
    return 1
}

# The worker's process group when it leads one (started by this script's setsid, or by
# systemd), so its children die with it; otherwise the pid alone, never a group it merely
# belongs to (a terminal's job, say).
signal_target() {
    local pid=$1 stat_line
    local -a fields
    { stat_line=$(<"/proc/$pid/stat"); } 2>/dev/null || return 1
    read -r -a fields <<<"${stat_line##*) }"
    # After "pid (comm) ": state, ppid, pgrp, ...
    if [[ ${fields[2]} == "$pid" ]]; then echo "-$pid"; else echo "$pid"; fi
}

# Prints how the worker was stopped; fails when it would not let go of the lock.
stop_worker() {
    local pid=$1 target
    if [[ -n $WORKER_STOP_CMD ]]; then
        bash -c "$WORKER_STOP_CMD" </dev/null >>"$WORKER_LOG" 2>&1 ||
            log "WORKER_STOP_CMD exited with status $?"
        lock_released_within "$KILL_WAIT" && { echo "by WORKER_STOP_CMD"; return 0; }
        log "the worker still holds the lock ${KILL_WAIT}s after WORKER_STOP_CMD; not starting another"
        return 1
    fi
    target=$(signal_target "$pid") || { echo "(it exited by itself)"; return 0; }
    kill -TERM -- "$target" 2>/dev/null || true
    lock_released_within "$STOP_GRACE" && { echo "by SIGTERM to $target"; return 0; }
    log "worker pid $pid ignored SIGTERM for ${STOP_GRACE}s; sending SIGKILL to $target"
    kill -KILL -- "$target" 2>/dev/null || true
    lock_released_within "$KILL_WAIT" && { echo "by SIGKILL to $target"; return 0; }
    log "worker pid $pid still holds the lock ${KILL_WAIT}s after SIGKILL; not starting another"
    return 1
}

start_worker() {
    local reason=$1
    # Detached: its own session (setsid), immune to hangups (nohup), no terminal or pipe of
    # ours (stdin from /dev/null, output appended to the worker log), and without fd 9, the
    # watchdog lock: a worker inheriting it would hold it for life and every later run would
    # skip. No `wait`: this run ends now and the worker lives on.
    setsid nohup bash -c "$WORKER_CMD" </dev/null >>"$WORKER_LOG" 2>&1 9>&- &
    log "started worker (launcher pid $!): $reason"
}

main() {
    if [[ -n ${WATCHDOG_ENV_FILE:-} ]]; then
        load_env_file "$WATCHDOG_ENV_FILE"
    fi
    local tool
    for tool in flock setsid nohup stat readlink; do
        command -v "$tool" >/dev/null || die "'$tool' is not installed (util-linux / coreutils)"
    done

    # readlink -f: the repository even when cron calls this through a symlink.
    NEUCO_HOME=${NEUCO_HOME:-$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.." && pwd)}
    # The worker starts here too, so a relative NEUCO_DATA_DIR means the same place to both.
    cd -- "$NEUCO_HOME" || die "NEUCO_HOME '$NEUCO_HOME' is not a directory"
    NEUCO_DATA_DIR=${NEUCO_DATA_DIR:-./var}
    mkdir -p -- "$NEUCO_DATA_DIR"
    NEUCO_DATA_DIR=$(cd -- "$NEUCO_DATA_DIR" && pwd)
    NEUCO_LOG_DIR=${NEUCO_LOG_DIR:-$NEUCO_DATA_DIR/logs}
    MAX_HEARTBEAT_AGE=${MAX_HEARTBEAT_AGE:-300}
    STOP_GRACE=${STOP_GRACE:-45}
    KILL_WAIT=${KILL_WAIT:-10}
    WATCHDOG_LOG=${WATCHDOG_LOG:-$NEUCO_LOG_DIR/watchdog.log}
    WORKER_LOG=${WORKER_LOG:-$NEUCO_LOG_DIR/worker.log}
    WATCHDOG_LOCK=${WATCHDOG_LOCK:-$NEUCO_DATA_DIR/watchdog.lock}
    WATCHDOG_PAUSE_FILE=${WATCHDOG_PAUSE_FILE:-$NEUCO_DATA_DIR/watchdog.paused}
    WORKER_STOP_CMD=${WORKER_STOP_CMD:-}
    if [[ -z ${NEUCO_PYTHON:-} ]]; then
        NEUCO_PYTHON=python3
        [[ -x $NEUCO_HOME/.venv/bin/python ]] && NEUCO_PYTHON=$NEUCO_HOME/.venv/bin/python
    fi
    if [[ -z ${WORKER_CMD:-} ]]; then
        [[ -n ${NEUCO_CONFIG:-} ]] || die "NEUCO_CONFIG (the challenge YAML) is not set"
        # Single-quoted on purpose: bash -c expands the exported variables when it starts.
        # shellcheck disable=SC2016
        WORKER_CMD='exec "$NEUCO_PYTHON" -m worker run --config "$NEUCO_CONFIG"'
    fi
    # Whole seconds: it is compared with file mtimes, which `stat -c %Y` gives in seconds.
    [[ $MAX_HEARTBEAT_AGE =~ ^[0-9]+$ ]] ||
        die "MAX_HEARTBEAT_AGE must be whole seconds, got '$MAX_HEARTBEAT_AGE'"
    require_seconds STOP_GRACE "$STOP_GRACE"
    require_seconds KILL_WAIT "$KILL_WAIT"
    export NEUCO_HOME NEUCO_DATA_DIR NEUCO_LOG_DIR NEUCO_PYTHON
    worker_lock=$NEUCO_DATA_DIR/worker.lock
    heartbeat=$NEUCO_DATA_DIR/heartbeat
    mkdir -p -- "$(dirname -- "$WATCHDOG_LOG")" "$(dirname -- "$WORKER_LOG")" \
        "$(dirname -- "$WATCHDOG_LOCK")"

    # Runs that overlap (a slow stop, a clock jump, an operator by hand) skip quietly.
    exec 9>>"$WATCHDOG_LOCK"
    flock -n 9 || exit 0
    [[ -e $WATCHDOG_PAUSE_FILE ]] && exit 0

    # A missing lock file is never created here: this script may run as root, and a root-owned
    # lock file would stop the worker's own user from ever opening it.
    if [[ ! -e $worker_lock ]]; then
        start_worker "not running (no lock file yet)"
        return 0
    fi
    if lock_is_free; then
        start_worker "not running (lock free)"
        return 0
    fi

    local now last age pid=""
    now=$(date +%s)
    last=$(mtime "$heartbeat")
    # A worker that has just started may not have written its first heartbeat yet; its pid
    # in the lock file is then the newest sign of life.
    (($(mtime "$worker_lock") > last)) && last=$(mtime "$worker_lock")
    age=$((now - last))
    ((age <= MAX_HEARTBEAT_AGE)) && return 0

    read -r pid <"$worker_lock" || true
    local reason="hung (no heartbeat for ${age}s > ${MAX_HEARTBEAT_AGE}s)"
    if [[ -z $WORKER_STOP_CMD ]] && ! holds_worker_lock "$pid"; then
        log "worker $reason, but pid '${pid:0:20}' in $worker_lock is not a process here" \
            "holding it; not signalling anything (set WORKER_STOP_CMD if the worker runs in a" \
            "container)"
        return 1
    fi
    local how
    how=$(stop_worker "$pid") || return 1
    # A note for the next worker, which alerts the organisers (worker/monitoring.py) and
    # removes it: this script itself has no alert channel.
    printf '%s watchdog: worker %s; pid %s stopped %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        "$reason" "$pid" "$how" >"$NEUCO_DATA_DIR/watchdog-replaced"
    start_worker "$reason; previous pid $pid stopped $how"
}

main "$@"
