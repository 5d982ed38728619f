#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build four container-like images on one Debian base for erofs-share-sim.
#
#   bench/mkimages-sim.sh [OUTDIR]      (default /var/tmp/eshare-sim; needs root)
#
# OUTDIR/tree-NAME     debootstrap --variant=minbase bookworm, with:
#                        minbase  nothing more
#                        python3  --include=python3
#                        perl     --include=perl
#                        nginx    --include=nginx-light,curl
#                      as four container images built FROM one base layer are
# OUTDIR/NAME.erofs    made with Debian's mkfs.erofs (erofs-utils 1.5), LZ4HC,
#                      no content fingerprints (1.5 cannot write them), so
#                      sharing needs the `compute` policy
# OUTDIR/SOURCE        how the trees were made
#
# A finished step is not redone.  Images stay out of the repository.
set -euo pipefail

out=${1:-/var/tmp/eshare-sim}
suite=bookworm
names=(minbase python3 perl nginx)
mkdir -p "$out"
cd "$out"

[ "$(id -u)" = 0 ] || { echo "mkimages-sim: needs root (debootstrap)" >&2; exit 1; }
command -v mkfs.erofs >/dev/null || { echo "mkimages-sim: no mkfs.erofs (apt-get install erofs-utils)" >&2; exit 1; }
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
command -v debootstrap >/dev/null || { echo "mkimages-sim: no debootstrap" >&2; exit 1; }

# The mirror apt already uses, so no host is named here.
m=$(grep -rhoE '^(URIs:|deb)[[:space:]]+[a-z]+://[^[:space:]]+/debian/?([[:space:]]|$)' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
	2>/dev/null | awk '{ print $2 }' | head -n1 || true)
m=${m%/}
[ -n "$m" ] || { echo "mkimages-sim: no Debian mirror in apt's sources" >&2; exit 1; }

include_of() {
	case $1 in
	minbase) echo "" ;;
	python3) echo python3 ;;
	perl) echo perl ;;
	nginx) echo nginx-light,curl ;;
	esac
}

mkdir -p debs
for n in "${names[@]}"; do
	[ -e ".tree-$n-done" ] && continue
	inc=$(include_of "$n")
	rm -rf "tree-$n"
	echo "mkimages-sim: debootstrap $n${inc:+ (+$inc)}" >&2
	debootstrap --variant=minbase --cache-dir="$out/debs" ${inc:+--include=$inc} \
		"$suite" "tree-$n" "$m" >"tree-$n.log" 2>&1 || { tail -n 20 "tree-$n.log" >&2; exit 1; }
	# Logs and caches differ run to run and are not what an image ships.
	rm -rf "tree-$n"/var/cache/apt/*.bin "tree-$n"/var/log/* "tree-$n"/var/cache/debconf/*-old
	touch ".tree-$n-done"
done
echo "debootstrap --variant=minbase $suite, mirror $m; minbase, +python3, +perl," \
	"+nginx-light,curl" >SOURCE

for n in "${names[@]}"; do
	[ -e "$n.erofs" ] && continue
	# A fixed build time and UUID make the image reproducible.
	mkfs.erofs -zlz4hc -T1700000000 -U 6f3c9a52-1b1e-4c55-9a40-0e5d1a2b3c4d \
		"$n.erofs.tmp" "tree-$n" >/dev/null
	mv "$n.erofs.tmp" "$n.erofs"
done
echo "erofs-utils $(dpkg-query -W -f='${Version}' erofs-utils 2>/dev/null || echo unknown)" >MKFS
ls -l "$out"/*.erofs
cat SOURCE
