#!/usr/bin/env bash
# Make the default data set (Fashion-MNIST) available on this machine, without the internet.
#
# Debian's `dataset-fashion-mnist` package installs the four original idx-ubyte .gz files in
# /usr/share/datasets/fashion-mnist/, where advdiff.data reads them. Idempotent: exits 0 when the
# files are present (installing the package first as root with apt-get when missing), else explains
# how to get the data and exits 1.
# Override the directory checked with ADVDIFF_FASHION_MNIST_DIR (e.g. a folder filled by hand).
set -u
# shellcheck source=workflow/scripts/apt_install.sh
. "$(dirname "$0")/apt_install.sh"

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

fail_hint() {
    echo "install_fashion_mnist: get Fashion-MNIST (into $DIR) in one of these ways:"
    echo "  - as root on Debian/Ubuntu: apt-get update && apt-get install -y $PKG"
    echo "  - with internet access: advdiff downloads it through torchvision (FashionMNIST, download=True)"
    echo "  - by hand: put $FILES into a folder and pass it as the data root"
}

apt_install install_fashion_mnist have_data "$PKG"
