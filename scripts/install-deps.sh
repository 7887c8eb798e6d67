#!/usr/bin/env bash
# Installs the system packages sqlrs needs on Debian/Ubuntu, only those that are missing.
#   scripts/install-deps.sh          what the host runtime needs (PostgreSQL server and clients)
#   scripts/install-deps.sh test     also what the test suite needs (btrfs, xfs, docker, podman, ...),
#                                    starts dockerd when it is not running, and builds the PostgreSQL test
#                                    image for docker and podman (scripts/build-pg-image.sh; no registry),
#                                    plus Java (default-jre-headless) and Liquibase (scripts/install-liquibase.sh:
#                                    npm liquibase@4.28.1 under ${SQLRS_TOOLS_DIR:-$HOME/.cache/sqlrs/tools})
# Runs apt-get through sudo when not root. Idempotent and quiet when everything is there.
set -euo pipefail

profile=${1:-host}
packages=(postgresql postgresql-client)
commands=(pg_ctl psql)
if [ "$profile" = test ]; then
  packages+=(btrfs-progs xfsprogs util-linux procps docker.io podman debootstrap default-jre-headless zsh fish)
  # dockerd, not docker: some machines have a docker client alone.
  commands+=(mkfs.btrfs mkfs.xfs losetup dockerd podman debootstrap java zsh fish)
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

# The container runtimes' side of the test profile: a running dockerd (no systemd assumed) and the image.
containers_ready() {
  [ "$profile" = test ] || return 0
  if ! $SUDO docker info >/dev/null 2>&1; then
    echo "starting dockerd (log: /var/log/sqlrs-dockerd.log) ..." >&2
    $SUDO sh -c 'setsid nohup dockerd >>/var/log/sqlrs-dockerd.log 2>&1 </dev/null &'
    for _ in $(seq 1 150); do $SUDO docker info >/dev/null 2>&1 && break; sleep 0.2; done
    $SUDO docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/sqlrs-dockerd.log" >&2; exit 1; }
  fi
  local here
  here=$(dirname "$0")
  $SUDO "$here/build-pg-image.sh" --runtime docker
  $SUDO "$here/build-pg-image.sh" --runtime podman
}

# Liquibase for the test profile: npm into the invoking user's tools dir (not through sudo: the tests
# look under this user's $HOME). Needs npm; idempotent.
liquibase_ready() {
  [ "$profile" = test ] || return 0
  "$(dirname "$0")/install-liquibase.sh" >/dev/null
}

have_all=true
for c in "${commands[@]}"; do
  if ! command -v "$c" >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/"$c" >/dev/null 2>&1; then have_all=false; fi
done
if $have_all; then
  containers_ready
  liquibase_ready
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "sqlrs needs: ${packages[*]} (no apt-get here: install them with your package manager)" >&2
  exit 1
fi
if [ -n "$SUDO" ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "sqlrs needs root to install: ${packages[*]} (run: su -c 'apt-get install -y ${packages[*]}')" >&2
    exit 1
  fi
fi
echo "installing ${packages[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# Slim Debian images lack this directory, and the JRE's postinst fails without it.
$SUDO mkdir -p /usr/share/man/man1
# policy-rc.d keeps Debian from starting a system cluster we do not use.
$SUDO apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
containers_ready
liquibase_ready
