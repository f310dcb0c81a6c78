# The NeuCo worker image: CPU-only PyTorch, the project installed from pyproject.toml, run as
# an unprivileged user. Hidden labels, the database and the leaderboard clone are mounted at
# run time (docker-compose.yml) and never copied in; .dockerignore is an allow-list.
#
# Builds with the classic builder and with BuildKit (Docker Engine >= 20.10; no buildx
# features), so `docker build`, `docker compose build` and `docker-compose build` all work:
#   docker build -t neuco-eval-worker:0.1.0 .
# torch comes from PyTorch's CPU index, or from a CPU wheel put into wheels/ (wheels/README.md);
# with the wheel on disk and no access to PyTorch's index, take torch's dependencies from PyPI
# (the wheel's "+cpu" local version outranks PyPI's CUDA build of the same release):
#   docker build --build-arg TORCH_INDEX_URL=https://pypi.org/simple -t neuco-eval-worker:0.1.0 .
# Either way the build fails if a CUDA build of torch got in (the check after the install).
# Size (`make test-docker` prints it): no .pyc files, no test suites, headers or build tools
# in the final stage; the budget is 1.3 GB.

# The base image; `make test-docker` substitutes a test-only stand-in where Docker Hub cannot
# be reached. Both stages must use the same one: the venv points at its interpreter.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Must equal the torch pin in pyproject.toml (tests/unit/test_deploy_files.py checks it), so
# installing the project below finds torch satisfied and downloads nothing more.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# Only *.whl files and wheels/README.md get into the build context (.dockerignore); this stage
# is thrown away, so the wheel never reaches the final image.
COPY wheels/ /wheels/
# torch first and alone: the project's own install would otherwise take PyPI's CUDA build.
# --no-compile: no .pyc in the image (the venv is read-only to the worker, which compiles in
# memory; PYTHONDONTWRITEBYTECODE keeps it from trying to write any).
RUN pip install --no-compile --find-links /wheels --index-url "${TORCH_INDEX_URL}" \
        "torch==${TORCH_VERSION}" \
 && python -c "import sys, torch; sys.exit('CUDA build of torch' if torch.version.cuda else 0)"
# The runtime dependencies, from pyproject.toml alone: editing the code keeps this layer.
COPY pyproject.toml /src/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies']))" \
        >/tmp/requirements.txt \
 && pip install --no-compile --find-links /wheels -r /tmp/requirements.txt
COPY . /src
# Not editable, no [dev] extras: the image carries the code and its runtime dependencies only.
# Then strip what nothing imports at run time: bytecode, the packages' own test suites, C++
# headers and test binaries of torch, pip and setuptools. The import check proves nothing
# needed went (torch's, the SVM probe's and the store's migrations included).
RUN pip install --no-compile --no-deps /src \
 && site=$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") \
 && find /opt/venv -depth -name __pycache__ -type d -exec rm -rf {} + \
 && find /opt/venv -name '*.py[co]' -delete \
 && find "$site" -mindepth 2 -depth -type d -name tests -exec rm -rf {} + \
 && rm -rf "$site/torch/test" "$site/torch/include" "$site/torch/share" \
 && find "$site/torch/bin" -type f ! -name torch_shm_manager -delete \
 && python -m pip uninstall -y -q pip setuptools \
 && python -c "import worker.cli, worker.bootstrap, scoring.engine, scoring.probes.svm, demo.__main__" \
 && find /opt/venv -depth -name __pycache__ -type d -exec rm -rf {} +

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="neuco-eval worker" \
      org.opencontainers.image.description="Scores hidden-task embedding submissions (NeuCo-Bench protocol) from an EvalAI remote queue" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
# git: the leaderboard is published by committing to a clone. A fixed uid/gid, so the host
# directories mounted for writing can be chowned to it (deploy/README.md). /work is the
# writable default working folder (the demo writes demo-output/ there).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt/* /var/log/dpkg.log \
 && groupadd --system --gid 10001 neuco \
 && useradd --system --uid 10001 --gid neuco --create-home --home-dir /home/neuco \
        --shell /usr/sbin/nologin neuco \
 && install -d -o neuco -g neuco -m 0750 /data/var /data/leaderboard /data/logs \
 && install -d -o neuco -g neuco -m 0755 /work \
 && install -d -m 0755 /data/labels /config
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    NEUCO_CONFIG=/config/challenge.yaml \
    NEUCO_DATA_DIR=/data/var \
    NEUCO_LOG_DIR=/data/logs \
    MAX_HEARTBEAT_AGE=300
# Hidden labels (mounted read-only), database + heartbeat + lock + leaderboard clone, logs.
VOLUME ["/data/labels", "/data/var", "/data/leaderboard", "/data/logs"]
WORKDIR /work
USER neuco
# Unhealthy after three misses: no heartbeat for MAX_HEARTBEAT_AGE (300 s) means a hung worker.
# Exit status 0 (healthy) or 1 (unhealthy) only: Docker reserves 2.
HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=3 \
    CMD ["python", "-m", "worker", "healthcheck", "--max-age", "300"]
# The worker finishes or abandons its submission within ~30 s of SIGTERM; give it the time
# with `docker stop -t 45` (docker-compose.yml sets stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "worker"]
CMD ["run", "--config", "/config/challenge.yaml"]
