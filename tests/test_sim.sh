#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share-sim: its figures against the library's statistics (through the
# CLI's domain command) and against limits computed here from the fixtures'
# kernel manifests; same seed, same report; pack never above spread; valid
# PNG and SVG charts; bad input named by file and line, a non-zero exit and
# no report left behind.
#
#   tests/test_sim.sh BUILD_DIR SOURCE_DIR
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
sim=$build/bin/erofs-share-sim
cli=$build/bin/erofs-share
fx=$src/tests/fixtures
[ -x "$sim" ] || { echo "no $sim"; exit 1; }
[ -x "$cli" ] || { echo "no $cli"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
command -v gnuplot >/dev/null || { echo "SKIP: no gnuplot (apt-get install gnuplot-nox)"; exit 77; }

t=$(mktemp -d)
[ -n "$t" ] && [ -d "$t" ] || exit 1
trap 'rm -rf "$t"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

A=$fx/shared-a.erofs
B=$fx/shared-b.erofs
C=$fx/lz4.erofs

# 1. Every file of two images, sharing off and compute, one host, unlimited.
"$sim" -q --threads 2 --policy off,compute --json "$t/all.json" --csv "$t/all.csv" \
	--chart "$t/chart" "$A" "$B"
"$cli" domain --policy compute --threads 1 --json "$A" "$B" >"$t/cli-compute.json"
"$cli" domain --policy off --threads 1 --json "$A" "$B" >"$t/cli-off.json"

python3 - "$t" "$A.manifest" "$B.manifest" <<'PY'
import json, sys
t, *manifests = sys.argv[1:]
P = 4096
pages = lambda n: (n + P - 1) // P * P

# By hand, from the kernel's manifests: distinct (sha256, size) of non-empty
# regular files (the limit), and every inode its own pages (hard links of
# one image are one inode).
contents = {}
inode_pages = 0
inode_bytes = 0
logical = 0
for m in manifests:
    seen = set()
    for line in open(m, encoding="utf-8", errors="surrogateescape"):
        if line.startswith("#"):
            continue
        f = line.rstrip("\n").split("\t")
        if f[1] != "reg":
            continue
        size, sha, link = int(f[5]), f[11], f[13]
        logical += size
        key = link if link != "-" else ("path", f[0])
        if key not in seen:
            seen.add(key)
            inode_pages += pages(size)
            inode_bytes += size
        if size:
            contents[(sha, size)] = size
ub = sum(contents.values())
upb = sum(pages(s) for s in contents.values())

r = json.load(open(f"{t}/all.json"))
def fail(msg):
    print("FAIL:", msg, file=sys.stderr); sys.exit(1)
if r["unique_bytes"] != ub or r["unique_page_bytes"] != upb:
    fail(f"limits {r['unique_bytes']}/{r['unique_page_bytes']}, by hand {ub}/{upb}")
if r["kernel_noshare_bytes"] != inode_pages:
    fail(f"kernel_noshare_bytes {r['kernel_noshare_bytes']}, by hand {inode_pages}")
if r["logical_bytes"] != logical:
    fail(f"logical_bytes {r['logical_bytes']}, by hand {logical}")
runs = {x["policy"]: x for x in r["runs"]}
if set(runs) != {"off", "compute"} or len(r["runs"]) != 2:
    fail(f"runs {[(x['policy'], x['host']) for x in r['runs']]}")
for k in ("policy", "budget", "peak_cache_bytes", "final_cache_bytes", "hit_ratio",
          "backend_bytes", "decompressed_bytes", "hashed_bytes", "wall_s", "cpu_s"):
    for x in r["runs"]:
        if k not in x:
            fail(f"run without {k}")
off, on = runs["off"], runs["compute"]
# Measured: without sharing every inode caches its bytes; with it, each
# distinct content once.  Tails are packed, not a page each: the cache holds
# the bytes, give or take tails not yet in a full page (16 shards' open
# pages) and the dead bytes of dropped ones (1%).
def near(got, want):
    return want - 16 * P <= got <= want + want // 100
if not near(off["final_cache_bytes"], inode_bytes):
    fail(f"off caches {off['final_cache_bytes']}, every inode's bytes are {inode_bytes}")
if not near(on["final_cache_bytes"], ub):
    fail(f"compute caches {on['final_cache_bytes']}, distinct contents are {ub}")
for x in (off, on):
    if x["budget"] is not None or x["host"] != 0:
        fail("one host, unlimited budget expected")
    if x["peak_cache_bytes"] < x["final_cache_bytes"]:
        fail("peak below final")
    if x["logical_bytes"] != logical:
        fail(f"{x['policy']} read {x['logical_bytes']}, the files hold {logical}")
if off["hashed_bytes"] != 0 or on["hashed_bytes"] == 0:
    fail("hashed bytes: off must hash nothing, compute something")
# The library's own statistics, through the CLI's domain command.
for pol, x in (("compute", on), ("off", off)):
    c = json.load(open(f"{t}/cli-{pol}.json"))
    # tails are packed in the order files are read: a few pages either way
    if abs(c["cached_data_bytes"] - x["final_cache_bytes"]) > 16 * P + x["final_cache_bytes"] // 100:
        fail(f"{pol}: sim {x['final_cache_bytes']}, erofs-share domain {c['cached_data_bytes']}")
    if c["unique_bytes"] != ub or c["unique_page_bytes"] != upb:
        fail(f"{pol}: erofs-share domain limits differ")
# CSV: a header and one row per run, agreeing with the JSON.
rows = [l.rstrip("\n").split(",") for l in open(f"{t}/all.csv")]
hdr = rows[0]
if len(rows) != 3:
    fail(f"csv has {len(rows)} lines")
for row in rows[1:]:
    d = dict(zip(hdr, row))
    if int(d["final_cache_bytes"]) != runs[d["policy"]]["final_cache_bytes"]:
        fail("csv and json differ")
print(f"ok: limits {ub}/{upb}, off {off['final_cache_bytes']}, compute {on['final_cache_bytes']}")
PY

# 1b. What Linux 7.0 would cache: digest-plain carries fingerprints (files of
# equal content share, all plain), plain-4k (the same tree) none: each of its
# inodes keeps its own pages.
"$sim" -q --policy off --json "$t/kernel.json" "$fx/digest-plain.erofs" "$fx/plain-4k.erofs"
python3 - "$t/kernel.json" "$fx/digest-plain.erofs.manifest" "$fx/plain-4k.erofs.manifest" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
pages = lambda n: (n + 4095) // 4096 * 4096
def regs(m):
    for line in open(m, encoding="utf-8", errors="surrogateescape"):
        f = line.rstrip("\n").split("\t")
        if not line.startswith("#") and f[1] == "reg":
            yield f[0], int(f[5]), f[11], f[13]
fp = {(sha, size): size for _, size, sha, _ in regs(sys.argv[2]) if size}
nfp = sum(1 for _, size, _, _ in regs(sys.argv[2]) if size)
inodes = {}
for path, size, _, link in regs(sys.argv[3]):
    inodes[link if link != "-" else path] = size
want = sum(pages(s) for s in fp.values()) + sum(pages(s) for s in inodes.values())
if r["kernel_share_bytes"] != want:
    sys.exit(f"FAIL: kernel_share_bytes {r['kernel_share_bytes']}, by hand {want}")
got = [i["fingerprinted_files"] for i in r["images"]]
if got != [nfp, 0]:
    sys.exit(f"FAIL: fingerprinted files {got}, by hand [{nfp}, 0]")
PY

# 2. The chart: a PNG and an SVG.
python3 - "$t/chart.png" "$t/chart.svg" <<'PY'
import sys, xml.etree.ElementTree as ET
png, svg = sys.argv[1:]
if open(png, "rb").read(8) != b"\x89PNG\r\n\x1a\n":
    sys.exit("FAIL: not a PNG")
root = ET.parse(svg).getroot()
if not root.tag.endswith("svg"):
    sys.exit("FAIL: not an SVG: " + root.tag)
PY
if command -v xmllint >/dev/null; then xmllint --noout "$t/chart.svg"; fi

# 3. The same seed gives the same report, timing aside; another seed does not.
strip() {
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
for x in r["runs"]:
    for k in ("wall_s", "cpu_s"):
        del x[k]
print(json.dumps(r, sort_keys=True))' "$1"
}
for n in 1 2; do
	"$sim" -q --threads 1 --workload random --volume 2M --replicas 2 --seed 7 \
		--budget 1M,unlimited --json "$t/seed$n.json" "$A" "$B"
done
"$sim" -q --threads 1 --workload random --volume 2M --replicas 2 --seed 8 \
	--budget 1M,unlimited --json "$t/seed3.json" "$A" "$B"
[ "$(strip "$t/seed1.json")" = "$(strip "$t/seed2.json")" ] || fail "same seed, different reports"
[ "$(strip "$t/seed1.json")" != "$(strip "$t/seed3.json")" ] || fail "another seed, same report"
python3 - "$t/seed1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for x in r["runs"]:
    if x["budget"] == 1 << 20 and x["final_cache_bytes"] + x["cached_meta_bytes"] > 1 << 20:
        sys.exit(f"FAIL: {x['policy']} holds more than its 1 MiB budget")
    if x["logical_bytes"] != r["logical_bytes"]:
        sys.exit("FAIL: random reads: logical bytes differ from the plan")
PY

# 4. Placement: pack never uses more memory than spread.
printf '%s\n' "# three images, two replicas each, on three hosts" "image a $A" "image b $B" \
	"image c $C" "container a replicas=2" "container b replicas=2" \
	"container c replicas=2 workload=all" "hosts 3" "policy off,compute" >"$t/fleet.scn"
"$sim" -q --scenario "$t/fleet.scn" --placement spread --json "$t/spread.json"
"$sim" -q --scenario "$t/fleet.scn" --placement pack --json "$t/pack.json"
python3 - "$t/spread.json" "$t/pack.json" <<'PY'
import json, sys
sp, pk = (json.load(open(p)) for p in sys.argv[1:])
def fleet(r, pol):
    xs = [x for x in r["runs"] if x["policy"] == pol and x["host"] == "fleet"]
    hosts = [x for x in r["runs"] if x["policy"] == pol and x["host"] != "fleet"]
    assert len(xs) == 1 and len(hosts) == 3, r["runs"]
    assert xs[0]["final_cache_bytes"] == sum(h["final_cache_bytes"] for h in hosts)
    return xs[0]
# The final cache (what stays); and the peak without sharing.  Under
# compute the peak also holds the pages a file caches on its own before its
# fingerprint is known, which depends on timing, not on placement only.
for pol, keys in (("off", ("peak_cache_bytes", "final_cache_bytes")),
                  ("compute", ("final_cache_bytes",))):
    s, p = fleet(sp, pol), fleet(pk, pol)
    for k in keys:
        if p[k] > s[k]:
            sys.exit(f"FAIL: {pol} {k}: pack {p[k]} > spread {s[k]}")
if not fleet(pk, "off")["final_cache_bytes"] < fleet(sp, "off")["final_cache_bytes"]:
    sys.exit("FAIL: pack saves nothing over spread without sharing")
if pk["unique_page_bytes"] > sp["unique_page_bytes"]:
    sys.exit("FAIL: pack's limit above spread's")
PY

# The example scenario stays valid: 3 policies x 2 budgets x (2 hosts + fleet).
"$sim" -q --scenario "$src/examples/sim/fleet.scn" --json "$t/example.json"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["runs"]))' "$t/example.json")
[ "$n" = 18 ] || fail "examples/sim/fleet.scn: $n runs, expected 18"

# Extra devices go to the image that needs them, quietly.
"$sim" -q --device "$fx/multidev.blob" --json "$t/md.json" "$fx/multidev.erofs" \
	"$fx/chunk-4k.erofs" 2>"$t/err"
[ ! -s "$t/err" ] || fail "extra devices: $(cat "$t/err")"
python3 - "$t/md.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
on = [x for x in r["runs"] if x["policy"] == "compute"][0]
ub, got = r["unique_bytes"], on["final_cache_bytes"]
if not ub - 16 * 4096 <= got <= ub + ub // 100:  # tails packed: about the bytes
    sys.exit(f"FAIL: multidev + chunk-4k: {got}, distinct contents are {ub}")
PY

# 5. startup with a trace reads exactly the listed files (sizes from the manifest).
files=$(awk -F'\t' '$2=="reg" && $6>0 && $1 !~ /[\\ ]/ { print $1; if (++n == 2) exit }' "$A.manifest")
p1=$(echo "$files" | sed -n 1p)
p2=$(echo "$files" | sed -n 2p)
[ -n "$p1" ] && [ -n "$p2" ] || fail "no two plain paths in $A.manifest"
printf '# two files\n%s\n\n  %s  \n' "$p1" "$p2" >"$t/trace"
want=$(awk -F'\t' -v a="$p1" -v b="$p2" '($1==a || $1==b) && $2=="reg" { s += $6 } END { print s }' "$A.manifest")
"$sim" -q --workload startup --trace "$t/trace" --policy off --json "$t/trace.json" "$A"
got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["logical_bytes"])' "$t/trace.json")
[ "$got" = "$want" ] || fail "startup trace read $got bytes, the listed files hold $want"

# 6. Bad input: file:line in the message, non-zero exit, no report left.
expect_fail() {	# CODE PATTERN ARGS...
	local code=$1 pat=$2 rc=0
	shift 2
	rm -f "$t"/out.json* "$t"/err
	"$sim" -q --json "$t/out.json" "$@" 2>"$t/err" >/dev/null || rc=$?
	[ "$rc" = "$code" ] || fail "exit $rc, expected $code: $* ($(cat "$t/err"))"
	grep -qF -- "$pat" "$t/err" || fail "no '$pat' in: $(cat "$t/err")"
	if ls "$t"/out.json* >/dev/null 2>&1; then fail "a report was left: $*"; fi
}
printf 'image a %s\ncontainer a replicas=two\n' "$A" >"$t/bad1.scn"
expect_fail 2 "bad1.scn:2: replicas 'two'" --scenario "$t/bad1.scn"
printf 'image a %s\n\n# fine so far\nfrobnicate 3\n' "$A" >"$t/bad2.scn"
expect_fail 2 "bad2.scn:4: unknown statement" --scenario "$t/bad2.scn"
printf 'image a %s\ncontainer b\n' "$A" >"$t/bad3.scn"
expect_fail 2 "bad3.scn:2: no image named b" --scenario "$t/bad3.scn"
printf 'image a %s\nbudget 0\ncontainer a\n' "$A" >"$t/bad4.scn"
expect_fail 2 "bad4.scn:2: budget '0'" --scenario "$t/bad4.scn"
printf 'not an image\n' >"$t/junk.erofs"
printf 'image a %s\nimage j junk.erofs\ncontainer a\ncontainer j\n' "$A" >"$t/bad5.scn"
expect_fail 1 "bad5.scn:2: image j: $t/junk.erofs" --scenario "$t/bad5.scn"
expect_fail 1 "$t/junk.erofs: cannot open the image" "$A" "$t/junk.erofs"
expect_fail 1 "multidev.erofs: cannot open the image" "$fx/multidev.erofs"
expect_fail 2 "budget '0'" --budget 0 "$A"
expect_fail 2 "threads '0'" --threads 0 "$A"
expect_fail 2 "policy 'off,bogus'" --policy off,bogus "$A"
printf '%s\n/no/such/file\n' "$p1" >"$t/badtrace"
expect_fail 2 "badtrace:2: /no/such/file: no such regular file" --workload startup \
	--trace "$t/badtrace" "$A"
# An output that cannot be renamed into place fails the work and leaves nothing.
mkdir "$t/isdir.json"
rc=0
"$sim" -q --json "$t/isdir.json" "$A" 2>"$t/err" || rc=$?
[ "$rc" = 1 ] || fail "writing over a directory: exit $rc"
if ls "$t"/isdir.json.tmp* >/dev/null 2>&1; then fail "a temporary report was left"; fi
# A progress bar on a terminal only.
"$sim" "$A" >"$t/stdout" 2>"$t/stderr"
if grep -q $'\r' "$t/stderr" "$t/stdout"; then fail "progress drawn off a terminal"; fi
grep -q "^sharing saved .* of .* (.*%)" "$t/stdout" || fail "no summary line: $(cat "$t/stdout")"
if command -v script >/dev/null; then
	script -qec "$(printf '%q ' "$sim" "$A" "$B")" /dev/null >"$t/tty" </dev/null
	grep -q '\] 100%' "$t/tty" || fail "no progress bar on a terminal"
fi
"$sim" --help >"$t/help"
for o in --workload --scenario --replicas --threads --hosts "--placement spread|pack" --budget \
	--policy --seed --json --csv --chart "Exit status"; do
	grep -qF -- "$o" "$t/help" || fail "--help does not document $o"
done
echo "test_sim: ok"
