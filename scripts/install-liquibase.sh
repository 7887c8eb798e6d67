#!/usr/bin/env bash
# Installs the Liquibase that sqlrs uses when neither `liquibase.exec` (engine config) nor a
# `liquibase` on PATH is set: npm `liquibase@4.28.1`, which bundles Liquibase OSS 4.28 and the
# PostgreSQL JDBC driver (do not use `liquibase@latest`: it is a wrapper without the jar).
#
#   scripts/install-liquibase.sh     installs (once) and prints the launcher path on stdout
#
# Prefix: ${SQLRS_TOOLS_DIR:-$HOME/.cache/sqlrs/tools}/liquibase-4.28.1 (the engine looks there).
# Needs npm (Node.js). Liquibase itself also needs a Java runtime (Debian: default-jre-headless,
# installed by `scripts/install-deps.sh test`). Idempotent: does nothing when already installed.
set -euo pipefail

version=4.28.1
tools=${SQLRS_TOOLS_DIR:-${HOME:?HOME is not set (set SQLRS_TOOLS_DIR)}/.cache/sqlrs/tools}
prefix="$tools/liquibase-$version"
launcher="$prefix/node_modules/liquibase/dist/liquibase/liquibase"

installed() {
  [ -x "$launcher" ] && grep -q "\"version\": *\"$version\"" "$prefix/node_modules/liquibase/package.json" 2>/dev/null
}

if ! installed; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "installing Liquibase needs npm: install Node.js (e.g. apt-get install -y nodejs npm), then rerun $0" >&2
    exit 1
  fi
  echo "installing liquibase@$version into $prefix ..." >&2
  mkdir -p "$prefix"
  # A private package.json keeps npm from walking up into an unrelated project.
  [ -f "$prefix/package.json" ] || echo '{"name":"sqlrs-tools-liquibase","private":true}' >"$prefix/package.json"
  npm install --prefix "$prefix" --ignore-scripts --no-audit --no-fund --no-save --loglevel=error \
    "liquibase@$version" >&2
  # The tarball's launcher is not always marked executable.
  chmod +x "$launcher"
  installed || { echo "liquibase@$version did not install a launcher at $launcher" >&2; exit 1; }
fi

if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
  echo "warning: Liquibase needs Java: apt-get install -y default-jre-headless" >&2
fi
echo "$launcher"
