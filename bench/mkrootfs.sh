#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build the benchmarks' real root file systems and their EROFS images.
#
#   bench/mkrootfs.sh [OUTDIR]        (default /var/tmp/eshare-bench; needs root)
#
# OUTDIR/tree-base   Debian bookworm, debootstrap --variant=minbase
# OUTDIR/tree-py     the same plus python3 (--include=python3): a second
#                    image that shares most of its files with the first,
#                    as two container images on one base layer do
# OUTDIR/IMG-{plain,lz4,lz4hc}.erofs for IMG in base, py, made with the
#                    system's mkfs.erofs (Debian's erofs-utils 1.5)
# OUTDIR/SOURCE      how the trees were made (debootstrap, or the fallback)
#
# Everything is cached: a finished step (marked by a file) is not redone,
# so later benchmark runs call this for free.  Images never go into the
# repository.  If no Debian mirror answers, the trees are copies of this
# machine's /usr instead (two overlapping subsets) and SOURCE says so.
set -euo pipefail

out=${1:-/var/tmp/eshare-bench}
suite=bookworm
mkdir -p "$out"
cd "$out"

[ "$(id -u)" = 0 ] || { echo "mkrootfs: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v mkfs.erofs >/dev/null || { echo "mkrootfs: no mkfs.erofs (apt-get install erofs-utils)" >&2; exit 1; }
if ! command -v debootstrap >/dev/null; then
	apt-get install -y -qq debootstrap >/dev/null 2>&1 || true
fi

# The mirror apt already uses, so no host is named here.
mirror() {
	local m
	m=$(grep -rhoE '^(URIs:|deb)[[:space:]]+[a-z]+://[^[:space:]]+/debian/?([[:space:]]|$)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
		2>/dev/null | awk '{ print $2 }' | head -n1)
	echo "${m%/}"
}

# debootstrap one tree; 0 on success.  The .debs go to a shared cache, so
# the second tree downloads only what the first did not.
bootstrap() {
	local dir=$1 include=$2 m
	m=$(mirror)
	[ -n "$m" ] || return 1
	command -v debootstrap >/dev/null || return 1
	rm -rf "$dir"
	mkdir -p "$out/debs"
	debootstrap --variant=minbase --cache-dir="$out/debs" ${include:+--include=$include} \
		"$suite" "$dir" "$m" >"$dir.log" 2>&1 || { tail -n 20 "$dir.log" >&2; return 1; }
	# Logs and caches differ run to run and are not what an image ships.
	rm -rf "$dir"/var/cache/apt/*.bin "$dir"/var/log/* "$dir"/var/cache/debconf/*-old
}

# Fallback: two overlapping slices of this machine's /usr.
copy_usr() {
	local dir=$1 extra=$2
	rm -rf "$dir"
	mkdir -p "$dir/usr"
	cp -a /usr/bin /usr/sbin /usr/share "$dir/usr/" 2>/dev/null || true
	mkdir -p "$dir/usr/lib"
	cp -a /usr/lib/x86_64-linux-gnu "$dir/usr/lib/" 2>/dev/null || true
	[ -n "$extra" ] && cp -a /usr/lib/python3* "$dir/usr/lib/" 2>/dev/null || true
}

if [ ! -e .trees-done ]; then
	if bootstrap tree-base "" && bootstrap tree-py python3; then
		echo "debootstrap --variant=minbase $suite (tree-base) and the same with" \
			"--include=python3 (tree-py), mirror $(mirror)" >SOURCE
	else
		echo "mkrootfs: debootstrap failed; FALLING BACK to copies of /usr" >&2
		copy_usr tree-base ""
		copy_usr tree-py python
		echo "FALLBACK: no Debian mirror; trees are copies of this machine's /usr" \
			"(tree-py adds /usr/lib/python3*)" >SOURCE
	fi
	touch .trees-done
fi

# mkfs.erofs 1.5 has no --version; dpkg knows.
mkfsver=$(dpkg-query -W -f='${Version}' erofs-utils 2>/dev/null || echo unknown)
for t in base py; do
	for c in plain lz4 lz4hc; do
		img=$t-$c.erofs
		[ -e "$img" ] && continue
		opt=()
		[ "$c" != plain ] && opt=(-z"$c")
		# A fixed build time and UUID make the image reproducible.
		mkfs.erofs -T1700000000 -U 6f3c9a52-1b1e-4c55-9a40-0e5d1a2b3c4d "${opt[@]}" \
			"$img.tmp" "tree-$t" >/dev/null
		mv "$img.tmp" "$img"
	done
done
echo "erofs-utils $mkfsver" >MKFS

ls -l "$out"/*.erofs
cat SOURCE
