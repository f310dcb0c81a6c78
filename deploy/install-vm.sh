#!/usr/bin/env bash
# Install or update the NeuCo worker on a VM without Docker: Ubuntu 24.04 (Python 3.12) or
# Debian 12 (Python 3.11), with the distribution's own Python and no third-party repository.
# Run as root from a clone of the repository: `sudo deploy/install-vm.sh`. Safe to run again
# (after `git pull`, or after filling in the settings): it only creates what is missing, resets
# ownership and modes, and never overwrites the settings or the challenge file.
#
# Layout (deploy/README.md explains the permissions):
#   /opt/neuco                 code and .venv               root:root    0755 (read-only to the worker)
#   /etc/neuco/neuco.env       settings and tokens          root:neuco   0640
#   /etc/neuco/challenge.yaml  the challenge                root:neuco   0640
#   /var/lib/neuco             database, lock, heartbeat,   neuco:neuco  0750
#                              leaderboard clone
#   /srv/neuco/labels          hidden labels                root:neuco   0750, files 0640
#   /var/log/neuco             logs                         neuco:neuco  0750
# Options (environment): TORCH_INDEX_URL (default PyTorch's CPU index), TORCH_FIND_LINKS (a
# folder holding the CPU wheel, e.g. /opt/wheels), PYTHON_BIN (default python3; 3.11 or 3.12).
# Without a running systemd (a container, a chroot) it installs everything else and says what
# it skipped: the unit is installed but not enabled or started, and the cron watchdog starts
# the worker itself, as neuco, instead of through systemctl.
set -euo pipefail

SRC=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=/opt/neuco
CONF_DIR=/etc/neuco
ENV_FILE=$CONF_DIR/neuco.env
CHALLENGE=$CONF_DIR/challenge.yaml
DATA_DIR=/var/lib/neuco
LABELS_DIR=/srv/neuco/labels
LOG_DIR=/var/log/neuco
UNIT=neuco-worker.service
PYTHON_BIN=${PYTHON_BIN:-python3}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}
TORCH_FIND_LINKS=${TORCH_FIND_LINKS:-}

say() { printf '==> %s\n' "$*"; }
skipped() { printf '==> SKIPPED (systemd is not running here): %s\n' "$*"; }
die() {
    printf 'install-vm: error: %s\n' "$*" >&2
    exit 1
}
python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }

[[ $EUID -eq 0 ]] || die "run as root: sudo $0"
if [[ -r /etc/os-release ]]; then
    # shellcheck source=/dev/null
    . /etc/os-release
    case "${ID:-}:${VERSION_ID:-}" in
        ubuntu:24.04 | debian:12) say "${PRETTY_NAME:-$ID $VERSION_ID}" ;;
        *) say "warning: written for Ubuntu 24.04 and Debian 12, this is ${PRETTY_NAME:-unknown}; going on" ;;
    esac
fi
# systemd as the running init, not merely installed (containers and chroots have its files).
systemd=no
[[ -d /run/systemd/system ]] && systemd=yes

say "system packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# python3-venv: Debian and Ubuntu ship venv's pip apart. util-linux: flock and setsid for the
# watchdog, runuser for this script. cron runs the watchdog.
apt-get install -y -q python3 python3-venv git rsync cron util-linux ca-certificates logrotate
command -v "$PYTHON_BIN" >/dev/null || die "$PYTHON_BIN not found"
python=$(python_version "$PYTHON_BIN")
# pyproject.toml's requires-python: the releases every pinned dependency has wheels for.
[[ $python == 3.11 || $python == 3.12 ]] ||
    die "$PYTHON_BIN is Python $python; the worker needs 3.11 or 3.12 (set PYTHON_BIN)"
say "Python $python ($PYTHON_BIN)"

say "user and directories"
id -u neuco >/dev/null 2>&1 ||
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin neuco
install -d -o root -g root -m 0755 "$PREFIX" /srv/neuco
install -d -o root -g neuco -m 0750 "$CONF_DIR" "$LABELS_DIR"
install -d -o neuco -g neuco -m 0750 "$DATA_DIR" "$LOG_DIR"
# The watchdog (root) appends to this file; owned by neuco so logrotate can run as neuco.
[[ -e $LOG_DIR/watchdog.log ]] || install -o neuco -g neuco -m 0640 /dev/null "$LOG_DIR/watchdog.log"

say "code in $PREFIX"
if [[ $SRC != "$PREFIX" ]]; then
    # Excluded paths are also spared by --delete: the venv survives, and no data, label or
    # secret from the clone is copied.
    rsync -a --delete \
        --exclude=/.git --exclude=/.venv --exclude=/.venv-evalai --exclude=/var \
        --exclude=/deploy/data --exclude=/deploy/.env --exclude=/deploy/challenge.yaml \
        --exclude=/demo-output --exclude=/bench-output --exclude=__pycache__ \
        --exclude='*.egg-info' --exclude=/build --exclude='/wheels/*.whl' \
        "$SRC"/ "$PREFIX"/
fi
chown -R root:root "$PREFIX"

say "virtualenv $PREFIX/.venv (CPU-only PyTorch, then the project, not editable)"
# A venv of another Python (the distribution was upgraded) is made again.
if [[ -x $PREFIX/.venv/bin/python && $(python_version "$PREFIX/.venv/bin/python") != "$python" ]]; then
    say "the venv is not Python $python: making it again"
    rm -rf "$PREFIX/.venv"
fi
[[ -x $PREFIX/.venv/bin/python ]] || "$PYTHON_BIN" -m venv "$PREFIX/.venv"
pip=("$PREFIX/.venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip
torch_pin=$(grep -oE '"torch==[^"]+"' "$PREFIX/pyproject.toml" | tr -d '"')
[[ -n $torch_pin ]] || die "no torch== pin in $PREFIX/pyproject.toml"
torch_source=(--index-url "$TORCH_INDEX_URL")
[[ -z $TORCH_FIND_LINKS ]] || torch_source+=(--find-links "$TORCH_FIND_LINKS")
# torch first, from a CPU source: the project's own install would take PyPI's CUDA build.
"${pip[@]}" install -q "${torch_source[@]}" "$torch_pin"
"$PREFIX/.venv/bin/python" -c \
    "import sys, torch; sys.exit('CUDA build of torch' if torch.version.cuda else 0)"
"${pip[@]}" install -q --upgrade "$PREFIX"

say "settings in $CONF_DIR"
if [[ ! -e $ENV_FILE ]]; then
    # The example's paths are a laptop's; point them at this layout.
    sed -e "s#^NEUCO_CONFIG=.*#NEUCO_CONFIG=$CHALLENGE#" \
        -e "s#^NEUCO_DATA_DIR=.*#NEUCO_DATA_DIR=$DATA_DIR#" \
        -e "s#^NEUCO_LOG_DIR=.*#NEUCO_LOG_DIR=$LOG_DIR#" \
        "$PREFIX/deploy/.env.example" >"$ENV_FILE"
    say "created $ENV_FILE: fill in the tokens"
fi
if [[ ! -e $CHALLENGE ]]; then
    # The example's paths are the container's; point them at this layout.
    sed -e "s#/data/labels#$LABELS_DIR#g" -e "s#/data/var#$DATA_DIR#g" \
        -e "s#/data/leaderboard#$DATA_DIR/leaderboard#g" \
        "$PREFIX/deploy/challenge.example.yaml" >"$CHALLENGE"
    say "created $CHALLENGE: describe the challenge"
fi
chown root:neuco "$ENV_FILE" "$CHALLENGE"
chmod 0640 "$ENV_FILE" "$CHALLENGE"

say "hidden labels in $LABELS_DIR (readable by neuco, by no one else)"
chown -R root:neuco "$LABELS_DIR"
find "$LABELS_DIR" -type d -exec chmod 0750 {} +
find "$LABELS_DIR" -type f -exec chmod 0640 {} +

say "systemd unit, watchdog cron entry, log rotation"
install -o root -g root -m 0644 "$PREFIX/deploy/$UNIT" "/etc/systemd/system/$UNIT"
if [[ $systemd == yes ]]; then
    systemctl daemon-reload
    # Root, because it restarts through systemctl. Variables on the line win over the env file.
    cat >/etc/cron.d/neuco-watchdog <<EOF
# Every minute: start the NeuCo worker if it is down, replace it if it hung.
# Pause with: touch $DATA_DIR/watchdog.paused   (see $PREFIX/cronjobs/README.md)
SHELL=/bin/bash
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
* * * * * root WATCHDOG_ENV_FILE=$ENV_FILE NEUCO_HOME=$PREFIX WORKER_CMD='systemctl start $UNIT' WORKER_LOG=$LOG_DIR/watchdog.log $PREFIX/cronjobs/watchdog.sh >>$LOG_DIR/watchdog.log 2>&1
EOF
else
    skipped "systemctl daemon-reload ($UNIT is installed in /etc/systemd/system, not enabled)"
    # The watchdog starts the worker itself, as neuco, with the venv's Python in NEUCO_HOME.
    cat >/etc/cron.d/neuco-watchdog <<EOF
# Every minute: start the NeuCo worker if it is down, replace it if it hung. No systemd here:
# the watchdog runs as neuco and starts the worker itself.
# Pause with: touch $DATA_DIR/watchdog.paused   (see $PREFIX/cronjobs/README.md)
SHELL=/bin/bash
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
* * * * * neuco WATCHDOG_ENV_FILE=$ENV_FILE NEUCO_HOME=$PREFIX WORKER_LOG=$LOG_DIR/worker.log $PREFIX/cronjobs/watchdog.sh >>$LOG_DIR/watchdog.log 2>&1
EOF
fi
chmod 0644 /etc/cron.d/neuco-watchdog
# The worker rotates its own neuco.log (10 MB, 5 kept); these two are appended to by others.
cat >/etc/logrotate.d/neuco <<EOF
$LOG_DIR/watchdog.log $LOG_DIR/worker.log {
    su neuco neuco
    weekly
    rotate 8
    compress
    delaycompress
    missingok
    notifempty
    copytruncate
}
EOF

say "checking the settings (python -m worker doctor)"
doctor_ok=no
if [[ $systemd == yes ]]; then
    # Under systemd with the unit's own user and env file, so it sees what the worker will see.
    systemd-run --quiet --wait --pipe --collect --uid=neuco --gid=neuco \
        -p EnvironmentFile="$ENV_FILE" -p WorkingDirectory="$PREFIX" \
        "$PREFIX/.venv/bin/python" -m worker doctor --config "$CHALLENGE" && doctor_ok=yes
else
    # As neuco with the env file's variables only, as the unit would start it. The file is
    # parsed (KEY=VALUE lines, optional quotes), never sourced: a value is data, not code.
    env_vars=()
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        key=${BASH_REMATCH[1]}
        value=${BASH_REMATCH[2]}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then
            value=${BASH_REMATCH[1]}
        fi
        env_vars+=("$key=$value")
    done <"$ENV_FILE"
    skipped "systemd-run for doctor; running it with runuser as neuco instead"
    (cd "$PREFIX" && runuser -u neuco -- env -i PATH=/usr/bin:/bin HOME="$DATA_DIR" \
        LANG=C.UTF-8 "${env_vars[@]}" "$PREFIX/.venv/bin/python" -m worker doctor \
        --config "$CHALLENGE") && doctor_ok=yes
fi
if [[ $doctor_ok == yes ]]; then
    rm -f "$DATA_DIR/watchdog.paused"
    if [[ $systemd == yes ]]; then
        systemctl enable "$UNIT"
        systemctl restart "$UNIT"
        say "worker (re)started: journalctl -u ${UNIT%.service} -f"
    else
        skipped "systemctl enable/restart $UNIT; cron's watchdog starts the worker within a minute"
    fi
else
    # Paused, so the watchdog does not start a worker that can only fail; a running worker
    # is left as it is.
    touch "$DATA_DIR/watchdog.paused"
    say "not started: fix what doctor listed in $ENV_FILE / $CHALLENGE, put the labels in"
    say "$LABELS_DIR, then run this script again. The watchdog is paused until then."
fi
