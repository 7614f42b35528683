#!/usr/bin/env bash
# Make the default data set (Fashion-MNIST) available on this machine, without the internet.
#
# Debian's `dataset-fashion-mnist` package installs the four original idx-ubyte .gz files in
# /usr/share/datasets/fashion-mnist/, where advdiff.data reads them. This script is idempotent:
#   - data present            -> says so, exits 0;
#   - missing, running as root, apt-get available -> installs the package (running `apt-get update`
#     first when apt does not know the package yet), exits 0 if the files are present afterwards;
#   - otherwise               -> explains how to get the data, exits 1.
# Override the directory checked with ADVDIFF_FASHION_MNIST_DIR (e.g. a folder filled by hand).
set -u

PKG=dataset-fashion-mnist
DIR="${ADVDIFF_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
FILES="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

have_data() {
    local f
    for f in $FILES; do
        [ -s "$DIR/$f" ] || return 1
    done
    return 0
}

fail() {
    echo "install_fashion_mnist: $*" >&2
    echo "install_fashion_mnist: get Fashion-MNIST in one of these ways:" >&2
    echo "  - as root on Debian/Ubuntu: apt-get update && apt-get install -y $PKG" >&2
    echo "  - with internet access: advdiff downloads it through torchvision (FashionMNIST, download=True)" >&2
    echo "  - by hand: put $FILES into a folder and pass it as the data root" >&2
    exit 1
}

if have_data; then
    echo "install_fashion_mnist: Fashion-MNIST already present in $DIR; nothing to do"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    fail "data missing in $DIR and apt-get is not available on this machine"
fi
if [ "$(id -u)" -ne 0 ]; then
    fail "data missing in $DIR and not running as root, so $PKG cannot be installed from here"
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show "$PKG" >/dev/null 2>&1; then
    echo "install_fashion_mnist: apt does not know $PKG yet; running apt-get update"
    apt-get update || fail "apt-get update failed"
fi
echo "install_fashion_mnist: installing Debian package $PKG"
apt-get install -y --no-install-recommends "$PKG" || fail "apt-get install -y $PKG failed"

if have_data; then
    echo "install_fashion_mnist: installed $PKG; Fashion-MNIST is in $DIR"
    exit 0
fi
fail "$PKG is installed but the files are not in $DIR"
