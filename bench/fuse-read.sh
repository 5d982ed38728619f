#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Read every file of the Debian base image, one reader and four, cold and
# warm, through: the kernel's EROFS mount, erofs-share-fuse, squashfuse_ll
# and the kernel's squashfs (the same tree, mksquashfs -comp lz4).
# "cold": a fresh mount, and the image file's pages dropped from the page
# cache (posix_fadvise DONTNEED on that file only: the machine is shared, so
# no global drop_caches); "warm": the same read again on that mount.
# Each figure is the median of REPS (default 3) runs; the time includes
# find and cat (as a container's first start would).
#
#   bench/fuse-read.sh BUILD_DIR [IMAGE_DIR]   (root; IMAGE_DIR from bench/mkrootfs.sh)
set -euo pipefail

build=${1:?build dir}
dir=${2:-/var/tmp/eshare-bench}
bin=$build/bin/erofs-share-fuse
[ "$(id -u)" = 0 ] || { echo "fuse-read: needs root" >&2; exit 1; }
[ -f "$dir/base-lz4.erofs" ] || { echo "fuse-read: run bench/mkrootfs.sh first" >&2; exit 1; }
command -v squashfuse_ll >/dev/null && command -v mksquashfs >/dev/null ||
	{ echo "fuse-read: apt-get install squashfuse squashfs-tools" >&2; exit 1; }
erofs=$dir/base-lz4.erofs
sqfs=$dir/base-lz4.squashfs
[ -f "$sqfs" ] || mksquashfs "$dir/tree-base" "$sqfs" -comp lz4 -noappend -quiet >/dev/null

tmp=$(mktemp -d /tmp/eshare-fuse-read.XXXXXX)
m=$tmp/m
mkdir -p "$m"
trap 'mountpoint -q "$m" && { umount "$m" 2>/dev/null || fusermount3 -u -z "$m"; }; rm -rf "$tmp"' EXIT

dropfile() {
	python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"
}
readall() {
	if [ "$1" = 1 ]; then
		find "$m" -type f -print0 | xargs -0 -n 200 cat >/dev/null
	else
		find "$m" -type f -print0 | xargs -0 -n 50 -P "$1" cat >/dev/null
	fi
}
timed() {
	local t0
	t0=$(date +%s.%N)
	readall "$1"
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
}
mountit() {
	case $1 in
	kernel-erofs) mount -t erofs -o ro,loop "$erofs" "$m" ;;
	kernel-squashfs) mount -t squashfs -o ro,loop "$sqfs" "$m" ;;
	erofs-share-fuse) "$bin" "$m" "$erofs" ;;
	squashfuse_ll) squashfuse_ll "$sqfs" "$m" ;;
	esac
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$m" && return 0
		sleep 0.05
	done
	return 1
}
unmountit() {
	case $1 in
	kernel-*) umount "$m" ;;
	*) fusermount3 -u "$m" ;;
	esac
	sleep 0.2
}

median() {
	printf '%s\n' "$@" | sort -n | sed -n "$(((${#} + 1) / 2))p"
}
declare -A res
setups=(kernel-erofs erofs-share-fuse squashfuse_ll kernel-squashfs)
reps=${REPS:-3}
for s in "${setups[@]}"; do
	for r in 1 4; do
		cold=() warm=()
		for ((k = 0; k < reps; k++)); do
			dropfile "$erofs"
			dropfile "$sqfs"
			mountit "$s"
			cold+=("$(timed "$r")")
			warm+=("$(timed "$r")")
			unmountit "$s"
		done
		res[$s,$r,cold]=$(median "${cold[@]}")
		res[$s,$r,warm]=$(median "${warm[@]}")
	done
done
printf '| setup | 1 reader cold s | 1 reader warm s | 4 readers cold s | 4 readers warm s |\n'
printf '|---|---|---|---|---|\n'
for s in "${setups[@]}"; do
	printf '| %s | %s | %s | %s | %s |\n' "$s" "${res[$s,1,cold]}" "${res[$s,1,warm]}" \
		"${res[$s,4,cold]}" "${res[$s,4,warm]}"
done
printf '\nRatios to kernel-erofs (time, lower is faster):\n\n| setup | 1 cold | 1 warm | 4 cold | 4 warm |\n|---|---|---|---|---|\n'
for s in "${setups[@]}"; do
	printf '| %s' "$s"
	for k in 1,cold 1,warm 4,cold 4,warm; do
		awk -v a="${res[$s,$k]}" -v b="${res[kernel-erofs,$k]}" 'BEGIN { printf " | %.2f", a / b }'
	done
	printf ' |\n'
done
