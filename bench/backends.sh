#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Read whole images through each built-in backend and compare the time.
#
#   bench/backends.sh BUILD_DIR [-n RUNS] [IMAGE...]
#
# For every image (default: all fixtures), `erofs-share manifest` (which
# reads and hashes every file) runs RUNS times (default 5) with --backend
# file, blockdev (on a loop device attached here with losetup) and loop
# (attached by the library itself).  Prints the median wall time per
# backend in milliseconds and checks that every backend printed the same
# manifest, and the kernel's one where IMAGE.manifest exists.  Needs root for blockdev and loop; without it only "file" runs.
# The page cache is left warm on purpose: the figures compare the code
# paths, not the disk.
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR [-n RUNS] [IMAGE...]}
shift
runs=5
if [ "${1:-}" = "-n" ]; then
	runs=${2:?-n needs a number}
	shift 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
cli=$build/bin/erofs-share
[ -x "$cli" ] || { echo "no $cli: build the CLI first" >&2; exit 1; }
if [ $# -eq 0 ]; then
	set -- "$here"/tests/fixtures/*.erofs
fi

backends=(file)
if [ "$(id -u)" = 0 ] && [ -e /dev/loop-control ] && command -v losetup >/dev/null; then
	backends+=(blockdev loop)
else
	echo "# not root or no loop devices: file backend only" >&2
fi

tmp=$(mktemp -d)
devs=()
cleanup() {
	for d in "${devs[@]}"; do losetup -d "$d" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# median of the arguments
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-26s' image
for b in "${backends[@]}"; do printf ' %10s' "$b(ms)"; done
printf '\n'

status=0
for img in "$@"; do
	name=$(basename "$img" .erofs)
	blob=${img%.erofs}.blob
	printf '%-26s' "$name"
	for b in "${backends[@]}"; do
		src=$img
		extra=()
		if [ "$b" = blockdev ]; then
			src=$(losetup -r -f --show "$img")
			devs+=("$src")
			if [ -e "$blob" ]; then
				bdev=$(losetup -r -f --show "$blob")
				devs+=("$bdev")
				extra=(--device "$bdev")
			fi
		elif [ -e "$blob" ]; then
			extra=(--device "$blob")
		fi
		times=()
		for ((r = 0; r < runs; r++)); do
			t0=$(now_ms)
			"$cli" --backend "$b" "${extra[@]}" manifest "$src" >"$tmp/$b.out"
			t1=$(now_ms)
			times+=($((t1 - t0)))
		done
		printf ' %10s' "$(median "${times[@]}")"
		if ! cmp -s "$tmp/file.out" "$tmp/$b.out"; then
			printf ' (%s: manifest differs from file backend)' "$b"
			status=1
		fi
	done
	if [ -e "$img.manifest" ] && ! cmp -s "$img.manifest" "$tmp/file.out"; then
		printf ' (differs from %s)' "$(basename "$img.manifest")"
		status=1
	fi
	printf '\n'
	for d in "${devs[@]}"; do losetup -d "$d"; done
	devs=()
done
exit $status
