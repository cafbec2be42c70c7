# Sourced by the .ci/install-*.sh scripts: install one Debian package, non-interactively,
# as root or through sudo. Usage: apt_install TAG PACKAGE (TAG prefixes the messages).
apt_install() {
  local tag="$1" package="$2"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "${tag}: no apt-get; install the Debian package ${package} yourself" >&2
    return 1
  fi
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "${tag}: need root or sudo to apt-get install ${package}" >&2
      return 1
    fi
    sudo=(sudo --preserve-env=DEBIAN_FRONTEND)
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "${tag}: installing the Debian package ${package}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${package}" >/dev/null
}
