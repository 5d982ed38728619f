#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Round trip through Debian's mkfs.erofs (erofs-utils 1.5): generate random
# trees (tests/roundtrip/gentree.py), build images with every layout that
# mkfs 1.5 can write, and check that what the library reads equals the
# source tree, field by field:
#
#   - `erofs-share extract IMAGE OUT`, then `treecmp.py REF OUT`;
#   - `erofs-share manifest IMAGE` against `treecmp.py --list REF`
#     (the manifest also covers what extraction cannot show, e.g. nlink of
#     the image's own inodes and xattrs the extracting user cannot set).
#
# REF is the source tree, except where an image legitimately differs from it
# (compact inodes keep neither owners above 65535 nor per-file mtimes): then
# REF is the kernel's mount of the image, so the kernel stays the oracle,
# and the kernel's view is itself compared with the source minus exactly
# those fields.  As root, every image is also mounted and compared with its
# source first, so a failure is known to be the library's and not mkfs's.
#
# Without root the reduced tree (no devices, owners, trusted.* xattrs) is
# used and kernel mounts are skipped.
#
# mkfs.erofs 1.5 limits met (the options below avoid them; see the report
# lines): names of 255 bytes fail ("Could not format the device: ENOENT"),
# so trees use 254-byte names at most; --chunksize copies its temporary
# blob file (always made in /tmp) with copy_file_range() and fails with EIO
# when the image is on another filesystem, so images are written under /tmp;
# -Eforce-inode-compact refuses uid/gid > 65535 (hence --all-root) and
# stores no per-file mtime.
#
# Usage: test_roundtrip.sh BUILD_DIR SOURCE_DIR
#   ESHARE_RT_SEEDS="1 2 3"   seeds to run (default below; seed 1 alone
#                             under ASan+UBSan unless ESHARE_TEST_FULL=1)
#   ESHARE_RT_BIG_SEEDS="3"   seeds generated with gentree.py --big
#   ESHARE_RT_KEEP=1          keep the work directory on failure
#   ESHARE_TREECMP=PATH       another treecmp.py (default SOURCE_DIR/tests/tools)
set -u

BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
CLI=$BUILD/bin/erofs-share
GENTREE=$SRC/tests/roundtrip/gentree.py
TREECMP=${ESHARE_TREECMP:-$SRC/tests/tools/treecmp.py}
MKFS=/usr/bin/mkfs.erofs
DEFAULT_SEEDS="1 2 3"
# mkfs.erofs, the kernel mounts and treecmp.py cost the same in every
# build: a sanitizer build checks the library's side on one seed
[ "${ESHARE_TEST_BUILD:-}" = asan ] && [ "${ESHARE_TEST_FULL:-0}" = 0 ] && DEFAULT_SEEDS=1
SEEDS=${ESHARE_RT_SEEDS:-$DEFAULT_SEEDS}
# Seeds whose tree also gets the multi-MiB files and the big sparse file.
BIG_SEEDS=${ESHARE_RT_BIG_SEEDS:-3}

if [ ! -x "$MKFS" ]; then
	echo "SKIP: $MKFS (Debian erofs-utils) is not installed"
	exit 77
fi
for f in "$CLI" "$GENTREE" "$TREECMP"; do
	if [ ! -e "$f" ]; then
		echo "FAIL: $f does not exist"
		exit 1
	fi
done
command -v python3 >/dev/null || { echo "FAIL: python3 is not installed"; exit 1; }

ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
KERNEL=0
if [ $ROOT = 1 ]; then
	grep -qw erofs /proc/filesystems || modprobe erofs 2>/dev/null
	if grep -qw erofs /proc/filesystems && losetup -f >/dev/null 2>&1; then
		KERNEL=1
	fi
fi

# Images must live on the filesystem of /tmp (see the header comment).
WORK=$(mktemp -d /tmp/eshare-roundtrip.XXXXXX)
TREES=$WORK/trees
MNT=$WORK/mnt
mkdir -p "$TREES" "$MNT" "$WORK/img"
MOUNTED_TMPFS=0

cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	if [ $MOUNTED_TMPFS = 1 ]; then
		umount "$TREES"
	fi
	if [ "${ESHARE_RT_KEEP:-0}" = 1 ] && [ "${FAILS:-0}" != 0 ]; then
		echo "work directory kept: $WORK"
	else
		# Trees hold read-only directories (0555): an ordinary user
		# must make them writable again to delete their entries.
		[ $ROOT = 1 ] || chmod -R u+rwX "$WORK" 2>/dev/null
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

GENOPTS=
if [ $ROOT = 1 ]; then
	# tmpfs keeps every xattr namespace, POSIX ACLs, holes and nanosecond
	# times, and caps what a runaway test can use.
	if mount -t tmpfs -o size=512m,mode=0755 eshare-roundtrip "$TREES"; then
		MOUNTED_TMPFS=1
	else
		echo "FAIL: cannot mount a tmpfs on $TREES"
		exit 1
	fi
	echo "running as root: full trees on tmpfs;" \
	     "kernel mounts: $([ $KERNEL = 1 ] && echo yes || echo no)"
else
	GENOPTS=--no-root
	echo "not root: reduced trees (no devices, owners, trusted.* xattrs), no kernel mounts"
fi

FAILS=0
RUNS=0
fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

# The longest name this mkfs takes (1.5 fails on 255 bytes).
mkdir -p "$TREES/probe"
: >"$TREES/probe/$(printf 'n%.0s' $(seq 255))"
if "$MKFS" --quiet "$WORK/img/probe.erofs" "$TREES/probe" >/dev/null 2>&1; then
	MAXNAME=255
else
	MAXNAME=254
	echo "note: this mkfs.erofs fails on a 255-byte name: trees use 254-byte names"
fi
rm -rf "$TREES/probe" "$WORK/img/probe.erofs"

# name|mkfs options|reference|trees
#   reference: empty for the source tree; kernel:TREECMP-OPTIONS for the
#     kernel's mount, the options naming the fields that legitimately differ
#     from the source (also used against the source without a kernel);
#   trees: empty for every tree, "small" to leave out the --big trees (LZ4HC
#     with big pclusters takes mkfs 1.5 minutes on 30 MiB of data; the same
#     pcluster sizes are covered on big trees by the fast LZ4 encoder).
CONFIGS=(
	"plain|"
	"noinline|-Enoinline_data"
	"extended|-Eforce-inode-extended"
	"compact|-Eforce-inode-compact --all-root|kernel:--no-owner --no-mtime"
	"chunk-4k|--chunksize=4096"
	"chunk-64k|--chunksize=65536"
	"lz4|-zlz4"
	"lz4-legacy|-zlz4 -Elegacy-compress"
	"lz4-extended|-zlz4 -Eforce-inode-extended"
	"lz4-64k|-zlz4 -C65536"
	"lz4-1m-tailpack|-zlz4 -C1048576 -Eztailpacking"
	"lz4hc-4k|-zlz4hc -C4096||small"
	"lz4hc-16k|-zlz4hc -C16384||small"
	"lz4hc-64k|-zlz4hc,12 -C65536||small"
	"lz4hc-1m|-zlz4hc -C1048576||small"
	"lz4hc-tailpack|-zlz4hc -Eztailpacking||small"
	"lz4hc-64k-tailpack|-zlz4hc -C65536 -Eztailpacking||small"
	"lz4hc-maxextent|-zlz4hc -C16384 --max-extent-bytes=16384||small"
	"lz4hc-compact|-zlz4hc -Eforce-inode-compact --all-root|kernel:--no-owner --no-mtime|small"
	"lz4-compact|-zlz4 -C65536 -Eforce-inode-compact --all-root|kernel:--no-owner --no-mtime"
)

# Count DIFF lines per field, for a one-line summary.
summarize() {
	awk -F'\t' '/^DIFF/ { n[$3]++ } END { for (f in n) printf "%s:%d ", f, n[f] }' "$1"
}

show_diffs() { # FILE
	grep '^DIFF' "$1" | head -n 15 | sed 's/^/    /'
	local n
	n=$(grep -c '^DIFF' "$1")
	[ "$n" -gt 15 ] && echo "    ... $((n - 15)) more"
}

START=$(date +%s)
for seed in $SEEDS; do
	tree=$TREES/src-$seed
	t0=$(date +%s.%N)
	big=
	grep -qw -- "$seed" <<<"$BIG_SEEDS" && big=--big
	if ! python3 "$GENTREE" $GENOPTS $big --max-name=$MAXNAME "$seed" "$tree" \
		>"$WORK/gen.log" 2>&1; then
		cat "$WORK/gen.log"
		fail "gentree.py seed $seed"
		continue
	fi
	python3 "$TREECMP" --list "$tree" >"$WORK/src.manifest"
	echo "seed $seed${big:+ (big)}: $(($(wc -l <"$WORK/src.manifest") - 2)) paths," \
	     "$(du -s --apparent-size -B1 "$tree" | cut -f1) bytes apparent," \
	     "generated in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)") s"

	for cfg in "${CONFIGS[@]}"; do
		IFS='|' read -r name opts ref trees <<<"$cfg"
		[ -n "$big" ] && [ "$trees" = small ] && continue
		img=$WORK/img/$name-$seed.erofs
		out=$TREES/out
		RUNS=$((RUNS + 1))
		t0=$(date +%s.%N)
		# shellcheck disable=SC2086
		if ! "$MKFS" --quiet $opts "$img" "$tree" >"$WORK/mkfs.log" 2>&1; then
			fail "seed $seed $name: mkfs.erofs $opts failed: $(tr '\n' ' ' <"$WORK/mkfs.log")"
			rm -f "$img"
			continue
		fi
		status="image $(stat -c %s "$img") B"

		# The reference tree.
		refdir=$tree
		refopts=
		kopts=
		if [ -n "$ref" ]; then
			kopts=${ref#kernel:}
		fi
		if [ $KERNEL = 1 ]; then
			if ! mount -t erofs -o ro,loop "$img" "$MNT" 2>"$WORK/mount.log"; then
				fail "seed $seed $name: the kernel does not mount the image: $(cat "$WORK/mount.log")"
				rm -f "$img"
				continue
			fi
			# The kernel against the source: mkfs must have written
			# exactly the tree, up to the documented differences.
			# shellcheck disable=SC2086
			if ! python3 "$TREECMP" $kopts "$tree" "$MNT" >"$WORK/kcmp.log" 2>&1; then
				fail "seed $seed $name: kernel mount differs from the source" \
				     "(mkfs.erofs or gentree problem, not the library's): $(summarize "$WORK/kcmp.log")"
				show_diffs "$WORK/kcmp.log"
			fi
			if [ -n "$ref" ]; then
				refdir=$MNT
				python3 "$TREECMP" --list "$MNT" >"$WORK/ref.manifest"
			fi
		elif [ -n "$ref" ]; then
			# No kernel: compare with the source minus the fields
			# this layout cannot keep.
			refopts=$kopts
			python3 "$TREECMP" --list $refopts "$tree" >"$WORK/ref.manifest"
		fi
		[ -z "$ref" ] && cp "$WORK/src.manifest" "$WORK/ref.manifest"

		# 1. Extraction by the library.
		[ $ROOT = 1 ] || chmod -R u+rwX "$out" 2>/dev/null
		rm -rf "$out"
		if ! timeout 300 "$CLI" extract "$img" "$out" >"$WORK/extract.log" 2>&1; then
			fail "seed $seed $name: erofs-share extract failed (rc $?):" \
			     "$(head -n 5 "$WORK/extract.log" | tr '\n' ' ')"
			ext=FAIL
		else
			# shellcheck disable=SC2086
			if python3 "$TREECMP" $refopts "$refdir" "$out" >"$WORK/cmp.log" 2>&1; then
				ext=ok
			else
				fail "seed $seed $name ($opts): extracted tree differs from the" \
				     "$([ "$refdir" = "$MNT" ] && echo "kernel mount" || echo source):" \
				     "$(summarize "$WORK/cmp.log")"
				show_diffs "$WORK/cmp.log"
				ext=FAIL
			fi
		fi
		[ $ROOT = 1 ] || chmod -R u+rwX "$out" 2>/dev/null
		rm -rf "$out"

		# 2. The library's manifest against the reference's.
		if ! timeout 300 "$CLI" manifest "$img" >"$WORK/lib.manifest" 2>"$WORK/manifest.log"; then
			fail "seed $seed $name: erofs-share manifest failed:" \
			     "$(head -n 5 "$WORK/manifest.log" | tr '\n' ' ')"
			man=FAIL
		else
			if [ -n "$refopts" ]; then
				# The reference manifest has '-' in the columns
				# that --no-owner --no-mtime (the only options
				# used here) leave out: uid, gid, mtime_sec,
				# mtime_nsec.  Blank the same columns in ours.
				awk -F'\t' -v OFS='\t' '!/^#/ { $4 = "-"; $5 = "-"; $7 = "-"; $8 = "-" } 1' \
					"$WORK/lib.manifest" >"$WORK/lib.manifest2"
				mv "$WORK/lib.manifest2" "$WORK/lib.manifest"
			fi
			if diff "$WORK/ref.manifest" "$WORK/lib.manifest" >"$WORK/man.diff"; then
				man=ok
			else
				fail "seed $seed $name ($opts): manifest differs from" \
				     "$([ "$refdir" = "$MNT" ] && echo "the kernel mount's" || echo "the source's")" \
				     "($(grep -c '^[<>]' "$WORK/man.diff") lines; < reference, > library)"
				head -n 12 "$WORK/man.diff" | cut -c1-300 | sed 's/^/    /'
				man=FAIL
			fi
		fi
		mountpoint -q "$MNT" && umount "$MNT"
		printf '  %-20s %-50s %s, extract %s, manifest %s, %.1f s\n' "$name" "$opts" \
			"$status" "$ext" "$man" "$(echo "$(date +%s.%N) - $t0" | bc)"
		rm -f "$img"
	done
	[ $ROOT = 1 ] || chmod -R u+rwX "$tree"
	rm -rf "$tree"
done

echo "test_roundtrip: $RUNS images, $FAILS failures, $(($(date +%s) - START)) s"
[ $FAILS -eq 0 ]
