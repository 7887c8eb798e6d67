#!/usr/bin/env bash
# Builds a PostgreSQL container image with no container registry, for the docker and podman runtimes.
#
#   scripts/build-pg-image.sh [--runtime docker|podman] [--force] [TAG]
#
# TAG defaults to sqlrs-local/postgres:15. The image is Debian bookworm (debootstrap --variant=minbase)
# with Debian's postgresql-15 and postgresql-client-15 (postgres, initdb, psql, pgbench, pg_dump, ...),
# imported with `docker import` / `podman import` (about 35 s and 370 MB; debootstrap needs only the
# Debian package mirror). With --runtime podman and the tag already in docker, the docker image is
# copied (`docker save | podman load`) instead of being built again.
#
# Idempotent: nothing is done when the tag exists, unless --force. Needs root (debootstrap, chroot).
#
# Environment: SQLRS_DEBIAN_MIRROR (default http://deb.debian.org/debian), SQLRS_DEBIAN_SUITE
# (default bookworm), SQLRS_PG_MAJOR (default 15: bookworm's PostgreSQL).
#
# Users who can reach a registry do not need this: `--image postgres:17` (the official images) works too.
set -euo pipefail

runtime=docker
force=false
tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runtime) runtime=${2:-}; shift 2 ;;
    --runtime=*) runtime=${1#--runtime=}; shift ;;
    --force) force=true; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-pg-image: unknown option $1" >&2; exit 2 ;;
    *) [ -z "$tag" ] || { echo "build-pg-image: only one TAG" >&2; exit 2; }; tag=$1; shift ;;
  esac
done
tag=${tag:-sqlrs-local/postgres:15}
case "$runtime" in docker | podman) ;; *) echo "build-pg-image: --runtime must be docker or podman" >&2; exit 2 ;; esac

mirror=${SQLRS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${SQLRS_DEBIAN_SUITE:-bookworm}
major=${SQLRS_PG_MAJOR:-15}

log() { echo "build-pg-image: $*" >&2; }

command -v "$runtime" >/dev/null 2>&1 || { log "$runtime is not installed"; exit 1; }
if ! "$runtime" info >/dev/null 2>&1; then
  if [ "$runtime" = docker ]; then
    log "the docker daemon is not running: start it (systemctl start docker, or dockerd &)"
  else
    log "podman cannot reach its service: check 'podman info' (podman machine start on macOS)"
  fi
  exit 1
fi

if ! $force && "$runtime" image inspect "$tag" >/dev/null 2>&1; then
  log "$runtime already has $tag ($("$runtime" image inspect --format '{{.Id}}' "$tag" | sed 's/^sha256://' | cut -c1-12))"
  exit 0
fi

started=$(date +%s)

# podman: copy the docker image when there is one (about 8 s, no debootstrap).
if [ "$runtime" = podman ] && ! $force && command -v docker >/dev/null 2>&1 &&
  docker image inspect "$tag" >/dev/null 2>&1; then
  log "copying $tag from docker to podman"
  docker save "$tag" | podman load -q >/dev/null
  # podman may name a loaded short name docker.io/...: make sure the plain tag resolves.
  if ! podman image inspect "$tag" >/dev/null 2>&1; then
    id=$(docker image inspect --format '{{.Id}}' "$tag")
    podman tag "$id" "$tag"
  fi
  log "podman has $tag ($(( $(date +%s) - started )) s)"
  exit 0
fi

[ "$(id -u)" = 0 ] || { log "building the image needs root (debootstrap, chroot)"; exit 1; }
command -v debootstrap >/dev/null 2>&1 || { log "debootstrap is not installed: apt-get install -y debootstrap"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/sqlrs-pg-image.XXXXXX")
root=$work/root
cleanup() {
  for m in proc sys dev/pts dev; do umount -l "$root/$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

log "debootstrap $suite into $root (about 25 s)"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  exit 1
}

security=${mirror%/debian}/debian-security
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
# No service starts in the chroot, and no docs.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
  'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
  >"$root/etc/dpkg/dpkg.cfg.d/01_nodoc"

log "installing postgresql-$major in the chroot (about 10 s)"
mount -t proc proc "$root/proc"
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
  bash -c "apt-get update -q && apt-get install -y -q --no-install-recommends postgresql-$major postgresql-client-$major" \
  >"$work/apt.log" 2>&1 || {
  tail -20 "$work/apt.log" >&2
  exit 1
}
umount "$root/proc"

# Drop the cluster Debian creates, apt's caches and the docs; keep an empty PGDATA owned by postgres.
rm -rf "$root/var/lib/postgresql/$major/main" "$root/etc/postgresql/$major/main" "$root"/var/log/postgresql/* \
  "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
  "$root"/usr/share/info/* "$root/usr/sbin/policy-rc.d"
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
mkdir -p "$root/var/lib/postgresql/data"
chroot "$root" chown postgres:postgres /var/lib/postgresql/data
chmod 700 "$root/var/lib/postgresql/data"
# $root/var/run is an absolute symlink to /run: never write through it from the host.
chmod 3777 "$root/run/postgresql"

log "importing into $runtime as $tag"
# docker 20.10 refuses STOPSIGNAL in --change; sqlrs passes --stop-signal SIGINT itself.
tar --numeric-owner -C "$root" -c . | "$runtime" import \
  --change "ENV PATH=/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change 'ENV PGDATA=/var/lib/postgresql/data' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'USER postgres' \
  --change 'WORKDIR /var/lib/postgresql' \
  --change 'EXPOSE 5432' \
  --change 'CMD ["postgres","-c","listen_addresses=*"]' \
  - "$tag" >/dev/null
log "$runtime has $tag ($("$runtime" image inspect --format '{{.Id}}' "$tag" | sed 's/^sha256://' | cut -c1-12)) in $(( $(date +%s) - started )) s"
