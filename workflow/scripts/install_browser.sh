#!/usr/bin/env bash
# Install the headless browser that the MLflow UI test drives (tests/workflow/test_mlflow_ui.py,
# `make test-ui`): Debian's `chromium` and `chromium-driver` packages. Idempotent: exits 0 when both
# commands are on PATH (installing them first as root with apt-get when missing), else says what to
# do and exits 1.
set -u
# shellcheck source=workflow/scripts/apt_install.sh
. "$(dirname "$0")/apt_install.sh"

have_browser() {
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
}

fail_hint() {
    echo "install_browser: as root on Debian/Ubuntu run: apt-get update && apt-get install -y chromium chromium-driver"
    echo "install_browser: without them the MLflow UI test skips (it says why)"
}

apt_install install_browser have_browser chromium chromium-driver
