#!/usr/bin/env bash
# TEST-ONLY stand-ins for official images, built with debootstrap from Debian bookworm's own
# packages, for machines that cannot pull from Docker Hub. Sourced by tests/container/*.sh;
# never used by a deployment. Each image is labelled neuco.test-only=true and named
# neuco-test/...; the project's Dockerfile and compose file only see them through the
# PYTHON_IMAGE / POSTGRES_IMAGE build/run variables that the test scripts set.
#
#   neuco-test/python-standin:3.11-bookworm    for python:3.11-slim: Debian's python3.11 with
#       the official image's paths (/usr/local/bin/python, python3, python3.11), venv support,
#       LANG=C.UTF-8; plus this machine's extra CA certificates and a pip.conf naming the CA
#       bundle, because outbound TLS may be intercepted here.
#   neuco-test/postgres-standin:15-bookworm    for postgres:16: Debian's PostgreSQL 15 with an
#       entrypoint that honours POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB and
#       /var/lib/postgresql/data like the official image, and pg_isready on PATH.
#
# debootstrap results are cached as tarballs in $NEUCO_TEST_CACHE (default
# /var/cache/neuco-test-docker), keyed by a hash of what goes into them; delete the folder to
# start from scratch.
# Needs: root, debootstrap, a Debian mirror ($DEBIAN_MIRROR, default deb.debian.org).

NEUCO_TEST_CACHE=${NEUCO_TEST_CACHE:-/var/cache/neuco-test-docker}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
STANDIN_SUITE=bookworm
PYTHON_STANDIN=neuco-test/python-standin:3.11-bookworm
POSTGRES_STANDIN=neuco-test/postgres-standin:15-bookworm

# Extra CA certificates of this machine (TLS interception), copied into every stand-in root.
extra_ca_certs() {
    local dir=/usr/local/share/ca-certificates
    [[ -d $dir ]] && find "$dir" -maxdepth 1 -name '*.crt' -type f | sort
}

# debootstrap_tarball VARIANT PACKAGES -> prints the cached tarball of a fresh bookworm root.
# VARIANT: minbase (container stand-ins) or default (a freshly installed server, for test-vm).
debootstrap_tarball() {
    local variant=$1 packages=$2 key tarball root
    key=$(printf '%s|%s|%s|%s' "$STANDIN_SUITE" "$variant" "$packages" "$DEBIAN_MIRROR" |
        sha256sum | cut -c1-12)
    tarball=$NEUCO_TEST_CACHE/debootstrap-$STANDIN_SUITE-$variant-$key.tar
    if [[ ! -s $tarball ]]; then
        command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
        mkdir -p "$NEUCO_TEST_CACHE"
        root=$(mktemp -d "$NEUCO_TEST_CACHE/rootfs.XXXXXX")
        local args=()
        [[ -z $packages ]] || args+=(--include="$packages")
        [[ $variant == default ]] || args+=(--variant="$variant")
        note "debootstrap $STANDIN_SUITE ($variant${packages:+: $packages}); cached as $tarball"
        if ! debootstrap "${args[@]}" "$STANDIN_SUITE" "$root" "$DEBIAN_MIRROR" \
            >"$root.log" 2>&1; then
            tail -20 "$root.log" >&2
            rm -rf "$root"
            die "debootstrap failed (log: $root.log)"
        fi
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        chmod 0755 "$root"  # mktemp made it 0700; it becomes "/"
        tar -C "$root" --numeric-owner -cf "$tarball.partial" .
        mv "$tarball.partial" "$tarball"
        rm -rf "$root" "$root.log"
    fi
    printf '%s\n' "$tarball"
}

# Adds this machine's extra CA certificates and a pip.conf using the system bundle to a root.
trust_machine_cas() {
    local root=$1 cert
    install -d "$root/usr/local/share/ca-certificates"
    while IFS= read -r cert; do
        install -m 0644 "$cert" "$root/usr/local/share/ca-certificates/"
    done < <(extra_ca_certs)
    if [[ -x $root/usr/sbin/update-ca-certificates ]]; then
        chroot "$root" update-ca-certificates >/dev/null 2>&1 ||
            die "update-ca-certificates failed in the stand-in root"
    fi
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
}

standin_exists() {
    docker image inspect "$1" >/dev/null 2>&1 &&
        [[ $(docker image inspect -f '{{index .Config.Labels "neuco.test.key"}}' "$1") == "$2" ]]
}

# Imports a prepared root as image $1 with key $2 and extra --change options.
import_root() {
    local root=$1 image=$2 key=$3
    shift 3
    tar -C "$root" --numeric-owner -c . | docker import \
        --change 'LABEL neuco.test-only="true"' \
        --change "LABEL neuco.test.key=\"$key\"" \
        --change 'LABEL org.opencontainers.image.description="TEST-ONLY stand-in built with debootstrap from Debian bookworm packages; never deploy"' \
        "$@" - "$image" >/dev/null
}

ensure_python_standin() {
    local packages=python3,python3-venv,python-is-python3,ca-certificates
    local tarball key root
    tarball=$(debootstrap_tarball minbase "$packages")
    key=$( (basename "$tarball"; extra_ca_certs | xargs -r cat; echo v4) | sha256sum | cut -c1-12)
    if standin_exists "$PYTHON_STANDIN" "$key"; then
        note "stand-in $PYTHON_STANDIN is cached"
        return 0
    fi
    note "building stand-in $PYTHON_STANDIN (test-only) from $tarball"
    root=$(mktemp -d "$NEUCO_TEST_CACHE/python-root.XXXXXX")
    tar -C "$root" -xf "$tarball"
    trust_machine_cas "$root"
    # Like the official image: no bytecode (Debian compiles it at install time), and like its
    # base, debian:bookworm-slim, no documentation, manuals or translations, also for what
    # apt installs later (the dpkg path excludes).
    find "$root/usr" -depth -name __pycache__ -type d -exec rm -rf {} +
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/*
    # The official image's interpreter paths, so a venv made in it looks the same.
    local name
    for name in python python3 python3.11; do
        ln -sf "/usr/bin/$name" "$root/usr/local/bin/$name"
    done
    import_root "$root" "$PYTHON_STANDIN" "$key" \
        --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]'
    rm -rf "$root"
}

ensure_postgres_standin() {
    local packages=postgresql-15,ca-certificates
    local tarball key root
    tarball=$(debootstrap_tarball minbase "$packages")
    key=$( (basename "$tarball"; cat "$STANDIN_DIR/postgres-entrypoint.sh"; echo v1) |
        sha256sum | cut -c1-12)
    if standin_exists "$POSTGRES_STANDIN" "$key"; then
        note "stand-in $POSTGRES_STANDIN is cached"
        return 0
    fi
    note "building stand-in $POSTGRES_STANDIN (test-only) from $tarball"
    root=$(mktemp -d "$NEUCO_TEST_CACHE/postgres-root.XXXXXX")
    tar -C "$root" -xf "$tarball"
    # The package made a cluster in /var/lib/postgresql/15/main; the official image starts
    # empty and initialises PGDATA on first start, which the entrypoint does too.
    rm -rf "$root/var/lib/postgresql/15" "$root/etc/postgresql/15"
    install -m 0755 "$STANDIN_DIR/postgres-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
    local uid gid
    uid=$(chroot "$root" id -u postgres)
    gid=$(chroot "$root" id -g postgres)
    install -d -o "$uid" -g "$gid" -m 0700 "$root/var/lib/postgresql/data"
    install -d -o "$uid" -g "$gid" -m 2775 "$root/var/run/postgresql"
    import_root "$root" "$POSTGRES_STANDIN" "$key" \
        --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV PGDATA=/var/lib/postgresql/data' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'USER postgres' \
        --change 'VOLUME /var/lib/postgresql/data' \
        --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
        --change 'CMD ["postgres"]'
    # SIGINT is PostgreSQL's fast shutdown, as in the official image (SIGTERM would wait for
    # every client to disconnect); `docker import` cannot set it, a one-line build can.
    printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$POSTGRES_STANDIN" |
        DOCKER_BUILDKIT=0 docker build -q -t "$POSTGRES_STANDIN" - >/dev/null
    rm -rf "$root"
}

STANDIN_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
