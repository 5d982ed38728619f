#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Header hygiene: every public header (include/erofs_share/*.h, sys/*.h and
# the generated version.h) must compile alone, first in its translation unit,
# as strict C99 and as C++, and twice in a row (include guards).  Headers
# that declare functions must carry extern "C" guards, include no system
# header but <stddef.h>, <stdint.h> and <sys/types.h>, and define no
# static inline function.
#
# Usage: test_headers.sh BUILD_DIR SOURCE_DIR
set -u

BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
FAILS=0
CHECKS=0

fail() {
	echo "FAIL: $*"
	FAILS=$((FAILS + 1))
}

for tool in gcc g++; do
	if ! command -v $tool >/dev/null; then
		echo "FAIL: $tool is not installed"
		exit 1
	fi
done
if [ ! -f "$BUILD/include/erofs_share/version.h" ]; then
	echo "FAIL: $BUILD/include/erofs_share/version.h was not generated (run cmake first)"
	exit 1
fi

TMP=$(mktemp -d /tmp/eshare-headers.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# The installed layout: one include dir holding erofs_share/*.h.
INC=$TMP/include
mkdir -p "$INC/erofs_share"
cp "$SRC"/include/erofs_share/*.h "$BUILD/include/erofs_share/version.h" "$INC/erofs_share/"
mkdir -p "$INC/erofs_share/sys"
cp "$SRC"/include/erofs_share/sys/*.h "$INC/erofs_share/sys/"

HEADERS=$(cd "$INC/erofs_share" && ls *.h sys/*.h)
[ -n "$HEADERS" ] || { echo "FAIL: no headers"; exit 1; }

compile() { # LABEL COMPILER ARGS... (source on stdin)
	local label=$1
	shift
	CHECKS=$((CHECKS + 1))
	if ! "$@" -I"$INC" -fsyntax-only - >"$TMP/log" 2>&1; then
		fail "$label"
		sed 's/^/    /' "$TMP/log"
	fi
}

for h in $HEADERS; do
	# The typedef keeps a macro-only header from being an empty (and so
	# non-ISO) translation unit.
	src="#include <erofs_share/$h>
#include <erofs_share/$h>
typedef int eshare_header_test_t;
"
	# Strict C: the oldest standard we promise, pedantic, every warning.
	for std in c99 c11 gnu17; do
		compile "$h alone as C ($std)" gcc -x c -std=$std -pedantic -Wall -Wextra \
			-Werror -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
			-Wredundant-decls -Wundef <<<"$src"
	done
	compile "$h alone as C++ (g++ -x c++)" g++ -x c++ -Wall -Werror <<<"$src"
	for std in c++11 c++17; do
		compile "$h alone as C++ ($std)" g++ -x c++ -std=$std -pedantic -Wall -Wextra \
			-Werror -Wundef <<<"$src"
	done
	# C and C++ must see the same declarations: a C++ file that calls a
	# declared function through a pointer of the C type would catch a
	# mismatch only at link time, so check linkage here: every function
	# must have C linkage when compiled as C++.
	f="$INC/erofs_share/$h"
	if grep -qE '^ESHARE_API' "$f" || grep -qE '^[a-z].*\(' "$f"; then
		if ! grep -q 'extern "C"' "$f"; then
			fail "$h declares functions but has no extern \"C\" guard"
		fi
	fi
	CHECKS=$((CHECKS + 1))
	bad=$(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' "$f" |
	      grep -vE '<(stddef|stdint|sys/types|erofs_share/[a-z_]+)\.h>')
	[ -z "$bad" ] ||
		fail "$h includes system headers other than stddef/stdint/sys/types/erofs_share: $bad"
	CHECKS=$((CHECKS + 1))
	if grep -nE 'static[[:space:]]+(__)?inline|inline[[:space:]]+static' "$f"; then
		fail "$h defines a static inline function"
	fi
	CHECKS=$((CHECKS + 1))
	# The include guard must be there (a second inclusion above would
	# have failed on a redefinition otherwise, but typedef redefinition
	# is legal in C11, so check it explicitly).
	guard=$(sed -n 's/^#ifndef \(ESHARE_[A-Z_]*_H\)$/\1/p' "$f" | head -n1)
	if [ -z "$guard" ] || ! grep -q "^#define $guard\$" "$f"; then
		fail "$h has no #ifndef ESHARE_..._H include guard"
	fi
done

# With C++ linkage every declared function must come out unmangled: compile
# a C++ file that takes the address of each ESHARE_API function and check
# the object's undefined symbols.
FUNCS=$(python3 - "$INC"/erofs_share/*.h "$INC"/erofs_share/sys/*.h <<'EOP'
import re, sys
for path in sys.argv[1:]:
    text = open(path).read()
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = '\n'.join(l for l in text.split('\n') if not l.lstrip().startswith('#'))
    for m in re.finditer(r'\bESHARE_API\b([^;{(]*?)\b([A-Za-z_]\w*)\s*\(', text):
        print(m.group(2))
EOP
)
FUNCS=$(sort -u <<<"$FUNCS")
if [ -z "$FUNCS" ]; then
	fail "no ESHARE_API function found in the headers"
else
	{
		echo '#include <erofs_share/erofs_share.h>'
		echo '#include <erofs_share/sys/backend.h>'
		echo 'extern void *const eshare_fns[];'
		echo 'void *const eshare_fns[] = {'
		for fn in $FUNCS; do
			echo "	reinterpret_cast<void *>(&$fn),"
		done
		echo '};'
	} >"$TMP/addr.cc"
	CHECKS=$((CHECKS + 1))
	if g++ -x c++ -Wall -Werror -I"$INC" -c "$TMP/addr.cc" -o "$TMP/addr.o" >"$TMP/log" 2>&1; then
		mangled=$(nm -u "$TMP/addr.o" | awk '{print $2}' | grep '^_Z' || true)
		[ -z "$mangled" ] || fail "functions with C++ linkage: $mangled"
		missing=$(comm -23 <(tr ' ' '\n' <<<"$FUNCS" | sort -u) \
			<(nm -u "$TMP/addr.o" | awk '{print $2}' | sort -u))
		[ -z "$missing" ] || fail "not referenced unmangled: $missing"
	else
		fail "taking the address of every ESHARE_API function in C++"
		sed 's/^/    /' "$TMP/log"
	fi
fi

# The _INIT macros must be usable from C99 (they are what callers use).
CHECKS=$((CHECKS + 1))
cat >"$TMP/init.c" <<'EOC'
#include <erofs_share/erofs_share.h>
int eshare_header_test(void);
int eshare_header_test(void)
{
	struct eshare_domain_opts d = ESHARE_DOMAIN_OPTS_INIT;
	struct eshare_image_opts i = ESHARE_IMAGE_OPTS_INIT;
	struct eshare_stats s = ESHARE_STATS_INIT;
	struct eshare_stat st = ESHARE_STAT_INIT;
	struct eshare_image_info in = ESHARE_IMAGE_INFO_INIT;
	struct eshare_blockdev_opts b = ESHARE_BLOCKDEV_OPTS_INIT;

	return (int)(d.size + i.size + s.size + st.size + in.size + b.size) +
	       ESHARE_VERSION_AT_LEAST(0, 0, 0);
}
EOC
if ! gcc -std=c99 -pedantic -Wall -Wextra -Werror -I"$INC" -c "$TMP/init.c" -o "$TMP/init.o" \
	>"$TMP/log" 2>&1; then
	fail "the ESHARE_*_INIT macros in C99"
	sed 's/^/    /' "$TMP/log"
fi

echo "test_headers: $(wc -w <<<"$HEADERS") headers ($(tr '\n' ' ' <<<"$HEADERS")), \
$(wc -w <<<"$FUNCS") ESHARE_API functions, $CHECKS checks, $FAILS failures"
[ $FAILS -eq 0 ]
