#!/usr/bin/env bash
# Install headless Chromium for the Dagster UI test (rostersync_pipeline_tests/defs/test_dagster_ui.py)
# unless /usr/bin/chromium is already there. Idempotent and non-interactive; exits 0 when
# Chromium exists. Uses Debian's `chromium` package (no snap, no download from elsewhere).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
  echo "install-chromium: found ${CHROMIUM}; nothing to install"
  exit 0
fi

# shellcheck source=apt-install.sh
source "$(dirname "$0")/apt-install.sh"
apt_install install-chromium chromium || exit 1

if [[ -x "$CHROMIUM" ]]; then
  echo "install-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
  echo "install-chromium: apt-get finished but ${CHROMIUM} is still missing" >&2
  exit 1
fi
