#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `cmake --install` into a temporary prefix puts every program with its man
# page where man(1) finds it: erofs-share (its page written by hand,
# docs/man/erofs-share.1) and the other front ends built here (pages from
# their --help); the installed programs run from the prefix without
# LD_LIBRARY_PATH and read a bundled image right; the hand-written page
# formats without a groff warning.
#
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/eshare-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PREFIX=$TMP/prefix
if ! cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" 2>&1; then
	cat "$TMP/install.log"
	echo "FAIL: cmake --install $BUILD --prefix PREFIX"
	exit 1
fi

# erofs-share always; the other front ends when this build has them.
progs=(erofs-share)
for p in erofs-share-sim erofs-share-fuse; do
	[ -x "$BUILD/bin/$p" ] && progs+=("$p")
done
for p in "${progs[@]}"; do
	if [ ! -x "$PREFIX/bin/$p" ]; then
		fail "bin/$p is not installed"
		continue
	fi
	page=$(MANPATH=$PREFIX/share/man man -w "$p" 2>/dev/null)
	if [ "$page" != "$PREFIX/share/man/man1/$p.1" ]; then
		fail "man -w $p finds '${page:-nothing}', not PREFIX/share/man/man1/$p.1"
	elif ! grep -q "^\.TH \"\?$(tr a-z A-Z <<<"$p")\"\? \"\?1" "$page"; then
		fail "$p.1 has no .TH ${p^^} 1 line"
	else
		echo "ok: bin/$p and share/man/man1/$p.1"
	fi
	# the installed program finds the installed library by itself
	if ! env -u LD_LIBRARY_PATH ldd "$PREFIX/bin/$p" |
	     grep -q "libsharecache.so.0 => $PREFIX/"; then
		fail "installed $p does not load libsharecache.so.0 from the prefix:"
		env -u LD_LIBRARY_PATH ldd "$PREFIX/bin/$p" | grep sharecache
	fi
done

# The installed erofs-share reads a file as the kernel showed it.
want=$(awk -F'\t' '$1 == "/big/repetitive.txt" { print $12 }' \
	"$SRC/tests/fixtures/shared-a.erofs.manifest")
got=$(env -u LD_LIBRARY_PATH "$PREFIX/bin/erofs-share" cat \
	"$SRC/tests/fixtures/shared-a.erofs" /big/repetitive.txt | sha256sum | cut -d' ' -f1)
[ -n "$want" ] && [ "$got" = "$want" ] || fail "installed erofs-share cat: sha256 $got, want $want"

# The hand-written page: no groff warning, every command documented.
page=$SRC/docs/man/erofs-share.1
if command -v groff >/dev/null; then
	if ! groff -man -ww -z "$page" 2>"$TMP/groff" || [ -s "$TMP/groff" ]; then
		fail "groff warns on docs/man/erofs-share.1: $(head -n 5 "$TMP/groff")"
	fi
else
	echo "note: groff missing, docs/man/erofs-share.1 not linted"
fi
for c in $("$BUILD/bin/erofs-share" --help | awk '/^Commands:/ { on = 1; next }
					     on && /^  [a-z]/ { print $1 } on && /^$/ { exit }'); do
	grep -q "^\.B erofs-share $c\b" "$page" ||
		fail "docs/man/erofs-share.1 has no synopsis line for '$c'"
	grep -q "^\.B $c\$" "$page" || fail "docs/man/erofs-share.1 does not describe '$c'"
done

[ $FAILS -eq 0 ] || { echo "test_install: $FAILS failures"; exit 1; }
echo "test_install: ok"
