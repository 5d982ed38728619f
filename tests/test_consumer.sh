#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Packaging test: install the library into a temporary prefix, then build a
# small program outside the project against the installed files twice, once
# with pkg-config and once with CMake's find_package(erofs_share), run both
# and check what they print and read.  Also checks the installed soname.
#
# Usage: test_consumer.sh BUILD_DIR SOURCE_DIR
set -u

BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
IMAGE=$SRC/tests/fixtures/plain-4k.erofs
MANIFEST=$IMAGE.manifest
FAILS=0

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

for tool in cmake cc pkg-config sha256sum readelf; do
	if ! command -v $tool >/dev/null; then
		echo "FAIL: $tool is not installed"
		exit 1
	fi
done

TMP=$(mktemp -d /tmp/eshare-consumer.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PREFIX=$TMP/prefix

if ! cmake --install "$BUILD" --prefix "$PREFIX" >"$TMP/install.log" 2>&1; then
	cat "$TMP/install.log"
	echo "FAIL: cmake --install $BUILD --prefix $PREFIX"
	exit 1
fi

# Where GNUInstallDirs put the library (lib, lib64 or lib/<multiarch>).
PCFILE=$(find "$PREFIX" -name erofs_share.pc | head -n1)
if [ -z "$PCFILE" ]; then
	echo "FAIL: no erofs_share.pc installed under $PREFIX"
	find "$PREFIX" | sed "s|$PREFIX|PREFIX|"
	exit 1
fi
LIBDIR=$(dirname "$(dirname "$PCFILE")")
echo "installed library dir: ${LIBDIR#$PREFIX/}"

# The soname carries the ABI version: libsharecache.so.0, with the
# development symlink and the real file beside it.
for f in libsharecache.so libsharecache.so.0; do
	[ -L "$LIBDIR/$f" ] || fail "$LIBDIR/$f is not an installed symlink"
done
REAL=$(readlink -f "$LIBDIR/libsharecache.so")
case $(basename "$REAL") in
libsharecache.so.0.*) ;;
*) fail "libsharecache.so points to $(basename "$REAL"), expected libsharecache.so.0.X.Y" ;;
esac
SONAME=$(readelf -d "$REAL" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$SONAME" != libsharecache.so.0 ]; then
	fail "installed soname is '$SONAME', expected libsharecache.so.0"
else
	echo "ok: soname $SONAME"
fi
for h in erofs_share.h backend.h version.h; do
	[ -f "$PREFIX/include/erofs_share/$h" ] || fail "include/erofs_share/$h is not installed"
done
[ -f "$LIBDIR/cmake/erofs_share/erofs_shareConfig.cmake" ] ||
	fail "lib/cmake/erofs_share/erofs_shareConfig.cmake is not installed"
# Only the shared library is part of the installed package.
if ls "$LIBDIR"/*.a >/dev/null 2>&1; then
	fail "static archives installed: $(ls "$LIBDIR"/*.a)"
fi

VERSION=$(sed -n 's/^#define ESHARE_VERSION_STRING "\(.*\)"/\1/p' \
	"$BUILD/include/erofs_share/version.h")
PCVERSION=$(PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --modversion erofs_share)
[ "$PCVERSION" = "$VERSION" ] ||
	fail "pkg-config --modversion says '$PCVERSION', version.h says '$VERSION'"

# A library built with sanitizers needs their runtime loaded first: build
# the consumer with the same -fsanitize flags, as a user of such a build must.
SANFLAGS=
if grep -q '^ESHARE_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	SANFLAGS="-fsanitize=address,undefined"
elif grep -q '^ESHARE_TSAN:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
	SANFLAGS="-fsanitize=thread"
fi
[ -n "$SANFLAGS" ] && echo "library built with sanitizers: consumer uses $SANFLAGS"

# The files the consumer reads, and what the kernel showed for them.
PATHS="/files/hardlink-to-hard-a /files/tiny-17-255 /bound/text-65537 /files/empty-0"

check_run() { # LABEL BINARY
	local label=$1 bin=$2 p want size sum out n=0
	for p in $PATHS; do
		want=$(awk -F'\t' -v p="$p" '$1 == p { print $6 " " $12 }' "$MANIFEST")
		if [ -z "$want" ]; then
			fail "$p is not in $MANIFEST"
			continue
		fi
		out=$(LD_LIBRARY_PATH=$LIBDIR "$bin" "$IMAGE" "$p" "$TMP/out.bin" 2>&1)
		if [ $? -ne 0 ]; then
			fail "$label: consumer $p failed: $out"
			continue
		fi
		if ! grep -qx "library $VERSION [0-9]*" <<<"$out" ||
		   ! grep -qx "header $VERSION [0-9]*" <<<"$out"; then
			fail "$label: version lines wrong (want $VERSION): $out"
		fi
		# Library and header numbers must match each other.
		if [ "$(sed -n 's/^library [^ ]* //p' <<<"$out")" != \
		     "$(sed -n 's/^header [^ ]* //p' <<<"$out")" ]; then
			fail "$label: eshare_version_number() differs from ESHARE_VERSION_NUMBER: $out"
		fi
		if grep -q 'versions differ' <<<"$out"; then
			fail "$label: $out"
		fi
		size=$(stat -c %s "$TMP/out.bin")
		sum=$(sha256sum "$TMP/out.bin" | cut -d' ' -f1)
		if [ "$size $sum" != "$want" ]; then
			fail "$label: $p read $size bytes sha256 $sum, kernel manifest says $want"
			continue
		fi
		if ! grep -qx "path $p size ${want%% *} mode 100[0-7]*" <<<"$out" ||
		   ! grep -qx "read ${want%% *}" <<<"$out"; then
			fail "$label: unexpected output for $p: $out"
			continue
		fi
		n=$((n + 1))
	done
	# It must really load the installed library, not one from the build tree.
	if ! LD_LIBRARY_PATH=$LIBDIR ldd "$bin" | grep -q "libsharecache.so.0 => $LIBDIR/"; then
		fail "$label: does not load libsharecache.so.0 from $LIBDIR:"
		LD_LIBRARY_PATH=$LIBDIR ldd "$bin"
	fi
	echo "$label: $n of $(wc -w <<<"$PATHS") files read correctly"
}

# 1. pkg-config.
mkdir -p "$TMP/pc"
FLAGS=$(PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --cflags --libs erofs_share)
if [ $? -ne 0 ]; then
	fail "pkg-config --cflags --libs erofs_share"
else
	echo "pkg-config flags: $FLAGS" | sed "s|$PREFIX|PREFIX|g"
	# shellcheck disable=SC2086
	if cc -std=c11 -Wall -Wextra -Werror $SANFLAGS -o "$TMP/pc/consumer" \
	      "$SRC/tests/consumer/consumer.c" $FLAGS >"$TMP/pc.log" 2>&1; then
		check_run pkg-config "$TMP/pc/consumer"
	else
		cat "$TMP/pc.log"
		fail "building the consumer with pkg-config flags"
	fi
fi

# 2. CMake find_package().
if cmake -S "$SRC/tests/consumer" -B "$TMP/cm" -DCMAKE_PREFIX_PATH="$PREFIX" \
	 -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$SANFLAGS" >"$TMP/cm.log" 2>&1 &&
   cmake --build "$TMP/cm" >>"$TMP/cm.log" 2>&1; then
	check_run cmake "$TMP/cm/consumer"
else
	cat "$TMP/cm.log"
	fail "building the consumer with find_package(erofs_share)"
fi

# 3. README.md's instructions for a custom prefix, on examples/embed: with
# pkg-config and an rpath, and with CMake; both programs run without
# LD_LIBRARY_PATH and load the library from the prefix.
EMBED_PATH=/big/repetitive.txt
EMBED_IMAGE=$SRC/tests/fixtures/shared-a.erofs
EMBED_WANT=$(awk -F'\t' -v p="$EMBED_PATH" '$1 == p { print $12 }' "$EMBED_IMAGE.manifest")
check_embed() { # LABEL BINARY
	local label=$1 bin=$2 got
	if ! env -u LD_LIBRARY_PATH ldd "$bin" | grep -q "libsharecache.so.0 => $LIBDIR/"; then
		fail "$label: the rpath does not find libsharecache.so.0 in $LIBDIR:"
		env -u LD_LIBRARY_PATH ldd "$bin" | sed "s|$PREFIX|PREFIX|g"
		return
	fi
	got=$(env -u LD_LIBRARY_PATH "$bin" "$EMBED_IMAGE" "$EMBED_PATH" 2>"$TMP/embed.err" |
	      sha256sum | cut -d' ' -f1)
	if [ -z "$EMBED_WANT" ] || [ "$got" != "$EMBED_WANT" ]; then
		fail "$label: embed read sha256 $got, the kernel manifest says $EMBED_WANT:" \
		     "$(cat "$TMP/embed.err")"
	else
		echo "$label: embed runs from the prefix and reads $EMBED_PATH right"
	fi
}
mkdir -p "$TMP/embed-pc"
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
# shellcheck disable=SC2046
if cc -std=c11 -Wall -Wextra -Werror $SANFLAGS "$SRC/examples/embed/embed.c" -o "$TMP/embed-pc/embed" \
      $(pkg-config --cflags --libs erofs_share) \
      -Wl,-rpath,"$(pkg-config --variable=libdir erofs_share)" >"$TMP/embed-pc.log" 2>&1; then
	check_embed "README pkg-config + rpath" "$TMP/embed-pc/embed"
else
	cat "$TMP/embed-pc.log"
	fail "building examples/embed/embed.c with pkg-config as README.md says"
fi
unset PKG_CONFIG_PATH
if cmake -S "$SRC/examples/embed" -B "$TMP/embed-cm" -DCMAKE_PREFIX_PATH="$PREFIX" \
	 -DCMAKE_INSTALL_PREFIX="$TMP/embed-inst" -DCMAKE_C_FLAGS="$SANFLAGS" \
	 >"$TMP/embed-cm.log" 2>&1 &&
   cmake --build "$TMP/embed-cm" >>"$TMP/embed-cm.log" 2>&1 &&
   cmake --install "$TMP/embed-cm" >>"$TMP/embed-cm.log" 2>&1; then
	check_embed "README CMake (build tree)" "$TMP/embed-cm/embed"
	check_embed "README CMake (installed)" "$TMP/embed-inst/bin/embed"
else
	cat "$TMP/embed-cm.log"
	fail "building examples/embed with CMAKE_PREFIX_PATH as README.md says"
fi

if [ $FAILS -ne 0 ]; then
	echo "test_consumer: $FAILS failures"
	exit 1
fi
echo "test_consumer: ok"
