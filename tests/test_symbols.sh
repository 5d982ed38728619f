#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The shared library exports exactly its public API: every dynamic symbol
# it defines is an eshare_* function declared ESHARE_API in a public header
# (or a version node of lib/libsharecache.map), every such function is
# exported as a function in a version node, and the soname is
# libsharecache.so.0.
#
# Usage: test_symbols.sh BUILD_DIR SOURCE_DIR
set -u

BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
LIB=$BUILD/lib/libsharecache.so
MAP=$SRC/lib/libsharecache.map
FAILS=0

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

for tool in nm readelf python3; do
	if ! command -v $tool >/dev/null; then
		echo "FAIL: $tool is not installed"
		exit 1
	fi
done
if [ ! -e "$LIB" ]; then
	echo "FAIL: $LIB does not exist (build the sharecache target)"
	exit 1
fi

# Version nodes named in the map ("LIBSHARECACHE_0.1 {").
NODES=$(sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_.]*\)[[:space:]]*{.*/\1/p' "$MAP" | sort -u)
[ -n "$NODES" ] || fail "no version node found in $MAP"

# Functions declared ESHARE_API in the public headers.
DECLARED=$(python3 - "$SRC"/include/erofs_share/*.h "$SRC"/include/erofs_share/sys/*.h <<'EOP'
import re, sys
for path in sys.argv[1:]:
    text = open(path).read()
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = '\n'.join(l for l in text.split('\n') if not l.lstrip().startswith('#'))
    for m in re.finditer(r'\bESHARE_API\b([^;{(]*?)\b([A-Za-z_]\w*)\s*\(', text):
        print(m.group(2))
EOP
)
DECLARED=$(sort -u <<<"$DECLARED")
[ -n "$DECLARED" ] || fail "no ESHARE_API function found in include/erofs_share/*.h"

# nm -D prints "VALUE TYPE NAME[@[@]VERSION]"; older nm leaves the version
# out, so also ask readelf for the version of each symbol.
nm -D --defined-only "$LIB" >"${TMPDIR:-/tmp}/eshare-nm.$$" || fail "nm -D $LIB"
NM=$(cat "${TMPDIR:-/tmp}/eshare-nm.$$")
rm -f "${TMPDIR:-/tmp}/eshare-nm.$$"

ALLOWED=0
FUNCS=
while read -r value type name; do
	[ -n "$name" ] || { name=$type; type=$value; }
	base=${name%%@*}
	ver=
	[ "$base" != "$name" ] && ver=${name##*@}
	if [ "$type" = A ] && grep -qx "$base" <<<"$NODES"; then
		# The version node's own absolute symbol.
		continue
	fi
	case $base in
	eshare_*) ;;
	*)
		fail "exported symbol '$name' (type $type) is not eshare_*"
		continue
		;;
	esac
	if ! grep -qx "$base" <<<"$DECLARED"; then
		fail "exported '$base' (type $type) is not declared ESHARE_API in a public header"
		continue
	fi
	if [ "$type" != T ]; then
		fail "'$base' is exported with type $type, expected T (a function)"
	fi
	if [ -n "$ver" ] && ! grep -qx "$ver" <<<"$NODES"; then
		fail "'$base' has version '$ver', not a node of $(basename "$MAP")"
	fi
	FUNCS="$FUNCS $base"
	ALLOWED=$((ALLOWED + 1))
done <<<"$NM"

# The map names each exported function: no wildcard but the local "*".
if sed -n '/global:/,/local:/p' "$MAP" | grep -q '[*?]'; then
	fail "$(basename "$MAP") exports by pattern; list each function by name"
fi
for fn in $DECLARED; do
	grep -qE "^[[:space:]]*$fn;" "$MAP" || fail "'$fn' is declared ESHARE_API but not listed in $(basename "$MAP")"
done

# Every ESHARE_API function must be exported, in a version node.
EXPORTED=$(tr ' ' '\n' <<<"$FUNCS" | sed '/^$/d' | sort -u)
for fn in $(comm -23 <(echo "$DECLARED") <(echo "$EXPORTED")); do
	fail "'$fn' is declared ESHARE_API but not exported by $(basename "$LIB")"
done
VERSYM=$(readelf --dyn-syms -W "$LIB" | awk '$7 != "UND" && $8 ~ /^eshare_/ { print $8 }')
for s in $VERSYM; do
	case $s in
	*@*) ;;
	*) fail "'$s' is exported without a version (readelf --dyn-syms)" ;;
	esac
done

SONAME=$(readelf -d "$LIB" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$SONAME" = libsharecache.so.0 ] || fail "soname is '$SONAME', expected libsharecache.so.0"

# Nothing it needs may be left undefined but what libc, libm, libpthread,
# the codecs, libcrypto, libxxhash and (sanitizer builds) their runtimes
# provide: --no-undefined at link time proves that, so only check that the
# library does link against its declared dependencies and nothing odd.
NEEDED=$(readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for n in $NEEDED; do
	case $n in
	libc.so.* | libm.so.* | libpthread.so.* | liblz4.so.* | liblzma.so.* | \
	libdeflate.so.* | libzstd.so.* | libcrypto.so.* | libxxhash.so.* | \
	libasan.so.* | libubsan.so.* | libtsan.so.* | libgcc_s.so.* | ld-linux*) ;;
	*) fail "unexpected dependency $n" ;;
	esac
done

echo "test_symbols: $ALLOWED eshare_* functions exported, $(wc -l <<<"$DECLARED") declared" \
	"ESHARE_API, soname $SONAME, version nodes: $(tr '\n' ' ' <<<"$NODES")"
echo "test_symbols: $FAILS failures"
[ $FAILS -eq 0 ]
