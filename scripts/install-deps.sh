#!/usr/bin/env bash
# Installs the system packages sqlrs needs on Debian/Ubuntu, only those that are missing.
#   scripts/install-deps.sh          what the host runtime needs (PostgreSQL server and clients)
#   scripts/install-deps.sh test     also what the test suite needs (btrfs, xfs, ...)
# Runs apt-get through sudo when not root. Idempotent and quiet when everything is there.
set -euo pipefail

profile=${1:-host}
packages=(postgresql postgresql-client)
commands=(pg_ctl psql)
if [ "$profile" = test ]; then
  packages+=(btrfs-progs xfsprogs util-linux procps)
  commands+=(mkfs.btrfs mkfs.xfs losetup)
fi

have_all=true
for c in "${commands[@]}"; do
  if ! command -v "$c" >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/"$c" >/dev/null 2>&1; then have_all=false; fi
done
$have_all && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "sqlrs needs: ${packages[*]} (no apt-get here: install them with your package manager)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "sqlrs needs root to install: ${packages[*]} (run: su -c 'apt-get install -y ${packages[*]}')" >&2
    exit 1
  fi
  SUDO=sudo
fi
echo "installing ${packages[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# policy-rc.d keeps Debian from starting a system cluster we do not use.
$SUDO apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
