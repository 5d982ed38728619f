#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `erofs-share manifest IMAGE` must equal IMAGE.manifest byte for byte for
# every fixture: those files are treecmp.py --list of the kernel's mount, so
# this checks the library's whole view of each image (every inode field,
# contents, symlink targets, xattrs, hardlinks) against the kernel's.
# Also cross-checks cat/stat/xattr/ls/info against the manifests, and that
# errors name the image and path and exit non-zero.  Needs no root.
#
# usage: test_manifest.sh BUILD_DIR SOURCE_DIR
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

devargs() {
	case $(basename "$1") in
	multidev.erofs) echo "--device $fix/multidev.blob" ;;
	esac
}

n=0
for img in "$fix"/*.erofs; do
	n=$((n + 1))
	name=$(basename "$img")
	# shellcheck disable=SC2046
	if ! "$bin" manifest $(devargs "$img") "$img" >"$tmp/out" 2>"$tmp/err"; then
		bad "$name: manifest exited non-zero: $(head -c 400 "$tmp/err")"
		continue
	fi
	if ! cmp -s "$tmp/out" "$img.manifest"; then
		bad "$name: manifest differs from $name.manifest; first differences:"
		diff "$img.manifest" "$tmp/out" | head -n 12
		continue
	fi
	if [ -s "$tmp/err" ]; then
		bad "$name: manifest wrote to stderr: $(head -c 400 "$tmp/err")"
		continue
	fi
	ok
done
if [ "$n" -lt 24 ]; then
	bad "only $n fixtures found in $fix"
fi

# The manifest needs the extra device: without it the image must not open.
if "$bin" manifest "$fix/multidev.erofs" >"$tmp/out" 2>"$tmp/err"; then
	bad "multidev.erofs without --device succeeded"
elif ! grep -q "multidev.erofs" "$tmp/err"; then
	bad "multidev.erofs without --device: message does not name the image: $(cat "$tmp/err")"
else
	ok
fi
# Global options after the command work as well as before it.
if "$bin" --device "$fix/multidev.blob" manifest "$fix/multidev.erofs" |
   cmp -s - "$fix/multidev.erofs.manifest"; then
	ok
else
	bad "--device before the command"
fi

# Field of a manifest line: manifest_field IMAGE PATH COLUMN (1-based).
manifest_field() {
	awk -F '\t' -v p="$2" -v c="$3" '$1 == p { print $c; exit }' "$1.manifest"
}

for img in "$fix/plain-4k.erofs" "$fix/lz4.erofs" "$fix/lzma.erofs" "$fix/zstd.erofs" \
	   "$fix/chunk-4k.erofs" "$fix/fragments.erofs"; do
	name=$(basename "$img")
	for p in /big/text-0.bin /big/mixed-1.bin /bound/rand-4097 /bound/text-65537 \
		 /sparse/hole-middle /sparse/many-holes /files/empty-0 /hard/big-2; do
		want=$(manifest_field "$img" "$p" 12)
		if [ -z "$want" ]; then
			bad "$name: $p is not a regular file of the manifest"
			continue
		fi
		if ! "$bin" cat "$img" "$p" >"$tmp/cat" 2>"$tmp/err"; then
			bad "$name: cat $p exited non-zero: $(head -c 400 "$tmp/err")"
			continue
		fi
		got=$(sha256sum <"$tmp/cat" | cut -d' ' -f1)
		if [ "$got" = "$want" ]; then
			ok
		else
			bad "$name: cat $p: sha256 $got, manifest $want"
		fi
	done
done

img=$fix/plain-4k.erofs
# stat --json against the manifest line of a few kinds of entries.
for p in /nodes/chr-max /nodes/blk-minor-big /times/nsec /times/pre-1970-half /owners/u-big \
	 /links/abs /modes/suid-sgid /modes/sticky-dir /; do
	line=$(awk -F '\t' -v p="$p" '$1 == p' "$img.manifest")
	if [ -z "$line" ]; then
		bad "$p is not in the manifest"
		continue
	fi
	js=$("$bin" stat --json "$img" "$p") || { bad "stat $p failed"; continue; }
	got=$(python3 -c '
import json, sys
s = json.loads(sys.argv[1])
rdev = "%d:%d" % (s["rdev_major"], s["rdev_minor"]) if s["type"] in ("chr", "blk") else "-"
size = "-" if s["type"] == "dir" else str(s["size"])
print("\t".join([s["type"], s["mode"], str(s["uid"]), str(s["gid"]), size,
                 str(s["mtime_sec"]), str(s["mtime_nsec"]), str(s["nlink"]), rdev]))
' "$js")
	want=$(printf '%s\n' "$line" | cut -f2-10)
	if [ "$got" = "$want" ]; then ok; else bad "stat $p: '$got' vs manifest '$want'"; fi
done

# xattr: user-small holds a text, an empty and a binary value.
"$bin" xattr "$img" /xattr/user-small >"$tmp/x" 2>&1 || bad "xattr /xattr/user-small failed"
if grep -qx 'user.text=hello world' "$tmp/x" && grep -qx 'user.empty=' "$tmp/x" &&
   grep -qx 'user.a=1' "$tmp/x" && grep -q '^user.binary=hex:' "$tmp/x"; then
	ok
else
	bad "xattr /xattr/user-small: $(cat "$tmp/x")"
fi

# ls -R --json lists every path of the manifest but the root.
if "$bin" ls -R --json "$img" >"$tmp/ls.json" 2>"$tmp/err"; then
	cnt=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$tmp/ls.json")
	want=$(($(grep -vc '^#' "$img.manifest") - 1))
	if [ "$cnt" = "$want" ]; then
		ok
	else
		bad "ls -R --json: $cnt entries, manifest has $want"
	fi
else
	bad "ls -R --json failed: $(head -c 400 "$tmp/err")"
fi
if "$bin" ls -lR "$img" /deep >"$tmp/ls" 2>"$tmp/err" && grep -q '^/deep/level-00' "$tmp/ls"; then
	ok
else
	bad "ls -lR /deep: $(head -c 400 "$tmp/err")"
fi
if "$bin" info --json "$img" | python3 -c '
import json, sys
i = json.load(sys.stdin)
assert i["block_size"] == 4096 and i["uuid"] == "56b413d2-ac87-5851-854b-67b031536444", i
assert "sb_csum" in i["features"], i'; then
	ok
else
	bad "info --json plain-4k.erofs"
fi

# Errors: non-zero exit and a message naming the image and the path.
if "$bin" cat "$img" /no/such/file >/dev/null 2>"$tmp/err"; then
	bad "cat of a missing path succeeded"
elif grep -q 'plain-4k.erofs: /no/such/file: ' "$tmp/err"; then
	ok
else
	bad "cat of a missing path: message '$(cat "$tmp/err")'"
fi
if "$bin" cat "$img" /big >/dev/null 2>"$tmp/err"; then
	bad "cat of a directory succeeded"
elif grep -q '/big: ' "$tmp/err"; then
	ok
else
	bad "cat of a directory: message '$(cat "$tmp/err")'"
fi
head -c 8192 /dev/zero >"$tmp/zero.img"
if "$bin" info "$tmp/zero.img" >/dev/null 2>"$tmp/err"; then
	bad "info of a zero-filled file succeeded"
elif grep -q 'zero.img' "$tmp/err"; then
	ok
else
	bad "info of a bad image: message '$(cat "$tmp/err")'"
fi
# A crafted cycle: /deep's entry "level-00-abcdef" made to point at the root.
# /deep holds ".", "..", "level-00-abcdef", so that dirent (12 bytes: le64
# nid, le16 nameoff, u8 type) has nameoff 3 * 12 + 1 + 2 = 39 and type 2.
if sub=$("$bin" stat --json "$img" /deep/level-00-abcdef) &&
   root=$("$bin" stat --json "$img" /) &&
   python3 -c '
import json, struct, sys
sub = json.loads(sys.argv[1])["nid"]
root = json.loads(sys.argv[2])["nid"]
d = bytearray(open(sys.argv[3], "rb").read())
want = struct.pack("<QHB", sub, 39, 2)
i = d.find(want)
assert i >= 0 and d.find(want, i + 1) < 0, "dirent not found exactly once"
d[i:i + 8] = struct.pack("<Q", root)
open(sys.argv[4], "wb").write(d)
' "$sub" "$root" "$img" "$tmp/cycle.erofs"; then
	for c in manifest ls extract; do
		args=("$tmp/cycle.erofs")
		[ "$c" = ls ] && args=(-R "${args[@]}")
		[ "$c" = extract ] && args+=("$tmp/cycle-out")
		if "$bin" "$c" "${args[@]}" >/dev/null 2>"$tmp/err"; then
			bad "$c of an image with a directory cycle succeeded"
		elif grep -q 'cycle.erofs: /deep/level-00-abcdef: directory cycle' "$tmp/err"; then
			ok
		else
			bad "$c of a cyclic image: message '$(head -c 400 "$tmp/err")'"
		fi
	done
	# The walk skips the looping entry and goes on: the manifest is the
	# fixture's without /deep/level-00-abcdef and what lay below it.
	"$bin" manifest "$tmp/cycle.erofs" >"$tmp/out" 2>/dev/null
	grep -v '^# end' "$tmp/out" >"$tmp/got"
	grep -v -e '^/deep/level-00-abcdef' -e '^# end' "$img.manifest" >"$tmp/want"
	if cmp -s "$tmp/got" "$tmp/want"; then
		ok
	else
		bad "manifest of the cyclic image is not the rest of the tree"
		diff "$tmp/want" "$tmp/got" | head -5
	fi
	# extract made the rest too, with its metadata (the modes of the manifest)
	want=$(awk -F '\t' '$1 == "/modes/sticky-dir" { print $3 }' "$img.manifest")
	got=$(stat -c '%04a' "$tmp/cycle-out/modes/sticky-dir" 2>/dev/null)
	[ -n "$want" ] && [ "$got" = "$want" ] && ok ||
		bad "extract of the cyclic image: /modes/sticky-dir mode '$got', manifest '$want'"
else
	bad "could not craft the cycle image"
fi
chmod -R u+rwx "$tmp" 2>/dev/null

if "$bin" frobnicate "$img" >/dev/null 2>&1; then bad "unknown command accepted"; else ok; fi
if "$bin" ls -z "$img" >/dev/null 2>&1; then bad "unknown option accepted"; else ok; fi
if "$bin" --help | grep -q manifest && "$bin" extract --help | grep -q 'extract IMAGE DIR'; then
	ok
else
	bad "--help"
fi

echo "test_manifest: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
