#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Issue 5: read-all of a rootfs image through each built-in backend, as a
# ratio to the file backend in the same run.
#
#   bench/backends-rootfs.sh [-B BUILD_DIR] [-k ROUNDS] [-D] [IMAGE...]
#
# Backends (bench/read_all.c -b):
#   file             pread(2) on the image file
#   blockdev         eshare_backend_open_blockdev() on a loop device set up
#                    here (losetup -r), buffered: the loop device's own page
#                    cache holds the image after the first pass
#   blockdev-direct  the same with ESHARE_BLOCKDEV_DIRECT (O_DIRECT, aligned
#                    bounce buffers): every read goes through the loop driver
#                    to the image file's page cache
#   loop             eshare_backend_open_loop(): the library attaches the
#                    file to a free loop device itself, buffered
#   loop-direct      (only with -D) the same, asking the loop device for
#                    direct I/O: the loop driver then reads the image file
#                    with O_DIRECT, i.e. from the disk, bypassing the page
#                    cache: it times the disk (and takes minutes), not us
# Each round runs every backend once (read_all -r 3, its median), in turn,
# so that drift of a loaded machine hits them alike; the table gives the
# median over ROUNDS (default 3).  The image file is kept in the page
# cache (read once before).  Every backend's content digest is checked
# against the file backend's first.  Default images: the Debian rootfs,
# LZ4HC and uncompressed (bench/mkrootfs.sh).  Needs root.  Prints Markdown.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build-bench
rounds=3
backends=(file blockdev blockdev-direct loop)
while getopts "B:k:D" o; do
	case $o in
	B) build=$OPTARG ;;
	k) rounds=$OPTARG ;;
	D) backends+=(loop-direct) ;;
	*) echo "usage: $0 [-B BUILD_DIR] [-k ROUNDS] [-D] [IMAGE...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
ra=$build/bin/read_all
[ -x "$ra" ] || { echo "no $ra: cmake --build $build --target read_all" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "backends-rootfs.sh: needs root (loop devices)" >&2; exit 1; }
if [ $# -eq 0 ]; then
	rb=/var/tmp/eshare-bench
	[ -e $rb/base-plain.erofs ] || "$here/bench/mkrootfs.sh" >&2
	set -- $rb/base-lz4hc.erofs $rb/base-plain.erofs
fi

dev=""
cleanup() { [ -n "$dev" ] && losetup -d "$dev" 2>/dev/null || true; }
trap cleanup EXIT

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# read_all's PATH for a backend: the loop device for blockdev*, else the file
src() { case $1 in blockdev*) echo "$dev" ;; *) echo "$2" ;; esac; }

echo "# $(date -u '+%F %T') UTC, $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| image | MB read |'
for b in "${backends[@]}"; do printf ' %s ms |' "$b"; done
for b in "${backends[@]:1}"; do printf ' %s / file |' "$b"; done
printf '\n|---|---:|'
for b in "${backends[@]}" "${backends[@]:1}"; do printf -- '---:|'; done
printf '\n'
status=0
for img in "$@"; do
	name=$(basename "$img" .erofs)
	cat "$img" >/dev/null
	dev=$(losetup -r -f --show "$img")
	ref=""
	declare -A t=()
	for b in "${backends[@]}"; do
		d=$("$ra" -x -b "$b" "$(src "$b" "$img")" | field digest)
		[ -z "$ref" ] && ref=$d
		if [ "$d" != "$ref" ]; then
			echo "backends: $name: $b read other bytes ($d vs $ref)" >&2
			status=1
		fi
		t[$b]=""
	done
	bytes=$("$ra" "$img" | field bytes)
	for ((r = 0; r < rounds; r++)); do
		for b in "${backends[@]}"; do
			t[$b]+=" $("$ra" -r 3 -b "$b" "$(src "$b" "$img")" | field median_s)"
		done
	done
	losetup -d "$dev"
	dev=""
	declare -A m=()
	for b in "${backends[@]}"; do
		# shellcheck disable=SC2086
		m[$b]=$(median ${t[$b]})
	done
	printf '| %s | %.1f |' "$name" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')"
	for b in "${backends[@]}"; do
		printf ' %s |' "$(awk -v s="${m[$b]}" 'BEGIN { printf "%.1f", s * 1000 }')"
	done
	for b in "${backends[@]:1}"; do
		printf ' %s |' "$(awk -v a="${m[$b]}" -v f="${m[file]}" 'BEGIN { printf "%.2f", a / f }')"
	done
	printf '\n'
	unset t m
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); $rounds rounds, median"
exit $status
