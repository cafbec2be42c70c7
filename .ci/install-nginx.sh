#!/usr/bin/env bash
# Install nginx for the reverse-proxy test (rostersync_pipeline_tests/defs/test_deploy_proxy.py)
# unless an nginx binary is already there. Idempotent and non-interactive; exits 0 when nginx
# exists. Debian's `nginx` package has the modules deploy/nginx/rostersync-dagster.conf uses
# (ssl, http2, auth_basic with crypt(3) hashes, proxy, map).
set -euo pipefail

find_nginx() {
  if [[ -n "${NGINX:-}" && -x "${NGINX}" ]]; then
    echo "${NGINX}"
    return 0
  fi
  if command -v nginx >/dev/null 2>&1; then
    command -v nginx
    return 0
  fi
  if [[ -x /usr/sbin/nginx ]]; then
    echo /usr/sbin/nginx
    return 0
  fi
  return 1
}

if existing="$(find_nginx)"; then
  echo "install-nginx: found ${existing}; nothing to install"
  exit 0
fi

# shellcheck source=apt-install.sh
source "$(dirname "$0")/apt-install.sh"
apt_install install-nginx nginx || {
  echo "install-nginx: (or point NGINX at an nginx binary)" >&2
  exit 1
}

# The package's post-install may start the system nginx on port 80; the test runs its own
# server on loopback ports and does not need it, but leaves it alone (CI machines are throwaway).
if installed="$(find_nginx)"; then
  echo "install-nginx: installed $("${installed}" -v 2>&1)"
else
  echo "install-nginx: apt-get finished but nginx is still missing" >&2
  exit 1
fi
