#!/usr/bin/env bash
# Install the PostgreSQL server binaries the tests start (rostersync_pipeline_tests/pg_server.py)
# unless initdb is already there. Idempotent and non-interactive; exits 0 when PostgreSQL exists.
# Debian's package puts initdb/pg_ctl in /usr/lib/postgresql/<major>/bin (off PATH) and creates
# the `postgres` system user, which owns the test cluster when the tests run as root.
set -euo pipefail

find_initdb() {
  if [[ -n "${PG_BIN:-}" && -x "${PG_BIN}/initdb" ]]; then
    echo "${PG_BIN}/initdb"
    return 0
  fi
  if command -v initdb >/dev/null 2>&1; then
    command -v initdb
    return 0
  fi
  local candidate
  for candidate in /usr/lib/postgresql/*/bin/initdb; do
    if [[ -x "$candidate" ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if existing="$(find_initdb)"; then
  echo "install-postgres: found ${existing}; nothing to install"
  exit 0
fi

# shellcheck source=apt-install.sh
source "$(dirname "$0")/apt-install.sh"
apt_install install-postgres postgresql || {
  echo "install-postgres: (or point PG_BIN at the directory holding initdb and pg_ctl)" >&2
  exit 1
}

# The package's post-install may start a cluster on port 5432; the tests run their own servers
# and do not need it, but leave it alone: it is harmless and CI machines are throwaway.
if installed="$(find_initdb)"; then
  echo "install-postgres: installed ${installed}"
else
  echo "install-postgres: apt-get finished but initdb is still missing" >&2
  exit 1
fi
