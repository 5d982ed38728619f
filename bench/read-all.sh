#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Issue 3: read every regular file of an image through the library, and
# compare in the same run with
#   lower   the codec alone: every extent decoded straight from memory with
#           the format layer (no cache, no file system, no I/O);
#   kloop   the kernel: a fresh `mount -t erofs -o ro` (a loop device) of
#           the image, every file read with read(2) by the same C walker;
#   kfile   the kernel's file-backed mount (mount(2) with the image file as
#           the source, no loop device), same walker;
#   fsck    `fsck.erofs --extract=DIR` of Debian's erofs-utils, to a tmpfs.
#
#   bench/read-all.sh [-B BUILD_DIR] [-k SAMPLES] [-K FIXTURE_SAMPLES] [IMAGE...]
#
# "lower+pages" is lower plus copying every decoded byte into fresh 4 KiB
# pages that stay allocated until the run's timing ends: the memory a
# cache must fill.  glibc gives those pages back to the kernel between
# repetitions, so every repetition faults them in again: the floor of a
# read that keeps what it reads in a process that has not yet got the
# memory, to be compared with "new-proc" (the library reuses its freed
# memory from one in-process repetition to the next, "lib 1T" does not
# pay those faults; the plain "lower" is its floor).
#
# Default images: the LZ4HC Debian rootfs that bench/mkrootfs.sh builds (it
# is run if the image is missing) and the fixtures lzma, deflate, zstd and
# lz4.  Every figure is the MEDIAN over SAMPLES cold runs (default 5 for
# images over 16 MiB, FIXTURE_SAMPLES = 21 for smaller ones), each run
# cold for its reader: a new domain (lib), a new mount after
# `echo 3 > drop_caches` (kernel), a new process (fsck).  The image file
# itself is always kept in the page cache (cat IMAGE >/dev/null after a
# drop), so no reader pays for the disk.  "lib 1T" is the median of
# SAMPLES domains made one after another in one process (a warm malloc);
# "new-proc" is the median of SAMPLES processes that each make one domain
# (every page of memory faulted in anew).  Times come from clock_gettime
# inside read_all (walk + read; lib also attach) and, for fsck, around the
# process.  "lib/lower CPU" compares the two readers' CPU time (user +
# system of the process), which a loaded machine disturbs less than wall
# time.  Ratios are library time / other time: < 1 means the library
# is faster.  Needs root (mount, drop_caches).  Prints a Markdown table.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build-bench
samples=5
fsamples=21
while getopts "B:k:K:" o; do
	case $o in
	B) build=$OPTARG ;;
	k) samples=$OPTARG ;;
	K) fsamples=$OPTARG ;;
	*) echo "usage: $0 [-B BUILD_DIR] [-k SAMPLES] [-K FIXTURE_SAMPLES] [IMAGE...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
ra=$build/bin/read_all
[ -x "$ra" ] || { echo "no $ra: cmake --build $build --target read_all" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "read-all.sh: needs root (mount, drop_caches)" >&2; exit 1; }
if [ $# -eq 0 ]; then
	root=/var/tmp/eshare-bench/base-lz4hc.erofs
	[ -e "$root" ] || "$here/bench/mkrootfs.sh" >&2
	set -- "$root" "$here"/tests/fixtures/{lzma,deflate,zstd,lz4}.erofs
fi

mnt=$(mktemp -d /tmp/read-all-mnt.XXXXXX)
ext=$(mktemp -d /dev/shm/read-all-ext.XXXXXX)
cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	rmdir "$mnt" 2>/dev/null || true
	rm -rf "$ext"
}
trap cleanup EXIT

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
ms() { awk -v s="$1" 'BEGIN { if (s == "") print "n/a"; else printf "%.2f", s * 1000 }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", b / s / 1e6; else print "n/a" }'; }

# Cold kernel caches, warm image file.
settle() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	cat "$1" >/dev/null
}

echo "# $(date -u '+%F %T') UTC, $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
times="| image | MB read | files | lower ms | lower+pages ms | lib 1T ms | lib 1T new-proc ms | lib 2T ms | kernel loop ms | kernel file ms | fsck ms | lib 1T MB/s |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
ratios="| image | lib/lower | lib/lower CPU | new-proc lib/(lower+pages) | lib/kloop | lib/kfile | lib/fsck | new-proc lib/kloop | new-proc lib/kfile | new-proc lib/fsck | lib 2T/1T |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
status=0
for img in "$@"; do
	name=$(basename "$img" .erofs)
	size=$(stat -c %s "$img")
	k=$samples
	[ "$size" -lt $((16 << 20)) ] && k=$fsamples
	settle "$img"

	# content check first (untimed): library and kernel read the same bytes
	dl=$("$ra" -x "$img" | field digest)
	dk=$("$ra" -m mount -x "$img" | field digest)
	if [ "$dl" != "$dk" ]; then
		echo "read-all: $name: library and kernel contents differ ($dl vs $dk)" >&2
		status=1
	fi

	lower=$("$ra" -m lower -r "$k" "$img")
	lowerp=$("$ra" -m lower -a -r "$k" "$img")
	lib1=$("$ra" -r "$k" "$img")
	lib2=$("$ra" -r "$k" -t 2 "$img")
	bytes=$(echo "$lib1" | field bytes)
	files=$(echo "$lib1" | field files)
	bytes=$((bytes / k))
	files=$((files / k))
	t_lower=$(echo "$lower" | field median_s)
	t_lib1=$(echo "$lib1" | field median_s)
	t_lib2=$(echo "$lib2" | field median_s)
	t_lowerp=$(echo "$lowerp" | field median_s)
	c_lower=$(echo "$lower" | field cpu_median_s)
	c_lib1=$(echo "$lib1" | field cpu_median_s)

	kl=() kf=() fs=() lp=()
	for ((i = 0; i < k; i++)); do
		lp+=("$("$ra" "$img" | field median_s)")
		settle "$img"
		mount -t erofs -o ro "$img" "$mnt"
		kl+=("$("$ra" -m dir "$mnt" | field median_s)")
		umount "$mnt"
		settle "$img"
		kf+=("$("$ra" -m mount "$img" | field median_s)")
		settle "$img"
		t0=$(date +%s%N)
		if fsck.erofs --extract="$ext/x" "$img" >/dev/null 2>&1; then
			t1=$(date +%s%N)
			fs+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')")
		fi
		rm -rf "$ext/x"
	done
	t_lp=$(median "${lp[@]}")
	t_kl=$(median "${kl[@]}")
	t_kf=$(median "${kf[@]}")
	t_fs=""
	[ ${#fs[@]} -eq "$k" ] && t_fs=$(median "${fs[@]}")

	times+=$(printf '\n| %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' \
		"$name" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" "$files" \
		"$(ms "$t_lower")" "$(ms "$t_lowerp")" "$(ms "$t_lib1")" "$(ms "$t_lp")" \
		"$(ms "$t_lib2")" "$(ms "$t_kl")" "$(ms "$t_kf")" "$(ms "$t_fs")" \
		"$(mbps "$bytes" "$t_lib1")")
	ratios+=$(printf '\n| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$name" \
		"$(ratio "$t_lib1" "$t_lower")" "$(ratio "$c_lib1" "$c_lower")" \
		"$(ratio "$t_lp" "$t_lowerp")" "$(ratio "$t_lib1" "$t_kl")" \
		"$(ratio "$t_lib1" "$t_kf")" "$(ratio "$t_lib1" "${t_fs:-0}")" \
		"$(ratio "$t_lp" "$t_kl")" "$(ratio "$t_lp" "$t_kf")" "$(ratio "$t_lp" "${t_fs:-0}")" \
		"$(ratio "$t_lib2" "$t_lib1")")
done
echo "$times"
echo
echo "$ratios"
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "samples: $samples per image over 16 MiB, $fsamples per smaller image (median);" \
	"fsck n/a = Debian's fsck.erofs $(dpkg-query -W -f='${Version}' erofs-utils 2>/dev/null)" \
	"cannot extract that image"
exit $status
