#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh BUILD_DIR SECONDS: build the libFuzzer target fuzz_image in
# BUILD_DIR (a clang build of its own, configured here when needed) and fuzz
# for SECONDS with the fixture images and the kept regression inputs as the
# seed corpus (copied to a temporary directory), plus small images made
# with mkfs.erofs when it is installed.  Fails on any crash, leak, hang
# (60 s per input), out-of-memory (2 GiB) or API promise broken (see
# fuzz_image.c); the offending inputs are kept in BUILD_DIR/fuzz-artifacts.
set -euo pipefail

BUILD=${1:?usage: run.sh BUILD_DIR SECONDS}
SECS=${2:?usage: run.sh BUILD_DIR SECONDS}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
if ! grep -qs '^ESHARE_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt" ||
   ! grep -qs '^CMAKE_C_COMPILER:[A-Z]*=.*clang' "$BUILD/CMakeCache.txt"; then
	echo "run.sh: configuring a clang build in $BUILD"
	if ! CC=clang cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DESHARE_FUZZ=ON \
		-DESHARE_SANITIZE=OFF -DESHARE_TSAN=OFF -DESHARE_WITH_FUSE=OFF \
		>"$BUILD/fuzz-configure.log" 2>&1; then
		cat "$BUILD/fuzz-configure.log"
		echo "run.sh: configuring failed" >&2
		exit 1
	fi
fi
# under a make job server (test.sh), take its share of the cores
par=-j2
[[ ${MAKEFLAGS:-} == *jobserver* ]] && par=
cmake --build "$BUILD" --target fuzz_image $par
FUZZER=$BUILD/bin/fuzz_image
[ -x "$FUZZER" ] || { echo "run.sh: $FUZZER was not built" >&2; exit 1; }
# SECONDS 0: build only (test.sh builds it while the other builds compile)
[ "$SECS" = 0 ] && exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/eshare-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
: >"$work/fuzz.log"
cp "$SRC"/tests/fixtures/*.erofs "$work/corpus/"
for f in "$SRC"/tests/fuzz/regressions/*; do
	[ -f "$f" ] && case "$f" in *.md) ;; *) cp "$f" "$work/corpus/" ;; esac
done

# The fixtures hold 5268 entries each, so a run reads about ten of them a
# second.  Small images of a few files fuzz hundreds of times faster: when
# mkfs.erofs is at hand, add some (its own version's features, e.g. the
# legacy LZ4 layout without 0padding that no fixture has).
if command -v mkfs.erofs >/dev/null 2>&1; then
	t=$work/tree
	mkdir -p "$t/d/sub" "$t/e"
	python3 -c 'import random,sys
r = random.Random(1)
open(sys.argv[1] + "/rand-5000", "wb").write(bytes(r.getrandbits(8) for _ in range(5000)))
text = "".join("EROFS text line %d for the compressors\n" % i for i in range(2000))
open(sys.argv[1] + "/text-70000", "w").write(text[:70000])' "$t"
	printf 'hello\n' >"$t/small"
	: >"$t/empty"
	for i in $(seq 1 24); do printf '%s' "$i" >"$t/d/f-$i"; done
	ln -s small "$t/link"
	ln -s "$(printf 'x%.0s' $(seq 1 300))" "$t/d/longlink"
	ln "$t/small" "$t/d/hard"
	mkfifo "$t/e/fifo" 2>/dev/null || true
	python3 -c 'import os,sys
for n,v in (("user.a",b"1"),("user.bb",b"x"*100),("trusted.t",b"")):
    try: os.setxattr(sys.argv[1], n, v)
    except OSError: pass' "$t/small" 2>/dev/null || true
	n=0
	for opts in "" "-zlz4" "-zlz4hc -C65536" "-zlz4hc -Eztailpacking" "-zlz4 -Elegacy-compress" \
		    "--chunksize=4096" "-x1 -Eforce-inode-extended" "-zlz4 -Eforce-inode-compact"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		mkfs.erofs --quiet -T0 -U 6d9c1c2e-0000-4000-8000-000000000000 $opts \
			"$work/corpus/small-$n.erofs" "$t" >/dev/null 2>&1 ||
			rm -f "$work/corpus/small-$n.erofs"
	done
	rm -rf "$t"
fi

# Two thirds of the time on the small seeds alone (fast runs, deep
# mutation), the rest on everything, the fixtures included (every feature).
fuzz() { # fuzz SECONDS CORPUS_DIR...
	local secs=$1 rc start
	shift
	start=$(wc -l <"$work/fuzz.log")
	set +e
	# libFuzzer's own failure code is 77, CTest's "skipped": use 1.
	"$FUZZER" "$@" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=4194304 \
		-timeout=60 -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/" >>"$work/fuzz.log" 2>&1
	rc=$?
	set -e
	tail -n +$((start + 1)) "$work/fuzz.log" |
		grep -a '^stat::\|^Done\|ERROR\|SUMMARY\|^fuzz_image:' | tail -n 12 || true
	return $rc
}
rc=0
small=$(ls "$work/corpus" | grep -c '^small-' || true)
echo "run.sh: fuzzing for $SECS s with $(ls "$work/corpus" | wc -l) seeds ($small small)"
if [ "$small" -gt 0 ] && [ "$SECS" -ge 3 ]; then
	mkdir -p "$work/small"
	mv "$work"/corpus/small-* "$work/small/"
	fuzz $((SECS * 2 / 3)) "$work/small" || rc=$?
	[ "$rc" -eq 0 ] && { fuzz $((SECS - SECS * 2 / 3)) "$work/corpus" "$work/small" || rc=$?; }
else
	fuzz "$SECS" "$work/corpus" || rc=$?
fi

# A slow unit (libFuzzer saves inputs over 10 s) is reported, not failed:
# a loaded machine makes some; crashes, leaks, timeouts and OOMs fail.
found=$(ls "$work/artifacts")
slow=$(ls "$work/artifacts" | grep '^slow-unit-' || true)
bad=$(ls "$work/artifacts" | grep -v '^slow-unit-' || true)
if [ -n "$found" ]; then
	mkdir -p "$BUILD/fuzz-artifacts"
	cp "$work"/artifacts/* "$BUILD/fuzz-artifacts/"
	cp "$work/fuzz.log" "$BUILD/fuzz-artifacts/fuzz-$(date +%s).log"
fi
if [ -n "$slow" ]; then
	echo "run.sh: slow inputs (over 10 s) kept in $BUILD/fuzz-artifacts: $slow"
fi
if [ -n "$bad" ]; then
	grep -a -A60 '^==[0-9]*==ERROR\|^fuzz_image:\|runtime error' "$work/fuzz.log" | head -n 120 || true
	echo "run.sh: FAILED: inputs kept in $BUILD/fuzz-artifacts: $bad" >&2
	exit 1
fi
if [ "$rc" -ne 0 ]; then
	tail -n 60 "$work/fuzz.log" || true
	echo "run.sh: FAILED: the fuzzer exited with $rc" >&2
	exit 1
fi
echo "run.sh: no crash in $SECS s"
