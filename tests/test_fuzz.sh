#!/bin/bash
# SPDX-License-Identifier: MIT
# test_fuzz.sh BUILD_DIR SRC_DIR: fuzz the whole reader for 30 seconds
# (tests/fuzz/run.sh) in a clang build kept in BUILD_DIR/fuzz-build; 300
# seconds with ESHARE_TEST_FULL=1, or ESHARE_FUZZ_SECONDS=N.
# Skipped (77) when clang or its libFuzzer runtime is missing.
set -u
BUILD=${1:?usage: test_fuzz.sh BUILD_DIR SRC_DIR}
SRC=${2:?usage: test_fuzz.sh BUILD_DIR SRC_DIR}

if ! command -v clang >/dev/null 2>&1; then
	echo "SKIP: clang is not installed"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/eshare-fuzzprobe.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/probe.c" <<'PROBE'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return data && size > 1 ? 0 : 0;
}
PROBE
if ! clang -fsanitize=fuzzer,address,undefined "$tmp/probe.c" -o "$tmp/probe" 2>"$tmp/err"; then
	echo "SKIP: clang cannot link a libFuzzer target (libclang-rt-dev missing?):"
	cat "$tmp/err"
	exit 77
fi
# Run from a fuzz build itself, fuzz there rather than nest another one.
if grep -qs '^ESHARE_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt"; then
	FUZZ_BUILD=$BUILD
else
	FUZZ_BUILD=$BUILD/fuzz-build
fi
secs=30
[ "${ESHARE_TEST_FULL:-0}" != 0 ] && secs=300
secs=${ESHARE_FUZZ_SECONDS:-$secs}
exec bash "$SRC/tests/fuzz/run.sh" "$FUZZ_BUILD" "$secs"
