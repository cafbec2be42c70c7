#!/usr/bin/env bash
# Install headless Chromium for the Dagster UI test (rostersync_pipeline_tests/test_dagster_ui.py)
# unless /usr/bin/chromium is already there. Idempotent and non-interactive; exits 0 when
# Chromium exists. Uses Debian's `chromium` package (no snap, no download from elsewhere).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
  echo "install-chromium: found ${CHROMIUM}; nothing to install"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no ${CHROMIUM} and no apt-get; install Chromium yourself" >&2
  echo "install-chromium: (the UI test skips when Chromium is missing)" >&2
  exit 1
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo --preserve-env=DEBIAN_FRONTEND)
  else
    echo "install-chromium: need root or sudo to apt-get install chromium" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-chromium: installing the Debian package chromium"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null

if [[ -x "$CHROMIUM" ]]; then
  echo "install-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
  echo "install-chromium: apt-get finished but ${CHROMIUM} is still missing" >&2
  exit 1
fi
