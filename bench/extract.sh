#!/bin/bash
# SPDX-License-Identifier: MIT
#
# What extracting a whole image costs, three ways in one run:
#   erofs-share  `erofs-share extract IMAGE DIR`, DIR on a tmpfs;
#   fsck         `fsck.erofs --extract=DIR IMAGE` of Debian's erofs-utils
#                (1.5 reads LZ4 and LZ4HC only), DIR on the same tmpfs;
#   floor        the codec alone: `read_all -m lower` decodes every extent of
#                every file straight from memory with the format layer (no
#                cache, no file system, no writes).
#
#   bench/extract.sh [-B BUILD_DIR] [-k SAMPLES] [--json] [IMAGE]
#
# The three alternate within each repetition (the order turns by one each
# time) and every figure is the median of SAMPLES (default 5) for its
# reader, each column on its own.  Wall, user and system time, peak RSS and
# minor page faults come from wait4(2) for the process (bench/runstat.c: it
# times in microseconds where /usr/bin/time prints hundredths); faults are
# per MiB of file content (the bytes read_all decodes).  For the floor,
# wall and user time are read_all's own timing of the decoding alone (its
# "user" is the CPU time, user + system, of that phase); its system time,
# peak RSS and faults are the whole process's, which first loads the whole
# image into memory: shown, but no floor.  The image is kept in the page
# cache (read once before every run), so no reader waits for the disk; each
# output tree is removed between runs, outside the timing.  Before timing,
# one extraction by each tool is compared (diff -r) to check that both write
# the same tree.
#
# Targets (shown as met or not): erofs-share faster than fsck in wall time;
# its user time within 1.5x the floor's; its peak RSS under 32 MiB.
# Timings on a machine others are loading move from run to run: the load
# average is printed before and after.
#
# Default IMAGE: the Debian minbase LZ4HC image bench/mkrootfs.sh builds
# (run if it is missing).  BUILD_DIR (default build-bench) must hold
# bin/erofs-share, bin/read_all and bin/runstat (cmake --build BUILD_DIR
# --target erofs-share read_all runstat).  Needs fsck.erofs (apt-get install
# erofs-utils).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build-bench
samples=5
json=0
usage() {
	echo "usage: $0 [-B BUILD_DIR] [-k SAMPLES] [--json] [IMAGE]" >&2
	exit 2
}
args=()
while [ $# -gt 0 ]; do
	case $1 in
	-B) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	-k) [ $# -ge 2 ] || usage; samples=$2; shift 2 ;;
	--json) json=1; shift ;;
	-h|--help) usage ;;
	-*) usage ;;
	*) args+=("$1"); shift ;;
	esac
done
[ ${#args[@]} -le 1 ] || usage
case $samples in ''|*[!0-9]*|0) usage ;; esac

cli=$build/bin/erofs-share
ra=$build/bin/read_all
rs=$build/bin/runstat
for p in "$cli" "$ra" "$rs"; do
	[ -x "$p" ] || { echo "no $p: cmake --build $build --target erofs-share read_all runstat" >&2; exit 1; }
done
fsck=$(command -v fsck.erofs) ||
	{ echo "no fsck.erofs: apt-get install erofs-utils" >&2; exit 1; }
img=${args[0]:-/var/tmp/eshare-bench/base-lz4hc.erofs}
if [ ! -e "$img" ] && [ ${#args[@]} -eq 0 ]; then
	"$here/bench/mkrootfs.sh" >&2
fi
[ -r "$img" ] || { echo "cannot read $img" >&2; exit 1; }

work=$(mktemp -d /dev/shm/eshare-extract.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=$work/out

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# run TOOL: one timed run; appends "wall user sys rss_kib minflt" to $work/TOOL.
run() {
	local tool=$1 t=$work/time res
	cat "$img" >/dev/null
	case $tool in
	share)
		"$rs" -o "$t" "$cli" extract "$img" "$out" \
			>/dev/null 2>"$work/err" ||
			{ echo "erofs-share extract failed:" >&2; cat "$work/err" >&2; exit 1; }
		cat "$t" >>"$work/share"
		;;
	fsck)
		"$rs" -o "$t" "$fsck" --extract="$out" "$img" \
			>/dev/null 2>"$work/err" ||
			{ echo "fsck.erofs --extract failed:" >&2; cat "$work/err" >&2; exit 1; }
		cat "$t" >>"$work/fsck"
		;;
	floor)
		res=$("$rs" -o "$t" "$ra" -m lower "$img") ||
			{ echo "read_all -m lower failed" >&2; exit 1; }
		# the decoding's own wall and CPU time, then the process's sys, RSS, faults
		read -r _ _ sys rss flt _ <"$t"
		echo "$res" | grep "^RESULT" | awk -v s="$sys" -v r="$rss" -v f="$flt" '{
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			print v["median_s"], v["cpu_median_s"], s, r, f, v["bytes"] }' >>"$work/floor"
		;;
	esac
	rm -rf "$out"
}

load0=$(load)
# Both tools write the same tree (contents, links, names): checked once.
"$cli" extract "$img" "$work/a" >/dev/null 2>"$work/err" ||
	{ echo "erofs-share extract failed:" >&2; cat "$work/err" >&2; exit 1; }
"$fsck" --extract="$work/b" "$img" >/dev/null 2>&1 ||
	{ echo "fsck.erofs --extract failed" >&2; exit 1; }
# (diff names every device node, fifo and socket, however alike)
diff -r --no-dereference -q "$work/a" "$work/b" 2>&1 |
	grep -vE ' is a (character special file|block special file|fifo|socket) while file .* is a \1$' \
	>"$work/diff" || true
if [ -s "$work/diff" ]; then
	echo "erofs-share and fsck.erofs extract different trees:" >&2
	head -n 5 "$work/diff" >&2
	exit 1
fi
entries=$(find "$work/a" | wc -l)
rm -rf "$work/a" "$work/b"

tools=(share fsck floor)
for ((i = 0; i < samples; i++)); do
	for ((j = 0; j < 3; j++))
		do run "${tools[(i + j) % 3]}"
	done
done
load1=$(load)

bytes=$(awk 'NR == 1 { print $6 }' "$work/floor")
mib=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
# col TOOL N: the median of column N of TOOL's runs
col() { median $(awk -v c="$2" '{ print $c }' "$work/$1"); }
declare -A wall user sys rss flt
for t in "${tools[@]}"; do
	wall[$t]=$(col "$t" 1)
	user[$t]=$(col "$t" 2)
	sys[$t]=$(col "$t" 3)
	rss[$t]=$(col "$t" 4)
	flt[$t]=$(median $(awk -v b="$bytes" '{ printf "%.1f\n", $5 / (b / 1048576) }' "$work/$t"))
done
r_wall=$(ratio "${wall[share]}" "${wall[fsck]}")
r_user=$(ratio "${user[share]}" "${user[floor]}")
rss_mib=$(awk -v k="${rss[share]}" 'BEGIN { printf "%.1f", k / 1024 }')
met() { awk -v c="$1" 'BEGIN { print (c ? "met" : "not met") }'; }
t_wall=$(met "$(awk -v r="$r_wall" 'BEGIN { print (r != "n/a" && r < 1) }')")
t_user=$(met "$(awk -v r="$r_user" 'BEGIN { print (r != "n/a" && r <= 1.5) }')")
t_rss=$(met "$(awk -v k="${rss[share]}" 'BEGIN { print (k < 32 * 1024) }')")
version=$("$cli" --version)
fsckv=$("$fsck" -V 2>&1 | head -n 1)

if [ $json = 1 ]; then
	row() {
		printf '"%s": {"wall_s": %s, "user_s": %s, "sys_s": %s, "peak_rss_kib": %s, ' \
			"$1" "${wall[$1]}" "${user[$1]}" "${sys[$1]}" "${rss[$1]}"
		printf '"minflt_per_mib": %s}' "${flt[$1]}"
	}
	jbool() { [ "$1" = met ] && echo true || echo false; }
	printf '{"image": "%s", "samples": %s, "content_bytes": %s, "entries": %s,\n' \
		"$img" "$samples" "$bytes" "$entries"
	printf ' "erofs_share": "%s", "fsck": "%s", "load_before": "%s", "load_after": "%s",\n' \
		"$version" "$fsckv" "$load0" "$load1"
	printf ' "readers": {'; row share; printf ', '; row fsck; printf ', '; row floor; printf '},\n'
	printf ' "wall_share_over_fsck": %s, "user_share_over_floor": %s,\n' \
		"$(echo "$r_wall" | sed 's/n\/a/null/')" "$(echo "$r_user" | sed 's/n\/a/null/')"
	printf ' "targets": {"faster_than_fsck": %s, "user_within_1_5x_floor": %s, ' \
		"$(jbool "$t_wall")" "$(jbool "$t_user")"
	printf '"peak_rss_under_32_mib": %s}}\n' "$(jbool "$t_rss")"
	exit 0
fi

echo "Extracting $(basename "$img") ($entries entries, $mib MiB of file content) to a tmpfs;"
echo "median of $samples alternating runs; $version, $fsckv."
echo "Load average before: $load0; after: $load1."
echo
echo "| reader | wall s | user s | sys s | peak RSS MiB | minor faults / MiB | wall / fsck | user / floor |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for t in "${tools[@]}"; do
	case $t in
	share) name='`erofs-share extract`' ;;
	fsck) name='`fsck.erofs --extract`' ;;
	floor) name='floor: `read_all -m lower` (*)' ;;
	esac
	awk -v n="$name" -v w="${wall[$t]}" -v u="${user[$t]}" -v s="${sys[$t]}" \
		-v r="${rss[$t]}" -v f="${flt[$t]}" -v rw="$(ratio "${wall[$t]}" "${wall[fsck]}")" \
		-v ru="$(ratio "${user[$t]}" "${user[floor]}")" 'BEGIN {
		printf "| %s | %.3f | %.3f | %.3f | %.1f | %.1f | %s | %s |\n",
			n, w, u, s, r / 1024, f, rw, ru }'
done
echo
echo "(*) wall and user: read_all's timing of the decoding alone (user = its CPU time);"
echo "sys, RSS and faults: the whole process, which loads the whole image into memory first."
echo
echo "Targets for erofs-share: wall below fsck's: $r_wall ($t_wall); user within 1.5x the"
echo "floor's: $r_user ($t_user); peak RSS under 32 MiB: $rss_mib MiB ($t_rss)."
