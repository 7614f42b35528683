# Shared by the install_*.sh scripts (source it, do not run it): install Debian packages when a
# check fails, as root, with apt-get; or say what to do and exit 1.
#   apt_install <name> <check-function> <package>...
# <check-function> is a shell function that returns 0 when the component is usable. The scripts
# define fail_hint() first to print what else the user can do.
# shellcheck shell=bash

apt_fail() {
    local name=$1
    shift
    echo "$name: $*" >&2
    if declare -F fail_hint >/dev/null; then
        fail_hint >&2
    fi
    exit 1
}

apt_install() {
    local name=$1 check=$2
    shift 2
    if "$check"; then
        echo "$name: already present; nothing to do"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        apt_fail "$name" "missing, and apt-get is not available on this machine (packages: $*)"
    fi
    if [ "$(id -u)" -ne 0 ]; then
        apt_fail "$name" "missing, and not running as root, so the packages $* cannot be installed from here"
    fi
    export DEBIAN_FRONTEND=noninteractive
    local pkg
    for pkg in "$@"; do
        if ! apt-cache show "$pkg" >/dev/null 2>&1; then
            echo "$name: apt does not know $pkg yet; running apt-get update"
            apt-get update || apt_fail "$name" "apt-get update failed"
            break
        fi
    done
    echo "$name: installing Debian packages $*"
    apt-get install -y --no-install-recommends "$@" || apt_fail "$name" "apt-get install -y $* failed"
    "$check" || apt_fail "$name" "the packages $* are installed, but the check still fails"
    echo "$name: installed $*"
}
