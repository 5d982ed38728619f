#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the tests and the examples need.
# Does nothing when they are all present already.
set -euo pipefail
pkgs=(build-essential cmake pkg-config liblz4-dev libzstd-dev liblzma-dev libdeflate-dev
      libxxhash-dev libssl-dev libfuse3-dev fuse3 check erofs-utils clang
      libclang-rt-14-dev attr acl python3 util-linux kmod gnuplot-nox debootstrap
      help2man man-db groff-base)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
