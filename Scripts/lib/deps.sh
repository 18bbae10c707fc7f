# shellcheck shell=bash
# Scripts/lib/deps.sh: make sure Debian packages are installed.
#
#   source "$(dirname "$0")/lib/deps.sh"
#   ensure_debian_packages musl-dev musl-dev:armel qemu-user-static
#
# - Quiet and fast (dpkg-query only) when nothing is missing.
# - "name:arch" adds the foreign architecture with dpkg --add-architecture first.
# - Waits for an apt/dpkg run that is already going (the dpkg lock, and the
#   background install that logs to $DEPS_BACKGROUND_LOG and ends with "done <rc>").
# - apt-get update may fail on one foreign index (seen on the mirror: a size
#   mismatch on a security index) while installs still work, so its failure is
#   only a warning; what counts is whether the packages are installed afterwards.
# - Safe under set -euo pipefail. Returns non-zero, naming what is missing, if
#   the install fails. Messages go to stderr.
#
# Knobs (environment):
#   DEPS_BACKGROUND_LOG   log of a background install to wait for (default /tmp/apt-install.log)
#   DEPS_WAIT_SECONDS     how long to wait for it / for the dpkg lock (default 1800)
#   DEPS_NO_INSTALL=1     never install; just report what is missing and fail

if [[ -n "${_CAMAGENT_DEPS_SH:-}" ]]; then return 0; fi
_CAMAGENT_DEPS_SH=1
_DEPS_APT_UPDATED=""

_deps_say() { printf 'deps: %s\n' "$*" >&2; }

# deps_package_installed PKG  (PKG or PKG:ARCH)
deps_package_installed() {
    local pkg=$1 native status
    if [[ "$pkg" == *:* ]]; then
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) || return 1
        [[ "$status" == "install ok installed" ]]
        return
    fi
    # An unqualified name means the native architecture (or Architecture: all).
    # dpkg-query lists every installed architecture of a Multi-Arch: same
    # package, so check the architecture as well as the status.
    native=$(dpkg --print-architecture)
    dpkg-query -W -f='${Status} ${Architecture}\n' "$pkg" 2>/dev/null |
        grep -qE "^install ok installed ($native|all)\$"
}

# deps_missing_packages PKG...: prints the missing ones, one per line.
deps_missing_packages() {
    local pkg
    for pkg in "$@"; do
        deps_package_installed "$pkg" || printf '%s\n' "$pkg"
    done
}

_deps_as_root() {
    if [[ "$(id -u)" == 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        _deps_say "need root to run: $*"
        return 1
    fi
}

# Waits for a background install that logs to $DEPS_BACKGROUND_LOG to finish.
_deps_wait_background_install() {
    local log=${DEPS_BACKGROUND_LOG:-/tmp/apt-install.log}
    local limit=${DEPS_WAIT_SECONDS:-1800} waited=0 age
    [[ -f "$log" ]] || return 0
    while ! tail -n 1 "$log" 2>/dev/null | grep -qE '^done -?[0-9]+'; do
        # A log untouched for 30 minutes belongs to a run that died; don't hang on it.
        age=$(($(date +%s) - $(stat -c %Y "$log")))
        ((age < 1800)) || return 0
        if ((waited == 0)); then
            _deps_say "waiting for the background package install ($log) to finish..."
        fi
        if ((waited >= limit)); then
            _deps_say "gave up waiting after ${limit}s for $log"
            return 0
        fi
        sleep 5
        waited=$((waited + 5))
    done
}

# deps_apt_update: apt-get update, tolerant of a broken foreign index (a
# warning) and of another apt-get update holding the lists lock (waits for it:
# DPkg::Lock::Timeout covers only the dpkg lock, not /var/lib/apt/lists/lock).
deps_apt_update() {
    local lock_timeout=${DEPS_WAIT_SECONDS:-1800} log rc waited=0
    log=$(mktemp "${TMPDIR:-/tmp}/deps-update.XXXXXX")
    while :; do
        rc=0
        _deps_as_root apt-get -o DPkg::Lock::Timeout="$lock_timeout" -q update >"$log" 2>&1 || rc=$?
        ((rc != 0)) && grep -q 'Could not get lock /var/lib/apt/lists' "$log" && ((waited < lock_timeout)) || break
        ((waited == 0)) && _deps_say "another apt-get update is running; waiting for it..."
        sleep 5
        waited=$((waited + 5))
    done
    _DEPS_APT_UPDATED=1
    if ((rc != 0)); then
        _deps_say "apt-get update reported errors (continuing; install result is what counts):"
        grep -E '^(E|W):' "$log" | head -n 5 >&2 || true
    fi
    rm -f "$log"
    return "$rc"
}

# ensure_debian_packages PKG[:ARCH]...
ensure_debian_packages() {
    (($# > 0)) || return 0
    local missing=() pkg arch
    mapfile -t missing < <(deps_missing_packages "$@")
    ((${#missing[@]} > 0)) || return 0

    if [[ "${DEPS_NO_INSTALL:-}" == 1 ]]; then
        _deps_say "missing Debian packages: ${missing[*]} (DEPS_NO_INSTALL=1, not installing)"
        return 1
    fi

    # Something may be installing them right now.
    _deps_wait_background_install
    mapfile -t missing < <(deps_missing_packages "${missing[@]}")
    ((${#missing[@]} > 0)) || return 0

    if ! command -v apt-get >/dev/null 2>&1; then
        _deps_say "missing Debian packages: ${missing[*]} (and no apt-get here to install them)"
        return 1
    fi

    # Foreign architectures named as pkg:arch.
    local native foreign
    native=$(dpkg --print-architecture)
    foreign=" $(dpkg --print-foreign-architectures | tr '\n' ' ') "
    for pkg in "${missing[@]}"; do
        [[ "$pkg" == *:* ]] || continue
        arch=${pkg##*:}
        if [[ "$arch" != "$native" && "$arch" != all && "$foreign" != *" $arch "* ]]; then
            _deps_say "adding foreign architecture $arch"
            _deps_as_root dpkg --add-architecture "$arch" || return 1
            foreign+="$arch "
            _DEPS_APT_UPDATED=""
        fi
    done

    local lock_timeout=${DEPS_WAIT_SECONDS:-1800} aptlog
    aptlog=$(mktemp "${TMPDIR:-/tmp}/deps-apt.XXXXXX")
    if [[ -z "$_DEPS_APT_UPDATED" ]]; then
        _deps_say "apt-get update (for: ${missing[*]})"
        deps_apt_update || true
    fi

    _deps_say "installing: ${missing[*]}"
    if ! _deps_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout="$lock_timeout" -q -y --no-install-recommends install "${missing[@]}" \
        >>"$aptlog" 2>&1; then
        _deps_say "apt-get install failed; last lines of the log ($aptlog):"
        tail -n 15 "$aptlog" >&2 || true
    fi

    local still=()
    mapfile -t still < <(deps_missing_packages "${missing[@]}")
    if ((${#still[@]} > 0)); then
        _deps_say "still missing Debian packages: ${still[*]}"
        _deps_say "install them by hand: apt-get install --no-install-recommends ${still[*]}"
        return 1
    fi
    rm -f "$aptlog"
    _deps_say "installed: ${missing[*]}"
}

# What `swift build` of this package needs from Debian on the host: the agent's
# TLS shim links mbedTLS (the same 2.28 release the cross sysroots build from
# source), and the test PKI is made with the openssl CLI.
ensure_host_build_packages() {
    # libsqlite3-dev: GRDB links the system SQLite (the endpoint registry).
    ensure_debian_packages libmbedtls-dev openssl libsqlite3-dev
}
