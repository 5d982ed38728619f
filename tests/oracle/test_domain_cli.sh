#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `erofs-share domain` and `erofs-share fingerprint` against the fixtures'
# manifests (the kernel's view of each image).
#
# domain reads every regular file of several images in one domain and
# prints the domain's counters; with an ample budget a sharing policy must
# cache exactly one page-rounded copy of each distinct content, which is
# computed here from the manifests (distinct (sha256, size) of non-empty
# regular files, each rounded up to 4096), independently of the tool.
# fingerprint must print the manifests' sha256 for each file.  Needs no root.
#
# usage: test_domain_cli.sh BUILD_DIR SOURCE_DIR
set -u

build=${1:?build dir}
src=${2:?source dir}
bin=$build/bin/erofs-share
fix=$src/tests/fixtures

if [ ! -x "$bin" ]; then
	echo "FAIL: $bin was not built"
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# check_json FILE PYTHON-EXPRESSIONS...: each expression, with d the parsed
# object and want the figure from the manifests, must be true.
check_json() {
	local json=$1
	shift
	python3 - "$json" "$@" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
need = ["logical_bytes", "cached_data_bytes", "cached_meta_bytes", "unique_bytes",
        "unique_page_bytes", "shared_objects", "hits", "misses", "evictions",
        "backend_bytes_read", "decompressed_bytes", "hashed_bytes", "verify_failures",
        "wall_s", "images", "files", "policy", "cache_bytes", "shared_members", "fills",
        "hit_ratio"]
missing = [k for k in need if k not in d]
if missing:
    sys.exit("missing keys: %s" % missing)
env = {"d": d}
for line in open(sys.argv[1] + ".want"):
    k, v = line.split()
    env[k] = int(v)
for expr in sys.argv[2:]:
    if not eval(expr, env):
        sys.exit("not true: %s  (%s)" % (expr, {k: d.get(k) for k in sorted(d)}))
EOF
}

# want_figures OUT MANIFEST...: unique_page_bytes, unique_bytes and the
# number of distinct non-empty contents of the manifests' regular files.
want_figures() {
	local out=$1
	shift
	python3 - "$@" >"$out" <<'EOF'
import sys
seen = set()
for m in sys.argv[1:]:
    for line in open(m, encoding="utf-8", errors="surrogateescape"):
        if line.startswith("#"):
            continue
        c = line.rstrip("\n").split("\t")
        if c[1] == "reg" and int(c[5]) > 0:
            seen.add((c[11], int(c[5])))
print("want_pages", sum((s + 4095) // 4096 * 4096 for _, s in seen))
print("want_bytes", sum(s for _, s in seen))
print("want_n", len(seen))
EOF
}

# run_domain NAME ARGS...: domain --json into $tmp/NAME.json (and .want).
run_domain() {
	local name=$1
	shift
	if ! "$bin" domain --json "$@" >"$tmp/$name.json" 2>"$tmp/$name.err"; then
		bad "$name: domain exited non-zero: $(head -c 400 "$tmp/$name.err")"
		return 1
	fi
	if [ -s "$tmp/$name.err" ]; then
		bad "$name: domain wrote to stderr: $(head -c 400 "$tmp/$name.err")"
		return 1
	fi
	cp "$tmp/want" "$tmp/$name.json.want"
}

a=$fix/shared-a.erofs
b=$fix/shared-b.erofs
want_figures "$tmp/want" "$a.manifest" "$b.manifest"
if ! grep -q '^want_pages [1-9]' "$tmp/want"; then
	bad "could not compute the figures from the manifests"
fi

# Each policy on the pair, whose trees have 102 contents in common.
for pol in off trust verify compute; do
	run_domain "$pol" --policy "$pol" "$a" "$b" || continue
	common=("d['policy'] == '$pol'" "d['images'] == 2" "d['errors'] == 0"
		"d['unique_page_bytes'] == want_pages" "d['unique_bytes'] == want_bytes"
		"d['unique_files'] == want_n" "d['verify_failures'] == 0"
		"d['evictions'] == 0" "d['cache_bytes'] == 256 << 20"
		"d['logical_bytes'] >= d['unique_bytes']"
		"d['hits'] + d['misses'] > 0" "0 <= d['hit_ratio'] <= 1")
	case $pol in
	off)
		# Nothing shared: the 102 common contents are cached twice.
		extra=("d['cached_data_bytes'] > d['unique_bytes']"
		       "d['shared_objects'] == 0" "d['hashed_bytes'] == 0") ;;
	trust)
		# On-disk fingerprints are believed: nothing is hashed.
		extra=("d['unique_bytes'] - 65536 <= d['cached_data_bytes'] <= d['unique_bytes'] * 101 // 100"
		       "d['shared_objects'] > 0" "d['hashed_bytes'] == 0") ;;
	*)
		extra=("d['unique_bytes'] - 65536 <= d['cached_data_bytes'] <= d['unique_bytes'] * 101 // 100"
		       "d['shared_objects'] > 0" "d['hashed_bytes'] > 0") ;;
	esac
	# Shared: whole pages plus packed tails hold each distinct content's bytes once.
	[ "$pol" = off ] || extra+=("d['cached_tails'] > 0"
		"(d['cached_data_pages'] - d['cached_tail_pages']) * 4096 + d['cached_tail_bytes'] == want_bytes")
	if msg=$(check_json "$tmp/$pol.json" "${common[@]}" "${extra[@]}" 2>&1); then
		ok
	else
		bad "shared-a + shared-b, policy $pol: $msg"
	fi
done

# The same figures with 4 reader threads.
for pol in trust compute; do
	run_domain "t4-$pol" --threads 4 --policy "$pol" "$a" "$b" || continue
	: >"$tmp/cmp.err"
	if msg=$(check_json "$tmp/t4-$pol.json" "d['threads'] == 4" "d['errors'] == 0" \
		 "d['unique_page_bytes'] == want_pages" \
		 "d['unique_bytes'] - 65536 <= d['cached_data_bytes'] <= d['unique_bytes'] * 101 // 100" \
		 "d['unique_bytes'] == want_bytes" "d['verify_failures'] == 0" 2>&1) &&
	   python3 -c '
import json, sys
x, y = (json.load(open(f)) for f in sys.argv[1:])
for k in ("files", "logical_bytes", "unique_bytes", "unique_page_bytes",
          "shared_objects", "shared_members"):
    assert x[k] == y[k], (k, x[k], y[k])
' "$tmp/$pol.json" "$tmp/t4-$pol.json" 2>"$tmp/cmp.err"; then
		ok
	else
		bad "--threads 4, policy $pol: $msg $(cat "$tmp/cmp.err")"
	fi
done

# A budget far below the data: reads still succeed, the cache evicts.
if run_domain small --cache-size 64K --policy verify "$a" "$b"; then
	if msg=$(check_json "$tmp/small.json" "d['cache_bytes'] == 65536" "d['errors'] == 0" \
		 "d['evictions'] > 0" "d['unique_page_bytes'] == want_pages" \
		 "d['cached_data_bytes'] + d['cached_meta_bytes'] <= 65536" 2>&1); then
		ok
	else
		bad "--cache-size 64K: $msg"
	fi
fi

# Three images of one tree in three layouts (lz4, zstd, uncompressed): under
# compute every content is shared across them whatever its encoding.
imgs=("$fix/lz4.erofs" "$fix/zstd.erofs" "$fix/plain-4k.erofs")
want_figures "$tmp/want" "${imgs[@]/%/.manifest}"
if run_domain three --policy compute "${imgs[@]}"; then
	if msg=$(check_json "$tmp/three.json" "d['images'] == 3" "d['errors'] == 0" \
		 "d['unique_page_bytes'] == want_pages" \
		 "d['unique_bytes'] - 65536 <= d['cached_data_bytes'] <= d['unique_bytes'] * 101 // 100" \
		 "d['verify_failures'] == 0" 2>&1); then
		ok
	else
		bad "lz4 + zstd + plain-4k under compute: $msg"
	fi
fi

# --device goes to the image that needs it only.
want_figures "$tmp/want" "$fix/multidev.erofs.manifest" "$fix/plain-4k.erofs.manifest"
if run_domain multi --policy compute --device "$fix/multidev.blob" "$fix/multidev.erofs" \
	      "$fix/plain-4k.erofs"; then
	if msg=$(check_json "$tmp/multi.json" "d['images'] == 2" "d['errors'] == 0" \
		 "d['unique_page_bytes'] == want_pages" \
		 "d['unique_bytes'] - 65536 <= d['cached_data_bytes'] <= d['unique_bytes'] * 101 // 100" 2>&1); then
		ok
	else
		bad "multidev + plain-4k: $msg"
	fi
fi

# The table form has the figures with units.
if "$bin" domain --policy trust "$a" "$b" >"$tmp/table" 2>"$tmp/err" &&
   grep -q '^cached data  *[0-9.]* MiB' "$tmp/table" &&
   grep -q '^unique page bytes  *[0-9.]* MiB' "$tmp/table" &&
   grep -q '^hashed  *0 B$' "$tmp/table"; then
	ok
else
	bad "domain table: $(cat "$tmp/table" "$tmp/err")"
fi

# Errors: a non-zero exit and a message that says what is wrong.
expect_fail() {
	local what=$1 pattern=$2
	shift 2
	if "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; then
		bad "$what: succeeded"
	elif ! grep -q -- "$pattern" "$tmp/err"; then
		bad "$what: message '$(head -c 400 "$tmp/err")' lacks '$pattern'"
	else
		ok
	fi
}
expect_fail "bad policy" "unknown policy 'sometimes'" domain --policy sometimes "$a"
expect_fail "missing image" "no-such.erofs" domain "$a" "$tmp/no-such.erofs"
expect_fail "bad cache size" "bad --cache-size '12Q'" domain --cache-size 12Q "$a"
expect_fail "zero threads" "bad --threads '0'" domain --threads 0 "$a"
expect_fail "multidev without --device" "multidev.erofs: cannot open the image" \
	domain "$a" "$fix/multidev.erofs"
expect_fail "--policy on another command" "unknown option '--policy'" \
	ls --policy off "$a"

# A truncated image: some inodes and data lie past its end.  The files that
# cannot be read are counted and named, the rest are read, and the
# statistics are still printed; the exit status is 1.
sz=$(stat -c %s "$fix/plain-4k.erofs")
head -c $((sz * 70 / 100)) "$fix/plain-4k.erofs" >"$tmp/trunc.erofs"
"$bin" domain --json "$tmp/trunc.erofs" >"$tmp/trunc.json" 2>"$tmp/err"
rc=$?
if [ "$rc" -ne 1 ]; then
	bad "truncated image: exit status $rc"
elif ! grep -q 'trunc.erofs: /[^:]*: read: ' "$tmp/err" ||
     ! grep -q 'domain: [0-9]* errors' "$tmp/err"; then
	bad "truncated image: messages '$(head -c 600 "$tmp/err")'"
elif ! python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["errors"] > 1 and d["files"] > 1000 and d["logical_bytes"] > 0, d' "$tmp/trunc.json"; then
	bad "truncated image: statistics"
else
	ok
fi

# A directory under two parents: /files/empty-0 made a second entry for /big.
# Each directory is walked once: every regular file of the manifest but
# empty-0 is read once, the second link is named, and the exit status is 1.
img=$fix/plain-4k.erofs
if python3 - "$src/tests/oracle" "$img" "$tmp/dirlink.erofs" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from erofs_craft import Image, FT_DIR
im = Image(sys.argv[2])
e = im.dirent("/files", "empty-0")
im.set_dirent(e[0], nid=im.lookup("/big").nid, ftype=FT_DIR)
im.save(sys.argv[3])
EOF
then
	nreg=$(awk -F '\t' '$2 == "reg"' "$img.manifest" | wc -l)
	"$bin" domain --json "$tmp/dirlink.erofs" >"$tmp/dirlink.json" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 1 ]; then
		bad "directory link: exit status $rc"
	elif ! grep -q 'dirlink.erofs: /files/empty-0: directory already seen' "$tmp/err"; then
		bad "directory link: messages '$(head -c 600 "$tmp/err")'"
	elif ! python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["files"] == int(sys.argv[2]) - 1, (d["files"], sys.argv[2])' \
		"$tmp/dirlink.json" "$nreg"; then
		bad "directory link: files read"
	else
		ok
	fi
	"$bin" fingerprint "$tmp/dirlink.erofs" >"$tmp/fp" 2>/dev/null
	n=$(wc -l <"$tmp/fp")
	[ "$n" = $((nreg - 1)) ] && ok || bad "directory link: fingerprint of $n files, want $((nreg - 1))"
else
	bad "could not craft the directory-link image"
fi

# fingerprint: the manifest's sha256 column, for files of several kinds.
img=$fix/digest-plain.erofs
files=(/big/text-0.bin /bound/rand-4097 /dup/copies/text-copy-2 /hard/big-2 /sparse/hole-middle
       /files/empty-0)
if "$bin" fingerprint "$img" "${files[@]}" >"$tmp/fp" 2>"$tmp/err"; then
	for p in "${files[@]}"; do
		want=$(awk -F '\t' -v p="$p" '$1 == p && $2 == "reg" { print "sha256:" $12 "\t" $6 }' \
		       "$img.manifest")
		got=$(awk -F '\t' -v p="$p" '$1 == p { print $2 "\t" $3 }' "$tmp/fp")
		if [ -n "$want" ] && [ "$got" = "$want" ]; then
			ok
		else
			bad "fingerprint $p: '$got', manifest '$want'"
		fi
	done
else
	bad "fingerprint exited non-zero: $(head -c 400 "$tmp/err")"
fi
# Without a path: every regular file of the manifest, each with its sha256.
if "$bin" fingerprint --json "$img" >"$tmp/fp.json" 2>"$tmp/err" &&
   msg=$(python3 - "$tmp/fp.json" "$img.manifest" <<'EOF' 2>&1
import json, sys
got = {}
for e in json.load(open(sys.argv[1])):
    got[e["path"]] = (e["fingerprint"], e["size"])
want = {}
for line in open(sys.argv[2], encoding="utf-8", errors="surrogateescape"):
    c = line.rstrip("\n").split("\t")
    if not line.startswith("#") and c[1] == "reg" and "\\" not in c[0]:
        want[c[0]] = ("sha256:" + c[11], int(c[5]))
diff = [p for p in want if got.get(p) != want[p]]
assert len(want) > 5000 and not diff, (len(want), diff[:5])
EOF
); then
	ok
else
	bad "fingerprint --json of every file: $msg $(head -c 400 "$tmp/err")"
fi
expect_fail "fingerprint of a missing path" "digest-plain.erofs: /no/such: lookup" \
	fingerprint "$img" /no/such
expect_fail "fingerprint of a symlink" "/links/abs: not a regular file" \
	fingerprint "$img" /links/abs

if "$bin" --help | grep -q 'domain \[--policy' && "$bin" fingerprint --help | grep -q 'sha256:HEX'
then
	ok
else
	bad "--help"
fi

echo "test_domain_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
