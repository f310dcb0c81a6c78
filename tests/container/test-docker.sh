#!/usr/bin/env bash
# `make test-docker`: build the worker image with a real engine and run it the ways the README
# documents, then clean up. Not part of `make test` (needs root or a Docker engine, and minutes).
#
#  1. Debian's docker.io / docker-compose / debootstrap installed if missing; a private dockerd
#     started when no engine answers (tests/container/engine.sh).
#  2. python:3.11-slim and postgres:16 pulled, or, where Docker Hub cannot be reached,
#     TEST-ONLY stand-ins built with debootstrap from Debian packages (tests/container/standin.sh).
#  3. The image built with BuildKit from a clean copy of the working tree, with the local torch
#     CPU wheel in wheels/ when one is on disk; then `compose build` from the same files.
#  4. Checks: size <= 1.3 GB and no .pyc; `--help`; non-root uid; the demo writing to a mounted
#     folder (template files in the new leaderboard repository); `doctor` on the example
#     challenge with the labels mounted; compose up (inbox source, SQLite) until healthy and a
#     leaderboard commit exists, logs in the logs folder, labels read-only; stop <= 10 s; a
#     restart keeps the database; the postgres profile scoring into PostgreSQL.
# Prints one summary line (image size, times). Images and debootstrap results stay cached in
# $NEUCO_TEST_CACHE (default /var/cache/neuco-test-docker) for the next run; containers,
# networks, volumes, temporary files and a dockerd it started are removed.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE=neuco-eval-worker:0.1.0
MAX_IMAGE_BYTES=$((1300 * 1000 * 1000))
MAX_STOP_S=10
HEALTHY_WITHIN_S=400
TEST_TMP=$(mktemp -d /tmp/neuco-test-docker.XXXXXX)
STARTED=$(date +%s)
PROJECT=neuco-test-docker-$$
COMPOSE=()

# shellcheck source=/dev/null
. "$REPO/tests/container/engine.sh"
# shellcheck source=/dev/null
. "$REPO/tests/container/standin.sh"

cleanup() {
    local rc=$?
    set +e
    if ((${#COMPOSE[@]})) && [[ -f $TEST_TMP/project/docker-compose.yml ]]; then
        compose --profile postgres down -v --remove-orphans >/dev/null 2>&1
    fi
    docker rm -f "$PROJECT-demo" "$PROJECT-doctor" >/dev/null 2>&1
    docker image prune -f >/dev/null 2>&1
    stop_engine
    rm -rf "$TEST_TMP"
    ((rc == 0)) || printf 'test-docker: FAILED (exit %s)\n' "$rc" >&2
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

compose() {
    (cd "$TEST_TMP/project" &&
        "${COMPOSE[@]}" -p "$PROJECT" -f docker-compose.yml -f compose.test.yml "$@")
}

# ---- engine and base images ---------------------------------------------------------------------

ensure_docker_packages
ensure_engine
find_compose

python_image=python:3.11-slim
postgres_image=postgres:16
base_note="official base images"
if ! docker image inspect "$python_image" >/dev/null 2>&1 &&
    ! timeout 120 docker pull -q "$python_image" >/dev/null 2>&1; then
    ensure_python_standin
    python_image=$PYTHON_STANDIN
    base_note="TEST-ONLY debootstrap stand-ins"
fi
if ! docker image inspect "$postgres_image" >/dev/null 2>&1 &&
    ! timeout 120 docker pull -q "$postgres_image" >/dev/null 2>&1; then
    ensure_postgres_standin
    postgres_image=$POSTGRES_STANDIN
fi
note "base images: $python_image, $postgres_image"

# ---- build ----------------------------------------------------------------------------------------

# A clean copy of the working tree (tracked and new files, nothing git-ignored), so nothing a
# developer has lying around (deploy/.env, var/, labels) can reach the build or the test.
context=$TEST_TMP/project
mkdir -p "$context"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -r tar --ignore-failed-read -cf - 2>/dev/null) | tar -C "$context" -xf -
torch_pin=$(grep -oE '"torch==[^"]+"' "$context/pyproject.toml" | tr -d '"' | cut -d= -f3)
wheel_dirs=${TORCH_WHEEL_DIR:-$(pip config get global.find-links 2>/dev/null || echo /opt/wheels)}
torch_index=https://download.pytorch.org/whl/cpu
for dir in $wheel_dirs; do
    for wheel in "$dir"/torch-"$torch_pin"+cpu-cp311-*.whl; do
        [[ -f $wheel ]] || continue
        ln -f "$wheel" "$context/wheels/" 2>/dev/null || cp "$wheel" "$context/wheels/"
        torch_index=https://pypi.org/simple
        note "torch from the local wheel $wheel (its dependencies from PyPI)"
        break 2
    done
done

note "building $IMAGE with BuildKit (cached layers are reused)"
build_started=$(date +%s)
DOCKER_BUILDKIT=1 docker build --network host --progress plain \
    --build-arg PYTHON_IMAGE="$python_image" --build-arg TORCH_INDEX_URL="$torch_index" \
    -t "$IMAGE" "$context" >"$TEST_TMP/build.log" 2>&1 || {
    tail -40 "$TEST_TMP/build.log" >&2
    fail "docker build"
}
build_s=$(seconds_since "$build_started")
ok "docker build (BuildKit) in $(minutes "$build_s")"

size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
size_gb=$(awk -v b="$size" 'BEGIN { printf "%.2f", b / 1e9 }')
((size <= MAX_IMAGE_BYTES)) || fail "image is $size_gb GB, over the 1.30 GB budget"
ok "image size $size_gb GB (budget 1.30 GB)"

pyc=$(docker run --rm --network none --entrypoint sh "$IMAGE" -c \
    'find / -xdev \( -name "*.pyc" -o -name "*.pyo" \) -print 2>/dev/null | head -3')
[[ -z $pyc ]] || fail "bytecode in the image: $pyc"
ok "no .pyc files in the image"

# The compose file with what this machine needs on top: the base image, a build on the host
# network (no default bridge here), the postgres stand-in.
cat >"$context/compose.test.yml" <<EOF
services:
  worker:
    build:
      network: host
      args:
        PYTHON_IMAGE: $python_image
  postgres:
    image: $postgres_image
EOF
# The organiser's settings file (compose reads it for every command, build included).
cp "$context/deploy/.env.example" "$context/deploy/.env"
compose_started=$(date +%s)
TORCH_INDEX_URL=$torch_index COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1 \
    compose build worker >"$TEST_TMP/compose-build.log" 2>&1 || {
    tail -30 "$TEST_TMP/compose-build.log" >&2
    fail "${COMPOSE[*]} build"
}
ok "${COMPOSE[*]} build with the wheel folder in $(minutes "$(seconds_since "$compose_started")")"

# ---- the image on its own -----------------------------------------------------------------------

help=$(docker run --rm --network none "$IMAGE" --help) || fail "--help"
for sub in run once status doctor rescore healthcheck leaderboard; do
    grep -q "$sub" <<<"$help" || fail "--help does not offer $sub"
done
ok "--help lists the subcommands"

[[ $(docker image inspect -f '{{.Config.User}}' "$IMAGE") == neuco ]] || fail "USER is not neuco"
uid=$(docker run --rm --network none --entrypoint id "$IMAGE" -u)
[[ $uid == 10001 ]] || fail "runs as uid $uid"
ok "runs as uid 10001 (neuco), not root"

# The demo in the container, into a mounted folder, with the image's default output folder.
mkdir -p "$TEST_TMP/demo"
chown 10001:10001 "$TEST_TMP/demo"
docker run --rm --name "$PROJECT-demo" --network none -v "$TEST_TMP/demo:/work" \
    --entrypoint python "$IMAGE" -m demo --size tiny >"$TEST_TMP/demo.log" 2>&1 || {
    tail -30 "$TEST_TMP/demo.log" >&2
    fail "python -m demo in the container"
}
grep -q "Where to look:" "$TEST_TMP/demo.log" || fail "the demo did not finish its report"
! grep -q "no template" "$TEST_TMP/demo.log" || fail "the worker found no leaderboard template"
view=$TEST_TMP/demo/demo-output/leaderboard-view
for name in LICENSE.md .gitattributes README.md plots/final_rank_evolution.png; do
    [[ -f $view/$name ]] || fail "the demo's leaderboard repository has no $name"
done
ok "demo wrote to the mounted /work/demo-output; leaderboard seeded from the packaged template"

# Hidden labels as an organiser lays them out: root:10001, no access for others, read-only.
data=$context/deploy/data
mkdir -p "$data/labels" "$data/var" "$data/leaderboard" "$data/logs"
for phase in dev final; do
    cp -r "$TEST_TMP/demo/demo-output/challenge/phases/$phase/annotations" "$data/labels/$phase"
done
chown -R root:10001 "$data/labels"
chmod -R u=rwX,g=rX,o= "$data/labels"
chown -R 10001:10001 "$data/var" "$data/leaderboard" "$data/logs"

# doctor on the example challenge, as deploy/README.md runs it; only the source is switched to
# the inbox (no EvalAI server here) and a placeholder token satisfies the github publisher.
sed -e 's/^source: evalai/source: inbox/' "$context/deploy/challenge.example.yaml" \
    >"$TEST_TMP/example-challenge.yaml"
install -d -o 10001 -g 10001 "$TEST_TMP/doctor-var"
docker run --rm --name "$PROJECT-doctor" --network none \
    -v "$TEST_TMP/example-challenge.yaml:/config/challenge.yaml:ro" \
    -v "$data/labels:/data/labels:ro" -v "$TEST_TMP/doctor-var:/data/var" \
    -e GITHUB_TOKEN=placeholder-not-a-token "$IMAGE" doctor --config /config/challenge.yaml \
    >"$TEST_TMP/doctor.log" 2>&1 || {
    cat "$TEST_TMP/doctor.log" >&2
    fail "doctor on the example challenge"
}
grep -q "doctor: all checks passed" "$TEST_TMP/doctor.log" || fail "doctor did not pass"
ok "doctor passes on the example challenge with the labels mounted read-only"

# ---- compose: inbox source, SQLite ------------------------------------------------------------

cat >"$context/deploy/challenge.yaml" <<'EOF'
title: test-docker challenge
source: inbox
data_dir: /data/var
inbox_dir: /data/var/inbox
poll_interval_seconds: 5
phases:
  dev:
    annotations: /data/labels/dev
    probe:
      k_folds: 3
      probe_params: {batch_size: 64, epochs: 2, learning_rate: 0.001, device: cpu}
      embedding_dim: 1024
leaderboard:
  enabled: true
  publisher: git
  remote: /data/var/leaderboard.git
  workdir: /data/leaderboard
  bootstrap_resamples: 0
EOF
submission=$(find "$TEST_TMP/demo/demo-output/challenge" -path '*submissions*' -name '*strong*' \
    -type f | head -1)
[[ -n $submission ]] || fail "no submission file in the demo's output"
drop_submission() {  # team name -> the inbox, owned by the worker's uid
    local team_dir="$data/var/inbox/dev/$1"
    mkdir -p "$team_dir"
    cp "$submission" "$team_dir/$(basename "$submission")"
    touch -d '-1 minute' "$team_dir/$(basename "$submission")"
    chown -R 10001:10001 "$data/var/inbox"
}
drop_submission "Team One"

bare_git() { git -c safe.directory='*' --git-dir "$data/var/leaderboard.git" "$@"; }
container_of() { compose ps -q "$1"; }
health_of() { docker inspect -f '{{.State.Health.Status}}' "$(container_of worker)"; }
wait_healthy() {
    local started=$1 status
    while true; do
        status=$(health_of)
        [[ $status == healthy ]] && return 0
        (($(seconds_since "$started") < HEALTHY_WITHIN_S)) || {
            compose logs --tail 30 worker >&2
            docker inspect -f '{{json .State.Health}}' "$(container_of worker)" >&2
            fail "worker not healthy after ${HEALTHY_WITHIN_S}s (status $status)"
        }
        sleep 5
    done
}
finished_count() {  # submissions in state finished, as `status` reports them
    compose exec -T worker python -m worker status --config /config/challenge.yaml 2>/dev/null |
        awk '$1 == "dev" { print $4 }'
}

up_started=$(date +%s)
compose up -d worker >"$TEST_TMP/up.log" 2>&1 || {
    cat "$TEST_TMP/up.log" >&2
    fail "compose up"
}
wait_healthy "$up_started"
healthy_s=$(seconds_since "$up_started")
ok "compose up: worker healthy after ${healthy_s}s (healthcheck interval 60s)"

deadline=$(($(date +%s) + 300))
until bare_git log --format=%s main 2>/dev/null |
    grep -qiv "template"; do
    (($(date +%s) < deadline)) || {
        compose logs worker | tail -30 >&2
        fail "no leaderboard commit within 300 s"
    }
    sleep 5
done
files=$(bare_git ls-tree -r --name-only main)
for name in LICENSE.md .gitattributes README.md; do
    grep -qx "$name" <<<"$files" || fail "the leaderboard repository has no $name"
done
grep -q "Team One" <(bare_git show main:README.md) ||
    fail "the leaderboard README does not show the scored team"
ok "leaderboard commit with the scored submission and the template's files"

[[ -s $data/logs/neuco.log ]] || fail "nothing logged to NEUCO_LOG_DIR (/data/logs/neuco.log)"
! compose logs worker 2>&1 | grep -q "no template" || fail "the worker found no template"
ok "the worker logs to the mounted logs folder ($(wc -l <"$data/logs/neuco.log") lines)"

cid=$(container_of worker)
[[ $(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/data/labels"}}{{.RW}}{{end}}{{end}}' "$cid") == false ]] ||
    fail "/data/labels is mounted writable"
if compose exec -T worker sh -c 'touch /data/labels/dev/x' >/dev/null 2>&1; then
    fail "the worker could write into the labels"
fi
ok "labels are mounted read-only"

# The engine's stop (SIGTERM, up to the 45 s grace) timed on its own: compose v1 is a Python
# program whose start-up alone takes seconds on a loaded machine; it sends the same request.
stop_started=$(date +%s%N)
docker stop -t 45 "$cid" >/dev/null
stop_ms=$((($(date +%s%N) - stop_started) / 1000000))
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$cid")
((stop_ms <= MAX_STOP_S * 1000)) || fail "stop took ${stop_ms} ms (limit ${MAX_STOP_S}s)"
[[ $exit_code == 0 ]] || fail "the worker exited $exit_code on SIGTERM"
ok "docker stop in $((stop_ms / 1000)).$(printf '%03d' $((stop_ms % 1000)))s, exit 0"

drop_submission "Team Two"
restart_started=$(date +%s)
compose up -d worker >/dev/null 2>&1
deadline=$(($(date +%s) + 300))
until [[ $(finished_count) == 2 ]]; do
    (($(date +%s) < deadline)) || {
        compose logs worker | tail -30 >&2
        fail "after the restart the database does not hold both submissions"
    }
    sleep 5
done
ok "after a restart the database keeps the first submission and scores the second ($(seconds_since "$restart_started")s)"
compose down >/dev/null 2>&1

# ---- compose: the postgres profile --------------------------------------------------------------

password=test-docker-$RANDOM$RANDOM
{
    echo "POSTGRES_PASSWORD=$password"
    echo "DATABASE_URL=postgresql+psycopg://neuco:$password@postgres:5432/neuco"
} >>"$context/deploy/.env"
rm -rf "${data:?}/var" && mkdir -p "$data/var" && chown 10001:10001 "$data/var"
drop_submission "Team Postgres"
pg_started=$(date +%s)
compose --profile postgres up -d >"$TEST_TMP/up-pg.log" 2>&1 || {
    cat "$TEST_TMP/up-pg.log" >&2
    fail "compose --profile postgres up"
}
deadline=$(($(date +%s) + 400))
until [[ $(finished_count) == 1 ]]; do
    (($(date +%s) < deadline)) || {
        compose --profile postgres logs | tail -40 >&2
        fail "the worker did not score into PostgreSQL"
    }
    sleep 5
done
[[ ! -e $data/var/scores.db ]] || fail "the worker wrote SQLite although DATABASE_URL is set"
rows=$(compose exec -T postgres psql -U neuco -d neuco -Atc \
    "select count(*) from information_schema.tables where table_schema = 'public'")
((rows > 0)) || fail "no tables in PostgreSQL"
ok "postgres profile: scored into PostgreSQL ($rows tables), no SQLite file ($(seconds_since "$pg_started")s)"
compose --profile postgres down -v >/dev/null 2>&1

total_s=$(seconds_since "$STARTED")
printf 'test-docker: PASS  image %s %s GB (budget 1.30 GB)  build %s  total %s  engine %s  compose %s %s  base: %s\n' \
    "$IMAGE" "$size_gb" "$(minutes "$build_s")" "$(minutes "$total_s")" \
    "$(docker version --format '{{.Server.Version}}')" "${COMPOSE[*]}" "$COMPOSE_VERSION" "$base_note"
