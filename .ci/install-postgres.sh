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

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-postgres: no initdb and no apt-get; install the PostgreSQL server yourself" >&2
  echo "install-postgres: (or point PG_BIN at the directory holding initdb and pg_ctl)" >&2
  exit 1
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo --preserve-env=DEBIAN_FRONTEND)
  else
    echo "install-postgres: need root or sudo to apt-get install postgresql" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-postgres: installing the Debian package postgresql"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends postgresql >/dev/null

# The package's post-install may start a cluster on port 5432; the tests run their own servers
# and do not need it, but leave it alone: it is harmless and CI machines are throwaway.
if installed="$(find_initdb)"; then
  echo "install-postgres: installed ${installed}"
else
  echo "install-postgres: apt-get finished but initdb is still missing" >&2
  exit 1
fi
