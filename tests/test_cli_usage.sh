#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share's conventions, as docs/man/erofs-share.1 states them:
#   - exit 0 success, 1 the work failed, 2 a usage error, a bad or absurd
#     option value included (each with a message on stderr);
#   - one JSON schema: `mode` is the same string in `ls --json`, `stat
#     --json` and `manifest --json` (the permission bits, as the kernel's
#     stat shows them in the fixture's manifest); `xattr --json` and
#     `manifest --json` give what the text forms give;
#   - `ls -l` columns line up; `info` says in words whether the image has
#     content fingerprints; a missing extra device is named with the option
#     that gives it.
# Expected values come from the fixtures' manifests (read off kernel mounts).
#
# Usage: test_cli_usage.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
CLI=$BUILD/bin/erofs-share
FIX=$SRC/tests/fixtures
A=$FIX/shared-a.erofs
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
[ -x "$CLI" ] || { echo "FAIL: $CLI was not built"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: python3 is missing"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/eshare-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# 1. Exit status and a message.
expect() { # CODE STDERR-WORDS ARGS...
	local code=$1 words=$2 rc
	shift 2
	"$CLI" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ $rc -ne "$code" ]; then
		fail "erofs-share $*: exit $rc, want $code ($(head -c 300 "$TMP/err"))"
	elif [ -n "$words" ] && ! grep -qi -- "$words" "$TMP/err"; then
		fail "erofs-share $*: stderr lacks '$words': $(head -c 300 "$TMP/err")"
	else
		echo "ok: exit $code: erofs-share $*"
	fi
}
expect 0 "" info "$A"
expect 0 "" domain --threads 2 --cache-size 16M "$A"
expect 2 "cache-size" domain --cache-size garbage "$A"
expect 2 "cache-size" domain --cache-size 12Q "$A"
expect 2 "cache-size" domain --cache-size 1 "$A"
expect 2 "cache-size" domain --cache-size 0 "$A"
expect 2 "cache-size" domain --cache-size 63K "$A"
# The man page's suffixes K, M, G and T: 1T is 2^40 bytes (a budget, not
# memory taken up front).
expect 0 "" domain --json --cache-size 1T "$A"
grep -q '"cache_bytes": 1099511627776,' "$TMP/out" ||
	fail "domain --cache-size 1T: $(grep -o '"cache_bytes": [0-9]*' "$TMP/out")"
expect 2 "threads" domain --threads 0 "$A"
expect 2 "threads" domain --threads 1000 "$A"
expect 2 "threads" domain --threads two "$A"
expect 2 "policy" domain --policy bogus "$A"
expect 2 "backend" --backend nbd info "$A"
expect 2 "unknown option" ls --bogus "$A"
expect 2 "unknown command" frobnicate "$A"
expect 2 "missing" stat "$A"
expect 2 "needs a value" domain "$A" --threads
expect 1 "no such file" info "$TMP/none.erofs"
expect 1 "not an EROFS image" info "$SRC/README.md"
expect 1 "no such file or directory" stat "$A" /no/such/path
expect 1 "device 1 of 2" ls "$FIX/multidev.erofs" /
expect 1 "--device" ls "$FIX/multidev.erofs" /
expect 0 "" --device "$FIX/multidev.blob" ls "$FIX/multidev.erofs" /

# 2. One JSON schema, checked against the kernel's manifest.
"$CLI" ls --json "$A" /hard >"$TMP/ls.json" 2>"$TMP/err" || fail "ls --json: $(cat "$TMP/err")"
"$CLI" manifest --json "$A" >"$TMP/manifest.json" 2>"$TMP/err" ||
	fail "manifest --json: $(cat "$TMP/err")"
"$CLI" manifest "$A" >"$TMP/manifest.txt" 2>"$TMP/err" || fail "manifest: $(cat "$TMP/err")"
for p in /hard/xattr-1 /acl/dir-acl /bigdir; do
	safe=${p//\//_}
	"$CLI" stat --json "$A" "$p" >"$TMP/stat$safe.json" 2>"$TMP/err" ||
		fail "stat --json $p: $(cat "$TMP/err")"
	"$CLI" xattr --json "$A" "$p" >"$TMP/xattr$safe.json" 2>"$TMP/err" ||
		fail "xattr --json $p: $(cat "$TMP/err")"
	"$CLI" xattr "$A" "$p" >"$TMP/xattr$safe.txt" 2>"$TMP/err" || fail "xattr $p: $(cat "$TMP/err")"
done
if ! python3 - "$TMP" "$A.manifest" <<'PY'
import json, sys
tmp, mpath = sys.argv[1], sys.argv[2]
bad = []
kern = {}
for line in open(mpath, encoding="utf-8", errors="surrogateescape"):
    if line.startswith("#"):
        continue
    f = line.rstrip("\n").split("\t")
    kern[f[0]] = f
def load(name):
    try:
        return json.load(open(tmp + "/" + name))
    except Exception as e:
        bad.append("%s is not JSON: %s" % (name, e))
        return None
ls = load("ls.json") or []
for e in ls:
    k = kern.get(e.get("path"))
    if not k:
        bad.append("ls --json: %r not in the manifest" % e.get("path"))
    elif e.get("mode") != k[2] or e.get("type") != k[1]:
        bad.append("ls --json %s: type %r mode %r, kernel %s %s" % (k[0], e.get("type"), e.get("mode"), k[1], k[2]))
for p in ("/hard/xattr-1", "/acl/dir-acl", "/bigdir"):
    safe = p.replace("/", "_")
    st = load("stat%s.json" % safe)
    k = kern[p]
    if st is not None:
        if st.get("mode") != k[2] or st.get("type") != k[1]:
            bad.append("stat --json %s: type %r mode %r, kernel %s %s" % (p, st.get("type"), st.get("mode"), k[1], k[2]))
        for e in ls:
            if e.get("path") == p:
                for key in ("type", "mode", "ino", "nlink", "uid", "gid", "size", "mtime_sec", "mtime_nsec"):
                    if e.get(key) != st.get(key):
                        bad.append("%s: ls --json %s=%r, stat --json %r" % (p, key, e.get(key), st.get(key)))
    xs = load("xattr%s.json" % safe)
    if xs is not None:
        text = [l.rstrip("\n") for l in open(tmp + "/xattr%s.txt" % safe)]
        if [x.get("name") for x in xs] != [t.split("=", 1)[0] for t in text]:
            bad.append("xattr --json %s names %r, text %r" % (p, [x.get("name") for x in xs], text))
        for x, t in zip(xs, text):
            v = t.split("=", 1)[1]
            j = ("hex:" + x["hex"]) if "hex" in x else x.get("value")
            if j != v:
                bad.append("xattr --json %s %s: %r, text %r" % (p, x.get("name"), j, v))
        # the kernel's xattrs (hex, or len:sha256 when long) as the manifest lists them
        want = {} if k[12] == "-" else dict(i.split("=", 1) for i in k[12].split(";"))
        got = {x["name"]: x["hex"] if "hex" in x else x["value"].encode().hex() for x in xs}
        for n, v in want.items():
            if n not in got or (v.startswith("hex:") and v[4:] != got[n]):
                bad.append("xattr --json %s %s: %r, kernel %s" % (p, n, got.get(n), v))
man = load("manifest.json")
if man is not None:
    rows = [l.rstrip("\n").split("\t") for l in open(tmp + "/manifest.txt") if not l.startswith("#")]
    cols = ["path", "type", "mode", "uid", "gid", "size", "mtime_sec", "mtime_nsec", "nlink",
            "rdev", "target", "sha256", "xattrs", "hardlink"]
    if len(man) != len(rows):
        bad.append("manifest --json: %d entries, text %d rows" % (len(man), len(rows)))
    for o, r in zip(man, rows):
        for c, v in zip(cols, r):
            if c == "path" and "\\" in v:
                continue  # the text form escapes it; JSON has the bytes
            j = o.get(c)
            j = "-" if j is None else str(j)
            if j != v:
                bad.append("manifest --json %s %s=%r, text %r" % (r[0], c, o.get(c), v))
                break
    if len(rows) != len(kern):
        bad.append("manifest: %d rows, kernel manifest %d" % (len(rows), len(kern)))
for b in bad[:20]:
    print("FAIL:", b)
print("json: %d problems; %d ls entries, %d manifest entries checked" % (len(bad), len(ls), len(man or [])))
sys.exit(1 if bad else 0)
PY
then
	fail "JSON output (above)"
fi

# 3. ls -l: in each listing, the columns before the mtime line up.
check_ll() { # ARGS...
	"$CLI" ls -l "$@" >"$TMP/ll" 2>"$TMP/err" || { fail "ls -l $*: $(cat "$TMP/err")"; return; }
	if ! python3 - "$TMP/ll" <<'PY'
import re, sys
ends = set()
for line in open(sys.argv[1]):
    # mode, nlink, uid, gid, then size or "major, minor": where the size column ends
    m = re.match(r"^(\S{10}\s+\d+\s+\d+\s+\d+\s+(\d+,\s*)?\d+)\s", line)
    if not m:
        print("ls -l line does not parse:", line.rstrip())
        sys.exit(1)
    ends.add(m.end(1))
sys.exit(0 if len(ends) == 1 else 1)
PY
	then
		fail "ls -l $*: the columns do not line up:"
		head -n 8 "$TMP/ll"
	else
		echo "ok: ls -l $* lines up ($(wc -l <"$TMP/ll") rows)"
	fi
}
check_ll "$A" /hard
check_ll "$FIX/plain-4k.erofs" /owners
check_ll "$FIX/plain-4k.erofs" /nodes

# 4. info says what the fingerprint feature means.
"$CLI" info "$A" >"$TMP/info-a" 2>&1
"$CLI" info "$FIX/plain-4k.erofs" >"$TMP/info-p" 2>&1
grep -qi "^content fingerprints: *yes" "$TMP/info-a" && grep -qi "share one cached copy" "$TMP/info-a" ||
	fail "info shared-a.erofs does not say it has content fingerprints: $(grep -i finger "$TMP/info-a")"
grep -qi "^content fingerprints: *no" "$TMP/info-p" ||
	fail "info plain-4k.erofs does not say it has no fingerprints: $(grep -i finger "$TMP/info-p")"

[ $FAILS -eq 0 ] || { echo "test_cli_usage: $FAILS failures"; exit 1; }
echo "test_cli_usage: ok"
