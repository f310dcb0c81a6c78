# The NeuCo worker image: CPU-only PyTorch, the project installed from pyproject.toml, run as
# an unprivileged user. Hidden labels, the database and the leaderboard clone are mounted at
# run time (docker-compose.yml) and never copied in; .dockerignore is an allow-list.
#
# Build, with the CPU wheel from PyTorch's CPU index (the usual source):
#   docker build -t neuco-eval-worker .
# Build where the CPU wheel is already on disk (our build machines: /opt/wheels), taking torch
# from that folder and its dependencies from PyPI; the wheel's "+cpu" local version outranks
# PyPI's CUDA build of the same release:
#   docker build --build-context wheels=/opt/wheels \
#     --build-arg TORCH_INDEX_URL=https://pypi.org/simple -t neuco-eval-worker .
# Either way the build fails if a CUDA build of torch got in (the check after the install).

# Empty unless `--build-context wheels=DIR` replaces it with a folder of wheels.
FROM scratch AS wheels

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Must equal the torch pin in pyproject.toml (tests/unit/test_deploy_files.py checks it), so
# installing the project below finds torch satisfied and downloads nothing more.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# torch first and alone: the project's own install would otherwise take PyPI's CUDA build.
RUN --mount=type=bind,from=wheels,target=/wheels \
    pip install --find-links /wheels --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}" \
 && python -c "import sys, torch; sys.exit('CUDA build of torch' if torch.version.cuda else 0)"
COPY . /src
# Not editable, no [dev] extras: the image carries the code and its runtime dependencies only.
RUN pip install /src

FROM python:3.11-slim
LABEL org.opencontainers.image.title="neuco-eval worker" \
      org.opencontainers.image.description="Scores hidden-task embedding submissions (NeuCo-Bench protocol) from an EvalAI remote queue" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
# git: the leaderboard is published by committing to a clone. A fixed uid/gid, so the host
# directories mounted for writing can be chowned to it (deploy/README.md).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 neuco \
 && useradd --system --uid 10001 --gid neuco --create-home --home-dir /home/neuco \
        --shell /usr/sbin/nologin neuco \
 && install -d -o neuco -g neuco -m 0750 /data/var /data/leaderboard /data/logs \
 && install -d -m 0755 /data/labels /config /app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    NEUCO_CONFIG=/config/challenge.yaml \
    NEUCO_DATA_DIR=/data/var \
    NEUCO_LABELS_DIR=/data/labels \
    NEUCO_LOG_DIR=/data/logs \
    LEADERBOARD_DIR=/data/leaderboard \
    MAX_HEARTBEAT_AGE=300
# Hidden labels (mounted read-only), database + heartbeat + lock, leaderboard clone, logs.
VOLUME ["/data/labels", "/data/var", "/data/leaderboard", "/data/logs"]
WORKDIR /app
USER neuco
# Unhealthy after three misses: no heartbeat for MAX_HEARTBEAT_AGE (300 s) means a hung worker.
HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=3 \
    CMD ["python", "-m", "worker", "healthcheck", "--max-age", "300"]
# The worker finishes or abandons its submission within ~30 s of SIGTERM; give it the time
# with `docker stop -t 45` (docker-compose.yml sets stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "worker"]
CMD ["run", "--config", "/config/challenge.yaml"]
