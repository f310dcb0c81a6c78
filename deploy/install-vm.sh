#!/usr/bin/env bash
# Install or update the NeuCo worker on an Ubuntu 22.04 VM without Docker. Run as root from a
# clone of the repository: `sudo deploy/install-vm.sh`. Safe to run again (after `git pull`, or
# after filling in the settings): it only creates what is missing, resets ownership and modes,
# and never overwrites the settings or the challenge file.
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
# folder holding the CPU wheel, e.g. /opt/wheels), PYTHON_BIN (default python3.11).
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
PYTHON_BIN=${PYTHON_BIN:-python3.11}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}
TORCH_FIND_LINKS=${TORCH_FIND_LINKS:-}

say() { printf '==> %s\n' "$*"; }
die() { printf 'install-vm: error: %s\n' "$*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root: sudo $0"
if [[ -r /etc/os-release ]]; then
    # shellcheck source=/dev/null
    . /etc/os-release
    [[ ${ID:-} == ubuntu && ${VERSION_ID:-} == 22.04 ]] ||
        say "warning: written for Ubuntu 22.04, this is ${PRETTY_NAME:-unknown}; going on"
fi

say "system packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
if ! command -v "$PYTHON_BIN" >/dev/null && [[ $PYTHON_BIN == python3.11 ]]; then
    # Ubuntu 22.04 ships Python 3.10; deadsnakes builds 3.11 for it.
    apt-get install -y -q software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update -q
    apt-get install -y -q python3.11 python3.11-venv
fi
# util-linux: flock and setsid for the watchdog; cron runs it.
apt-get install -y -q git rsync cron util-linux ca-certificates logrotate
command -v "$PYTHON_BIN" >/dev/null || die "$PYTHON_BIN not found"

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
        --exclude='*.egg-info' --exclude=/build \
        "$SRC"/ "$PREFIX"/
fi
chown -R root:root "$PREFIX"

say "virtualenv $PREFIX/.venv (CPU-only PyTorch, then the project, not editable)"
[[ -x $PREFIX/.venv/bin/python ]] || "$PYTHON_BIN" -m venv "$PREFIX/.venv"
pip=("$PREFIX/.venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip
torch_pin=$(grep -oE '"torch==[^"]+"' "$PREFIX/pyproject.toml" | tr -d '"')
[[ -n $torch_pin ]] || die "no torch== pin in $PREFIX/pyproject.toml"
torch_source=(--index-url "$TORCH_INDEX_URL")
[[ -z $TORCH_FIND_LINKS ]] || torch_source+=(--find-links "$TORCH_FIND_LINKS")
# torch first, from a CPU source: the project's own install would take PyPI's CUDA build.
"${pip[@]}" install -q "${torch_source[@]}" "$torch_pin"
"${pip[@]}" install -q --upgrade "$PREFIX"

say "settings in $CONF_DIR"
if [[ ! -e $ENV_FILE ]]; then
    # The example's paths are a laptop's; point them at this layout.
    sed -e "s#^NEUCO_CONFIG=.*#NEUCO_CONFIG=$CHALLENGE#" \
        -e "s#^NEUCO_DATA_DIR=.*#NEUCO_DATA_DIR=$DATA_DIR#" \
        -e "s#^NEUCO_LABELS_DIR=.*#NEUCO_LABELS_DIR=$LABELS_DIR#" \
        -e "s#^NEUCO_LOG_DIR=.*#NEUCO_LOG_DIR=$LOG_DIR#" \
        -e "s#^LEADERBOARD_DIR=.*#LEADERBOARD_DIR=$DATA_DIR/leaderboard#" \
        "$PREFIX/deploy/.env.example" >"$ENV_FILE"
    say "created $ENV_FILE: fill in the tokens"
fi
[[ -e $CHALLENGE ]] || {
    cp "$PREFIX/deploy/challenge.example.yaml" "$CHALLENGE"
    say "created $CHALLENGE: describe the challenge"
}
chown root:neuco "$ENV_FILE" "$CHALLENGE"
chmod 0640 "$ENV_FILE" "$CHALLENGE"

say "hidden labels in $LABELS_DIR (readable by neuco, by no one else)"
chown -R root:neuco "$LABELS_DIR"
find "$LABELS_DIR" -type d -exec chmod 0750 {} +
find "$LABELS_DIR" -type f -exec chmod 0640 {} +

say "systemd unit, watchdog cron entry, log rotation"
install -o root -g root -m 0644 "$PREFIX/deploy/$UNIT" "/etc/systemd/system/$UNIT"
systemctl daemon-reload
# Root, because it restarts through systemctl. Variables on the line win over the env file.
cat >/etc/cron.d/neuco-watchdog <<EOF
# Every minute: start the NeuCo worker if it is down, replace it if it hung.
# Pause with: touch $DATA_DIR/watchdog.paused   (see $PREFIX/cronjobs/README.md)
SHELL=/bin/bash
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
* * * * * root WATCHDOG_ENV_FILE=$ENV_FILE NEUCO_HOME=$PREFIX WORKER_CMD='systemctl start $UNIT' WORKER_LOG=$LOG_DIR/watchdog.log $PREFIX/cronjobs/watchdog.sh >>$LOG_DIR/watchdog.log 2>&1
EOF
chmod 0644 /etc/cron.d/neuco-watchdog
cat >/etc/logrotate.d/neuco <<EOF
$LOG_DIR/*.log {
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
# Under systemd with the unit's own user and env file, so it sees what the worker will see.
if systemd-run --quiet --wait --pipe --collect --uid=neuco --gid=neuco \
    -p EnvironmentFile="$ENV_FILE" -p WorkingDirectory="$PREFIX" \
    "$PREFIX/.venv/bin/python" -m worker doctor --config "$CHALLENGE"; then
    rm -f "$DATA_DIR/watchdog.paused"
    systemctl enable "$UNIT"
    systemctl restart "$UNIT"
    say "worker (re)started: journalctl -u ${UNIT%.service} -f"
else
    # Paused, so the watchdog does not start a worker that can only fail; a running worker
    # is left as it is.
    touch "$DATA_DIR/watchdog.paused"
    say "not started: fix what doctor listed in $ENV_FILE / $CHALLENGE, put the labels in"
    say "$LABELS_DIR, then run this script again. The watchdog is paused until then."
fi
