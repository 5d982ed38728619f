#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Read every file of a Debian root file system image, one reader and four in
# parallel, cold and warm, through:
#   kernel-erofs      the kernel's EROFS mount of the image (loop device)
#   erofs-share-fuse  this daemon, the image as the mount's root (defaults)
#   erofs-share-fuse-s  the same, single-threaded (-s)
#   erofs-share-fuse-tN the same with --threads N (only if SETUPS names it)
#   squashfuse_ll     Debian's squashfuse_ll on a squashfs of the same tree
#   kernel-squashfs   the kernel's squashfs mount of that squashfs
# The reader is bench's read_all -m dir (walk, then read() every regular
# file, THREADS threads taking the next file); its content digest (-x, in a
# pass of its own, untimed) must be the same on every mount: the same tree.
# "cold": a fresh mount (a new daemon, a new loop device) with the image
# file itself in the page cache (read just before: the disk is not timed;
# no global drop_caches on a shared machine); "warm": the same read again
# on that mount.  The machine is shared, so every repetition runs all the
# setups back to back in a rotating order, ratios to kernel-erofs are taken
# within a repetition, and the tables give medians over REPS (default 5).
#
#   bench/fuse-read.sh BUILD_DIR [IMAGE [SQUASHFS]]   (root)
# IMAGE defaults to /var/tmp/eshare-bench/base-lz4hc.erofs (bench/mkrootfs.sh),
# SQUASHFS to base-lz4.squashfs beside it (made with mksquashfs -comp lz4
# from tree-base if missing).
set -euo pipefail

build=${1:?build dir}
erofs=${2:-/var/tmp/eshare-bench/base-lz4hc.erofs}
sqfs=${3:-$(dirname "$erofs")/base-lz4.squashfs}
bin=$build/bin/erofs-share-fuse
reader=$build/bin/read_all
reps=${REPS:-5}
[ "$(id -u)" = 0 ] || { echo "fuse-read: needs root" >&2; exit 1; }
[ -x "$bin" ] && [ -x "$reader" ] || { echo "fuse-read: build erofs-share-fuse and read_all" >&2; exit 1; }
[ -f "$erofs" ] || { echo "fuse-read: no $erofs (bench/mkrootfs.sh)" >&2; exit 1; }
command -v squashfuse_ll >/dev/null && command -v mksquashfs >/dev/null ||
	{ echo "fuse-read: apt-get install squashfuse squashfs-tools" >&2; exit 1; }
[ -f "$sqfs" ] ||
	mksquashfs "$(dirname "$erofs")/tree-base" "$sqfs" -comp lz4 -noappend -quiet >/dev/null

tmp=$(mktemp -d /tmp/eshare-fuse-read.XXXXXX)
m=$tmp/m
mkdir -p "$m"
trap 'mountpoint -q "$m" && { umount "$m" 2>/dev/null || fusermount3 -u -z "$m"; }; rm -rf "$tmp"' EXIT

mountit() {
	case $1 in
	kernel-erofs) mount -t erofs -o ro,loop "$erofs" "$m" ;;
	kernel-squashfs) mount -t squashfs -o ro,loop "$sqfs" "$m" ;;
	erofs-share-fuse) "$bin" "$m" "$erofs" ;;
	erofs-share-fuse-s) "$bin" -s "$m" "$erofs" ;;
	erofs-share-fuse-t*) "$bin" --threads "${1#erofs-share-fuse-t}" "$m" "$erofs" ;;
	squashfuse_ll) squashfuse_ll "$sqfs" "$m" ;;
	esac
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$m" && return 0
		sleep 0.05
	done
	echo "fuse-read: $1 did not mount" >&2
	return 1
}
unmountit() {
	case $1 in
	kernel-*) umount "$m" ;;
	*) fusermount3 -u "$m" ;;
	esac
	# a FUSE daemon exits after the unmount: wait until it has
	for ((i = 0; i < 100; i++)); do
		pgrep -f "^(squashfuse_ll|$bin) .*$m" >/dev/null || return 0
		sleep 0.05
	done
}
# field NAME LINE: the value of NAME=... in read_all's RESULT line
field() {
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

# SETUPS (words) picks and orders the setups; kernel-erofs must be one
read -r -a setups <<<"${SETUPS:-kernel-erofs erofs-share-fuse erofs-share-fuse-s squashfuse_ll kernel-squashfs}"
[[ " ${setups[*]} " == *" kernel-erofs "* ]] || { echo "fuse-read: SETUPS needs kernel-erofs" >&2; exit 1; }

# The same tree everywhere: files, bytes and content digest.
want=
for s in "${setups[@]}"; do
	mountit "$s"
	line=$("$reader" -m dir -x "$m")
	unmountit "$s"
	got="$(field files "$line") $(field bytes "$line") $(field digest "$line")"
	[ -z "$want" ] && want=$got
	[ "$got" = "$want" ] || { echo "fuse-read: $s reads '$got', not '$want'" >&2; exit 1; }
done

declare -A res
loads=()
for ((k = 0; k < reps; k++)); do
	loads+=("$(cut -d' ' -f1 /proc/loadavg)")
	for ((j = 0; j < ${#setups[@]}; j++)); do
		s=${setups[(j + k) % ${#setups[@]}]}
		for t in 1 4; do
			cat "$erofs" "$sqfs" >/dev/null
			mountit "$s"
			cold=$(field seconds "$("$reader" -m dir -t "$t" "$m")")
			warm=$(field seconds "$("$reader" -m dir -t "$t" "$m")")
			unmountit "$s"
			res[$s,$t,cold]+=" $cold"
			res[$s,$t,warm]+=" $warm"
		done
	done
	loads[k]+="-$(cut -d' ' -f1 /proc/loadavg)"
done

# median of the words of $1
median() {
	tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 }
		END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# ratios A/B of two word lists, pairwise (one repetition each)
ratios() {
	paste -d' ' <(tr ' ' '\n' <<<"$1" | sed '/^$/d') <(tr ' ' '\n' <<<"$2" | sed '/^$/d') |
		awk '{ printf " %.4f", $1 / $2 }'
}
cols=(1,cold 1,warm 4,cold 4,warm)
echo "$(field files "$line") files, $(field bytes "$line") bytes; $reps repetitions; medians"
echo "load average (1 min) at the start and end of each repetition: ${loads[*]}"
echo
printf '| setup | 1 reader cold s | 1 reader warm s | 4 readers cold s | 4 readers warm s |\n'
printf '|---|---|---|---|---|\n'
for s in "${setups[@]}"; do
	printf '| %s' "$s"
	for c in "${cols[@]}"; do
		printf ' | %s' "$(median "${res[$s,$c]}")"
	done
	printf ' |\n'
done
printf '\nTime relative to kernel-erofs in the same repetition (median of the ratios; lower is faster):\n\n'
printf '| setup | 1 cold | 1 warm | 4 cold | 4 warm |\n|---|---|---|---|---|\n'
for s in "${setups[@]}"; do
	printf '| %s' "$s"
	for c in "${cols[@]}"; do
		printf ' | %s' "$(median "$(ratios "${res[$s,$c]}" "${res[kernel-erofs,$c]}")")"
	done
	printf ' |\n'
done
