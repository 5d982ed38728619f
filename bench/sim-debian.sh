#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share-sim on four Debian images of one base (bench/mkimages-sim.sh):
# page cache with sharing off and compute, as a Markdown table.
#
#   bench/sim-debian.sh [-B BUILD_DIR] [-t THREADS] [IMAGE_DIR]
#
# Rows: each pair of minbase with one of the others (as the kernel's authors
# compared two adjacent versions of an image), all four in one domain
# (workloads all and startup), the four at budgets of 128 and 256 MiB, and
# two replicas of each on two hosts, spread and packed.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
threads=2
while getopts "B:t:" o; do
	case $o in
	B) build=$OPTARG ;;
	t) threads=$OPTARG ;;
	*) echo "usage: $0 [-B BUILD_DIR] [-t THREADS] [IMAGE_DIR]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
dir=${1:-/var/tmp/eshare-sim}
sim=$build/bin/erofs-share-sim
[ -x "$sim" ] || { echo "no $sim: cmake --build $build --target erofs-share-sim" >&2; exit 1; }
[ -e "$dir/nginx.erofs" ] || "$here/bench/mkimages-sim.sh" "$dir" >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run() {	# NAME ARGS...
	local name=$1
	shift
	"$sim" -q --threads "$threads" --json "$out/$name.json" "$@"
}
i="$dir/minbase.erofs $dir/python3.erofs $dir/perl.erofs $dir/nginx.erofs"
for p in python3 perl nginx; do
	run "pair-$p" "$dir/minbase.erofs" "$dir/$p.erofs"
done
run four-all $i
run four-startup --workload startup $i
run four-budget --budget 128M,256M $i
sed "s#/var/tmp/eshare-sim#$dir#" "$here/bench/sim-debian.scn" >"$out/fleet.scn"
run fleet-spread --scenario "$out/fleet.scn" --placement spread
run fleet-pack --scenario "$out/fleet.scn" --placement pack

echo "# $(date -u '+%F %T') UTC, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $threads threads"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
M = 1 << 20
rows = [
    ("pair-python3", "minbase + python3, all files"),
    ("pair-perl", "minbase + perl, all files"),
    ("pair-nginx", "minbase + nginx-light,curl, all files"),
    ("four-all", "all four, all files"),
    ("four-startup", "all four, startup files"),
    ("four-budget", "all four, all files"),
    ("fleet-spread", "4 images x 2 replicas, 2 hosts, spread"),
    ("fleet-pack", "4 images x 2 replicas, 2 hosts, pack"),
]
print("| set | budget | off peak / final MiB | compute peak / final MiB | saved (peak) | saved (final) "
      "| unique pages MiB | Linux 7.0 MiB | hit% off / compute | backend MiB off / compute "
      "| hashed MiB | wall s off / compute | cpu s off / compute |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, label in rows:
    r = json.load(open(f"{out}/{name}.json"))
    host = "fleet" if r["hosts"] > 1 else 0
    budgets = sorted({x["budget"] or 0 for x in r["runs"]})
    for b in budgets:
        get = lambda pol: next(x for x in r["runs"] if x["policy"] == pol and
                               (x["budget"] or 0) == b and x["host"] == host)
        off, on = get("off"), get("compute")
        sp = 100 * (1 - on["peak_cache_bytes"] / off["peak_cache_bytes"])
        sf = 100 * (1 - on["final_cache_bytes"] / off["final_cache_bytes"])
        print(f"| {label} | {'unlimited' if not b else str(b // M) + ' MiB'} "
              f"| {off['peak_cache_bytes']/M:.1f} / {off['final_cache_bytes']/M:.1f} "
              f"| {on['peak_cache_bytes']/M:.1f} / {on['final_cache_bytes']/M:.1f} "
              f"| {sp:.1f}% | {sf:.1f}% | {r['unique_page_bytes']/M:.1f} "
              f"| {r['kernel_share_bytes']/M:.1f} "
              f"| {100*off['hit_ratio']:.1f} / {100*on['hit_ratio']:.1f} "
              f"| {off['backend_bytes']/M:.1f} / {on['backend_bytes']/M:.1f} "
              f"| {on['hashed_bytes']/M:.1f} "
              f"| {off['wall_s']:.2f} / {on['wall_s']:.2f} | {off['cpu_s']:.2f} / {on['cpu_s']:.2f} |")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
