#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Issue 4: several images in one domain, under each sharing policy.
#
#   bench/domain.sh [-B BUILD_DIR] [-c CACHE_MB] [SET...]
#
# A SET is a comma-separated list of images read together in one domain.
# Default sets: the two Debian rootfs variants that share a base
# (bench/mkrootfs.sh, LZ4HC; Debian's mkfs.erofs 1.5 writes no content
# fingerprints, so only COMPUTE can share them), and the fixtures
# shared-a + shared-b (mkfs.erofs 1.9.3 --xattr-inode-digest: on-disk
# fingerprints, so TRUST and VERIFY have something to use).
#
# For each set and policy:
#  - `erofs-share domain --json --policy P --cache-size C` (the CLI): the
#    domain's counters after reading everything once, next to the CLI's own
#    unique_bytes (tails are cached packed, so that is the limit);
#  - bench/domain_bench.c (same policies, fresh domains): cold read time,
#    hot read time (inodes held open) against memcpy of the same bytes out
#    of one buffer, hashed_bytes against the bytes of files that really
#    share content, and a plain SHA-256 pass over hashed_bytes.
# Targets: cached data within 1% of unique_bytes when
# everything is read; hot reads within 2x of memcpy; VERIFY costing no
# more than one SHA-256 pass over each shared file's bytes.
# Prints Markdown; raw lines go to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build-bench
cache=2048
while getopts "B:c:" o; do
	case $o in
	B) build=$OPTARG ;;
	c) cache=$OPTARG ;;
	*) echo "usage: $0 [-B BUILD_DIR] [-c CACHE_MB] [IMG,IMG...]..." >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
db=$build/bin/domain_bench
cli=$build/bin/erofs-share
for p in "$db" "$cli"; do
	[ -x "$p" ] || { echo "no $p: build $build first" >&2; exit 1; }
done
if [ $# -eq 0 ]; then
	rb=/var/tmp/eshare-bench
	[ -e $rb/py-lz4hc.erofs ] || "$here/bench/mkrootfs.sh" >&2
	set -- "$rb/base-lz4hc.erofs,$rb/py-lz4hc.erofs" \
		"$here/tests/fixtures/shared-a.erofs,$here/tests/fixtures/shared-b.erofs"
fi

json() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" | tr -d '"' | head -n1; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

echo "# $(date -u '+%F %T') UTC, $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for set in "$@"; do
	IFS=, read -r -a imgs <<<"$set"
	names=$(for i in "${imgs[@]}"; do basename "$i" .erofs; done | paste -sd+)
	echo
	echo "## $names"
	echo
	# the CLI, one process per policy
	echo "erofs-share domain --json --cache-size ${cache}M --policy P (one cold pass):"
	echo
	echo "| policy | logical MiB | unique MiB | cached data MiB | cached/unique | cached meta MiB | shared objects | members | hit ratio | backend MiB | decompressed MiB | hashed MiB | verify failures | wall s |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for p in off trust verify compute; do
		j=$("$cli" domain --json --policy "$p" --cache-size "${cache}M" "${imgs[@]}")
		echo "$j" | tr -d '\n' >&2
		echo >&2
		j=$(echo "$j" | tr -d '\n')
		g() { echo "$j" | json "$1"; }
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$p" \
			"$(mib "$(g logical_bytes)")" "$(mib "$(g unique_bytes)")" \
			"$(mib "$(g cached_data_bytes)")" \
			"$(ratio "$(g cached_data_bytes)" "$(g unique_bytes)")" \
			"$(mib "$(g cached_meta_bytes)")" "$(g shared_objects)" "$(g shared_members)" \
			"$(g hit_ratio)" "$(mib "$(g backend_bytes_read)")" \
			"$(mib "$(g decompressed_bytes)")" "$(mib "$(g hashed_bytes)")" \
			"$(g verify_failures)" "$(g wall_s)"
	done
	echo
	out=$("$db" -c "$cache" -r 5 "${imgs[@]}")
	echo "$out" >&2
	t=$(echo "$out" | grep '^TRUTH')
	echo "domain_bench -c $cache (cold: best of 3 fresh domains; hot: best of 5 passes):"
	echo
	echo "ground truth: $(echo "$t" | field files) files, $(mib "$(echo "$t" | field logical_bytes)") MiB logical," \
		"$(echo "$t" | field unique_contents) distinct contents," \
		"unique_bytes $(mib "$(echo "$t" | field unique_bytes)") MiB," \
		"unique_page_bytes $(mib "$(echo "$t" | field unique_page_bytes)") MiB," \
		"files sharing their content with another: $(echo "$t" | field shared_files)" \
		"($(mib "$(echo "$t" | field shared_file_bytes)") MiB)"
	echo
	echo "| policy | cold s | cold CPU s | cold MB/s | cached/unique | hot pread s | memcpy s | hot/memcpy | hot (open+read) / memcpy | hashed MiB | hashed / shared-file bytes | CPU s over off | CPU s over trust | sha256 of hashed s |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	off_cpu=$(echo "$out" | grep '^POLICY off' | field cold_cpu_s)
	trust_cpu=$(echo "$out" | grep '^POLICY trust' | field cold_cpu_s)
	for p in off trust verify compute; do
		l=$(echo "$out" | grep "^POLICY $p ")
		c=$(echo "$l" | field cold_cpu_s)
		xo=$(awk -v a="$c" -v b="$off_cpu" 'BEGIN { printf "%.4f", a - b }')
		xt=$(awk -v a="$c" -v b="$trust_cpu" 'BEGIN { printf "%.4f", a - b }')
		[ "$p" = off ] && xo="-"
		[ "$p" = off ] || [ "$p" = trust ] && xt="-"
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$p" \
			"$(echo "$l" | field cold_s)" "$c" "$(echo "$l" | field cold_MBps)" \
			"$(echo "$l" | field cached_vs_unique)" \
			"$(echo "$l" | field hot_pread_s)" "$(echo "$l" | field memcpy_s)" \
			"$(echo "$l" | field hot_pread_vs_memcpy)" "$(echo "$l" | field hot_open_vs_memcpy)" \
			"$(mib "$(echo "$l" | field hashed_bytes)")" "$(echo "$l" | field hashed_vs_shared)" \
			"$xo" "$xt" "$(echo "$l" | field sha256_s)"
	done
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
