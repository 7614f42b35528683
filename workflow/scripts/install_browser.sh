#!/usr/bin/env bash
# Install the headless browser that the MLflow UI test drives (tests/workflow/test_mlflow_ui.py,
# `make test-ui`): Debian's `chromium` and `chromium-driver` packages. Idempotent:
#   - both present (chromium and chromedriver on PATH) -> says so, exits 0;
#   - missing, running as root, apt-get available      -> `apt-get update`, installs both, exits 0
#     when both commands are present afterwards;
#   - otherwise                                        -> says what to do, exits 1.
set -u

PKGS="chromium chromium-driver"

have_browser() {
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
}

fail() {
    echo "install_browser: $*" >&2
    echo "install_browser: as root on Debian/Ubuntu run: apt-get update && apt-get install -y $PKGS" >&2
    echo "install_browser: without them the MLflow UI test skips (it says why)" >&2
    exit 1
}

if have_browser; then
    echo "install_browser: chromium and chromedriver already present ($(command -v chromium)," \
        "$(command -v chromedriver)); nothing to do"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    fail "chromium/chromedriver missing and apt-get is not available on this machine"
fi
if [ "$(id -u)" -ne 0 ]; then
    fail "chromium/chromedriver missing and not running as root, so $PKGS cannot be installed from here"
fi

export DEBIAN_FRONTEND=noninteractive
echo "install_browser: running apt-get update"
apt-get update || fail "apt-get update failed"
echo "install_browser: installing Debian packages $PKGS"
# shellcheck disable=SC2086  # two package names
apt-get install -y --no-install-recommends $PKGS || fail "apt-get install -y $PKGS failed"

if have_browser; then
    echo "install_browser: installed $PKGS ($(chromium --version 2>/dev/null))"
    exit 0
fi
fail "$PKGS are installed but chromium or chromedriver is not on PATH"
