#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The embedding example: README.md shows examples/embed/embed.c verbatim
# (the block after the "<!-- examples/embed/embed.c -->" marker), and the
# program built from it reads a bundled image right: the bytes of a file
# match the sha256 the kernel showed (the fixture's manifest); a file that
# is not EROFS, a missing path and a missing extra device fail with exit 1
# and say so.
#
# Usage: test_embed.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
EMBED=$BUILD/bin/embed
FIX=$SRC/tests/fixtures
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

[ -x "$EMBED" ] || { echo "FAIL: $EMBED was not built"; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/eshare-embed.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# 1. README.md's copy is the file.
awk 'found == 1 && /^```$/ { exit } found == 1 { print } 
     /^<!-- examples\/embed\/embed.c -->$/ { getline; if ($0 == "```c") found = 1 }' \
	"$SRC/README.md" >"$TMP/readme.c"
if [ ! -s "$TMP/readme.c" ]; then
	fail "README.md has no \"<!-- examples/embed/embed.c -->\" block"
elif ! diff -u "$SRC/examples/embed/embed.c" "$TMP/readme.c" >"$TMP/diff"; then
	fail "README.md's embedding example differs from examples/embed/embed.c:"
	head -n 20 "$TMP/diff"
else
	echo "ok: README.md shows examples/embed/embed.c ($(wc -l <"$TMP/readme.c") lines)"
fi

# 2. It reads files right: size and sha256 as the kernel showed them.
for spec in "shared-a /big/repetitive.txt" "lzma /big/text-0.bin" "plain-4k /files/empty-0"; do
	read -r img path <<<"$spec"
	want=$(awk -F'\t' -v p="$path" '$1 == p { print $6 " " $12 }' "$FIX/$img.erofs.manifest")
	if ! "$EMBED" "$FIX/$img.erofs" "$path" >"$TMP/out" 2>"$TMP/err"; then
		fail "embed $img $path exited non-zero: $(cat "$TMP/err")"
		continue
	fi
	got="$(stat -c %s "$TMP/out") $(sha256sum <"$TMP/out" | cut -d' ' -f1)"
	if [ -z "$want" ] || [ "$got" != "$want" ]; then
		fail "embed $img $path: read '$got', the kernel manifest says '$want'"
	elif ! grep -qx "$path: ${want%% *} bytes, mode 0[0-7]*" "$TMP/err"; then
		fail "embed $img $path: stderr says '$(cat "$TMP/err")'"
	else
		echo "ok: $img $path (${want%% *} bytes)"
	fi
done

# 3. Errors: a message and exit 1 (2 for usage).
expect_fail() { # CODE WORDS ARGS...
	local code=$1 words=$2 rc
	shift 2
	"$EMBED" "$@" >/dev/null 2>"$TMP/err"
	rc=$?
	if [ $rc -ne "$code" ] || ! grep -q "$words" "$TMP/err"; then
		fail "embed $*: exit $rc (want $code), stderr '$(cat "$TMP/err")' (want '$words')"
	else
		echo "ok: embed $* -> $code, $(head -n 1 "$TMP/err")"
	fi
}
expect_fail 1 "not an EROFS image" "$SRC/README.md" /x
expect_fail 1 "no such file or directory" "$FIX/shared-a.erofs" /no/such/file
expect_fail 1 "device 1 of 2 (no tag, 1138688 bytes) is missing" "$FIX/multidev.erofs" /x
expect_fail 1 "not a regular file" "$FIX/shared-a.erofs" /big
expect_fail 2 "usage" "$FIX/shared-a.erofs"

[ $FAILS -eq 0 ] || { echo "test_embed: $FAILS failures"; exit 1; }
echo "test_embed: ok"
