#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The library's layers (top-level CMakeLists.txt): lib/cache sees nothing
# but itself, lib/format nothing but itself (it reads through its I/O
# callbacks), lib/util nothing of the library, and the read path
# (lib/readpath.*) only the cache, the format layer and page proofs.
#  (a) every #include "..." of a layer's sources names a file of that layer
#      (or of the layers it may use), never one elsewhere (no "../");
#      no layer but the core includes a public <erofs_share/...> header;
#  (b) with each layer's own compile flags (what CMake gives its target), a
#      probe that includes another layer's header fails to compile, and
#      one that includes the layer's own header compiles.
#
# Usage: test_layers.sh BUILD_DIR SOURCE_DIR
set -u

BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
FAILS=0
CHECKS=0

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

if [ ! -f "$BUILD/layers/flags.sh" ]; then
	echo "FAIL: $BUILD/layers/flags.sh was not generated (run cmake first)"
	exit 1
fi
# shellcheck source=/dev/null
. "$BUILD/layers/flags.sh"

# ---- (a) the includes each layer's sources write ----

# check_layer LABEL ALLOWED_REGEX FILE...: every quoted include of the
# files must match ALLOWED_REGEX and name an existing file of the layer.
check_layer() {
	local label=$1 allowed=$2 f inc
	shift 2
	for f in "$@"; do
		[ -f "$f" ] || continue
		while IFS= read -r inc; do
			CHECKS=$((CHECKS + 1))
			if [[ $inc == *..* || ! $inc =~ $allowed ]]; then
				fail "$label: ${f#"$SRC"/} includes \"$inc\""
			fi
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
		CHECKS=$((CHECKS + 1))
		if grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<erofs_share/' "$f"; then
			fail "$label: ${f#"$SRC"/} includes a public header"
		fi
	done
}

# A layer's own files, by bare name or under its folder's name.
names_of() { # DIR PREFIX
	local d=$1 p=$2 list="" f
	for f in "$d"/*.h; do
		[ -f "$f" ] || continue
		f=${f##*/}
		list="$list|${f//./\\.}|$p/${f//./\\.}"
	done
	echo "^(${list#|})\$"
}

check_layer cache "$(names_of "$SRC/lib/cache" cache)" "$SRC"/lib/cache/*.[ch]
check_layer format "$(names_of "$SRC/lib/format" format)" "$SRC"/lib/format/*.[ch]
check_layer util "$(names_of "$SRC/lib/util" util)" "$SRC"/lib/util/*.[ch]
# the read path: the cache, the format layer, page proofs and itself
check_layer readpath \
	"^(readpath\.h|proof\.h|cache/pagecache\.h|cache/tails\.h|format/format\.h|format/ondisk\.h)\$" \
	"$SRC"/lib/readpath.[ch] "$SRC"/lib/proof.[ch]

# A layer that includes nothing of its own would pass (a) vacuously.
for layer in cache format; do
	CHECKS=$((CHECKS + 1))
	if ! grep -qE '^#include "' "$SRC"/lib/$layer/*.c; then
		fail "$layer: no quoted include found: the check above saw nothing"
	fi
done

# ---- (b) what each layer's compile flags let it include ----

# keep only flags with a value (an option switched off leaves a bare -D)
clean() { # FLAG...
	local f
	for f in "$@"; do
		case $f in -I | -D | "") ;; *) printf '%s\n' "$f" ;; esac
	done
}
mapfile -t CACHE_ARGS < <(clean "${CACHE_FLAGS[@]}")
mapfile -t FORMAT_ARGS < <(clean "${FORMAT_FLAGS[@]}")

TMP=$(mktemp -d /tmp/eshare-layers.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# probe EXPECT LABEL HEADER FLAG...: compile a file that includes HEADER
# (from a folder of its own, so only the flags can find it).
probe() {
	local expect=$1 label=$2 header=$3 rc
	shift 3
	CHECKS=$((CHECKS + 1))
	printf '#include "%s"\nint eshare_layer_probe;\n' "$header" >"$TMP/probe.c"
	"$CC" -std=c11 -D_GNU_SOURCE -fsyntax-only "$@" "$TMP/probe.c" >"$TMP/log" 2>&1
	rc=$?
	if [ "$expect" = ok ] && [ $rc -ne 0 ]; then
		fail "$label: \"$header\" does not compile with the layer's flags"
		sed 's/^/    /' "$TMP/log"
	elif [ "$expect" = fail ] && [ $rc -eq 0 ]; then
		fail "$label: \"$header\" compiles with the layer's flags: the layer sees it"
	elif [ "$expect" = fail ] && ! grep -q 'No such file' "$TMP/log"; then
		fail "$label: \"$header\" failed for another reason than not being found"
		sed 's/^/    /' "$TMP/log"
	fi
}

probe ok format "format/format.h" "${FORMAT_ARGS[@]}"
probe fail format "cache/pagecache.h" "${FORMAT_ARGS[@]}"
probe fail format "readpath.h" "${FORMAT_ARGS[@]}"
probe fail format "erofs_share/erofs_share.h" "${FORMAT_ARGS[@]}"
probe ok cache "cache/pagecache.h" "${CACHE_ARGS[@]}"
probe fail cache "format/format.h" "${CACHE_ARGS[@]}"
probe fail cache "format/ondisk.h" "${CACHE_ARGS[@]}"
probe fail cache "readpath.h" "${CACHE_ARGS[@]}"

echo "$CHECKS checks, $FAILS failed"
[ $FAILS -eq 0 ]
