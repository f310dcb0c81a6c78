#!/usr/bin/env bash
# `make test-vm`: run deploy/install-vm.sh for real in a fresh Debian 12 (bookworm) root, the
# way deploy/README.md tells an organiser to, and check what it leaves behind. Not part of
# `make test` (needs root, debootstrap, the network and minutes).
#
#  1. A fresh bookworm root from debootstrap (the tarball is cached in $NEUCO_TEST_CACHE,
#     default /var/cache/neuco-test-docker; each run unpacks a new copy), entered with chroot
#     in a private mount namespace. systemd does not run there: the installer must say what it
#     skipped. A policy-rc.d keeps apt from starting daemons (cron) inside the root.
#  2. A clean copy of the working tree at /root/neuco-eval; this machine's extra CA
#     certificates; the torch CPU wheel folder (/opt/wheels) mounted read-only when present.
#  3. First run: installs, creates /etc/neuco/neuco.env and challenge.yaml from the examples;
#     doctor fails (no labels, no token), the watchdog is paused.
#  4. The organiser's part: a challenge (inbox source) and hidden labels in /srv/neuco/labels.
#  5. Second run: doctor passes, the watchdog is unpaused; the cron entry is checked, then run
#     once by hand as cron would run it: the worker starts, beats, `healthcheck` says healthy,
#     and it stops on SIGTERM.
# Prints one summary line with the times.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
TEST_TMP=$(mktemp -d /tmp/neuco-test-vm.XXXXXX)
ROOT=$TEST_TMP/root
STARTED=$(date +%s)

# shellcheck source=/dev/null
. "$REPO/tests/container/engine.sh"
# shellcheck source=/dev/null
. "$REPO/tests/container/standin.sh"

cleanup() {
    local rc=$?
    set +e
    stop_vm_worker
    rm -rf "$TEST_TMP"
    ((rc == 0)) || printf 'test-vm: FAILED (exit %s)\n' "$rc" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { printf '  ok  %s\n' "$*"; }
fail() {
    printf '  FAIL %s\n' "$*" >&2
    exit 1
}
seconds_since() { echo $(($(date +%s) - $1)); }
minutes() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# Runs a command in the root: a private mount namespace (the mounts vanish with it), /proc,
# /sys and /dev from the host, the wheel folder read-only, then chroot.
in_root() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    unshare --mount --propagation private -- bash -c '
        root=$1; shift
        mount -t proc proc "$root/proc"
        mount --rbind /sys "$root/sys"
        mount --rbind /dev "$root/dev"
        if [[ -d /opt/wheels ]]; then
            mkdir -p "$root/opt/wheels"
            mount --bind -o ro /opt/wheels "$root/opt/wheels"
        fi
        exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
    ' in_root "$ROOT" "$@"
}

# The worker the cron line started, if it still runs (its pid is in the lock file).
stop_vm_worker() {
    [[ -f $ROOT/var/lib/neuco/worker.lock ]] || return 0
    local pid
    read -r pid <"$ROOT/var/lib/neuco/worker.lock" || return 0
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    # Only a process whose root is ours: never a stranger that reuses the pid.
    [[ $(readlink "/proc/$pid/root" 2>/dev/null) == "$ROOT" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    local _
    for _ in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

[[ $EUID -eq 0 ]] || die "make test-vm needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || {
    note "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
}

# ---- a fresh Debian 12 root ---------------------------------------------------------------------

root_started=$(date +%s)
tarball=$(debootstrap_tarball default "")
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$tarball"
# "/" of the root must be searchable by every user (the cached tarball recorded mktemp's 0700).
chmod 0755 "$ROOT"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
install -d "$ROOT/usr/local/share/ca-certificates"
while IFS= read -r cert; do
    install -m 0644 "$cert" "$ROOT/usr/local/share/ca-certificates/"
done < <(extra_ca_certs)
mkdir -p "$ROOT/root/neuco-eval"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -r tar --ignore-failed-read -cf - 2>/dev/null) | tar -C "$ROOT/root/neuco-eval" -xf -
grep -q 'VERSION_ID="12"' "$ROOT/etc/os-release" || fail "the root is not Debian 12"
[[ ! -d $ROOT/run/systemd/system ]] || fail "systemd seems to run in the root"
ok "fresh Debian 12 root ($(minutes "$(seconds_since "$root_started")"), no systemd running)"

install_env=(TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu)
if compgen -G "/opt/wheels/torch-*+cpu-cp311-*.whl" >/dev/null; then
    # The CPU wheel on disk; its dependencies from PyPI (PyTorch's index may be out of reach).
    install_env=(TORCH_FIND_LINKS=/opt/wheels TORCH_INDEX_URL=https://pypi.org/simple)
fi
# pip in the root must trust this machine's CAs, like pip on this machine (PIP_CERT).
install_env+=(PIP_CERT=/etc/ssl/certs/ca-certificates.crt)

# ---- first run: install, nothing configured yet -------------------------------------------------

first_started=$(date +%s)
in_root env "${install_env[@]}" /root/neuco-eval/deploy/install-vm.sh >"$TEST_TMP/first.log" 2>&1 || {
    tail -40 "$TEST_TMP/first.log" >&2
    fail "the first install-vm.sh run failed"
}
first_s=$(seconds_since "$first_started")
grep '^==> ' "$TEST_TMP/first.log" | sed 's/^/      /'
grep -q "SKIPPED (systemd is not running here)" "$TEST_TMP/first.log" ||
    fail "the installer did not say what it skipped without systemd"
grep -qE "^(PROBLEM|error): " "$TEST_TMP/first.log" || {
    tail -25 "$TEST_TMP/first.log" >&2
    fail "doctor found nothing to fix in the examples"
}
grep -q "not started: fix what doctor listed" "$TEST_TMP/first.log" || fail "no advice after doctor"
[[ -e $ROOT/var/lib/neuco/watchdog.paused ]] || fail "the watchdog is not paused"
ok "first run in $(minutes "$first_s"): installed; doctor lists the missing settings; watchdog paused"

# ---- the organiser fills in the challenge and puts the labels in ------------------------------

cat >"$ROOT/etc/neuco/challenge.yaml" <<'EOF'
title: test-vm challenge
source: inbox
data_dir: /var/lib/neuco
inbox_dir: /var/lib/neuco/inbox
poll_interval_seconds: 5
phases:
  dev:
    annotations: /srv/neuco/labels/dev
    probe:
      k_folds: 3
      probe_params: {batch_size: 64, epochs: 2, learning_rate: 0.001, device: cpu}
      embedding_dim: 1024
leaderboard:
  enabled: true
  publisher: git
  remote: /var/lib/neuco/leaderboard.git
  workdir: /var/lib/neuco/leaderboard
  bootstrap_resamples: 0
EOF
in_root /opt/neuco/.venv/bin/python -c '
from pathlib import Path
from synthetic import make_challenge, spec_for_size, write_label_file
challenge = make_challenge(spec_for_size("tiny", seed=11))
phase = challenge.phases[0]
folder = Path("/srv/neuco/labels/dev")
folder.mkdir(parents=True, exist_ok=True)
for task in phase.tasks:
    write_label_file(folder / task.file_name, task)
print(len(phase.tasks), "label files")
' >"$TEST_TMP/labels.log" 2>&1 || {
    cat "$TEST_TMP/labels.log" >&2
    fail "writing the synthetic labels"
}
ok "challenge file and hidden labels in place ($(cat "$TEST_TMP/labels.log"))"

# ---- second run: doctor passes, the watchdog takes over -----------------------------------------

second_started=$(date +%s)
in_root env "${install_env[@]}" /root/neuco-eval/deploy/install-vm.sh >"$TEST_TMP/second.log" 2>&1 || {
    tail -40 "$TEST_TMP/second.log" >&2
    fail "the second install-vm.sh run failed"
}
second_s=$(seconds_since "$second_started")
grep -E '^==> |^ok: |^PROBLEM: |^doctor: ' "$TEST_TMP/second.log" | sed 's/^/      /'
grep -q "doctor: all checks passed" "$TEST_TMP/second.log" || fail "doctor did not pass"
[[ ! -e $ROOT/var/lib/neuco/watchdog.paused ]] || fail "the watchdog is still paused"
ok "second run in $(minutes "$second_s"): python -m worker doctor passes; watchdog unpaused"

cron=$ROOT/etc/cron.d/neuco-watchdog
[[ -f $cron ]] || fail "no /etc/cron.d/neuco-watchdog"
line=$(grep -E '^\* \* \* \* \* ' "$cron") || fail "no every-minute line in $cron"
[[ $line == *" neuco WATCHDOG_ENV_FILE=/etc/neuco/neuco.env "*"/opt/neuco/cronjobs/watchdog.sh"* ]] ||
    fail "unexpected cron line: $line"
# Names from the root's own /etc/passwd and /etc/group, not this machine's.
env_mode=$(in_root stat -c '%U:%G %a' /etc/neuco/neuco.env)
[[ $env_mode == "root:neuco 640" ]] || fail "neuco.env is $env_mode"
[[ $(stat -c '%a' "$ROOT/srv/neuco/labels/dev") == 750 ]] || fail "labels folder mode"
ok "cron watchdog entry in place: $line"

# ---- the cron line, run once by hand as cron would ------------------------------------------------

command=${line#"* * * * * neuco "}
in_root runuser -u neuco -- bash -c "cd / && $command" || fail "the watchdog run failed"
deadline=$(($(date +%s) + 300))
until in_root runuser -u neuco -- /opt/neuco/.venv/bin/python -m worker healthcheck \
    --config /etc/neuco/challenge.yaml >"$TEST_TMP/health.log" 2>&1; do
    (($(date +%s) < deadline)) || {
        cat "$TEST_TMP/health.log" "$ROOT/var/log/neuco/worker.log" >&2
        fail "the worker the watchdog started never turned healthy"
    }
    sleep 5
done
ok "the watchdog started the worker as neuco: $(cat "$TEST_TMP/health.log")"
grep -q "started worker" "$ROOT/var/log/neuco/watchdog.log" || fail "nothing in watchdog.log"
[[ -s $ROOT/var/log/neuco/neuco.log ]] || fail "the worker wrote no /var/log/neuco/neuco.log"
stop_vm_worker
ok "worker logs in /var/log/neuco (watchdog.log, worker.log, neuco.log); stopped with SIGTERM"

printf 'test-vm: PASS  Debian 12 root, Python %s  first install %s  second install %s  total %s\n' \
    "$(in_root /opt/neuco/.venv/bin/python -c 'import platform; print(platform.python_version())')" \
    "$(minutes "$first_s")" "$(minutes "$second_s")" "$(minutes "$(seconds_since "$STARTED")")"
