#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is needed,
# builds three times at once (release -O3, ASan+UBSan, TSan) and runs each
# build's tests: every test in full in the release build, a sample of the
# long ones under ASan+UBSan, the threaded tests (a sample) under TSan.
# About 7 minutes on a quiet 2-core machine (README.md, "Tests").
#
#   ESHARE_TEST_FULL=1 ./test.sh   every case in every build (much longer)
#   ESHARE_BUILD_DIR=DIR ./test.sh build in DIR, DIR-asan, DIR-tsan (default: build)
#
# ./run.sh builds in build-run, so the two never rebuild each other's files.
# The last line is the summary of all three runs, in ctest's words.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/deps.sh
jobs=$(nproc)
base=${ESHARE_BUILD_DIR:-build}
rel=$base asan=$base-asan tsan=$base-tsan
t0=$(date +%s)
elapsed() { local s=$(($(date +%s) - t0)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
if [ "${ESHARE_TEST_FULL:-0}" != 0 ]; then
	export ESHARE_TEST_FULL=1
	echo "=== ESHARE_TEST_FULL=1: every case in every build"
fi

echo "=== configure: $rel (release -O3), $asan (ASan+UBSan), $tsan (TSan)"
cmake -S . -B "$rel" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESHARE_SANITIZE=ON >/dev/null
cmake -S . -B "$tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESHARE_TSAN=ON >/dev/null

# One make job server shares the cores among the builds.  The release build
# builds everything (-O3 shows warnings the others do not); the sanitizer
# builds only what their tests run.  The clang build of the fuzz target and
# the build without optional codecs, which two release tests make for
# themselves, are made here too, so the test phase only runs.
echo "=== build the three at once on $jobs cores (logs: DIR/test-build.log)"
build() { # dir cmake --build arguments...
	local dir=$1; shift
	if cmake --build "$dir" "$@" >"$dir/test-build.log" 2>&1; then
		echo "    built $dir ($(elapsed))"
	else
		tail -n 40 "$dir/test-build.log"
		echo "=== build of $dir FAILED (see $dir/test-build.log)"
		return 1
	fi
}
export -f build elapsed
export t0
make -s -k -j"$jobs" -f - <<EOF || exit 1
SHELL := /bin/bash
all: rel asan tsan fuzz nocodec
rel: ; +@build "$rel"
asan: ; +@build "$asan" --target eshare_test_targets
tsan: ; +@build "$tsan" --target eshare_test_targets
fuzz: ; +@bash tests/fuzz/run.sh "$rel/fuzz-build" 0 >/dev/null 2>&1 || true
nocodec: ; +@cmake -S . -B "$rel/nocodec" -DCMAKE_BUILD_TYPE=Release -DESHARE_TESTS=OFF -DESHARE_WITH_LZMA=OFF -DESHARE_WITH_DEFLATE=OFF -DESHARE_WITH_ZSTD=OFF >/dev/null 2>&1 && cmake --build "$rel/nocodec" --target erofs-share >/dev/null 2>&1 || true
EOF

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
status=0 summary=() passed=0 total=0
suite() { # dir label ctest-arguments...
	local dir=$1 label=$2 log rc=0 line
	shift 2
	log=$dir/test-ctest.log
	echo
	echo "=== $label tests ($dir), $(elapsed) so far"
	(cd "$dir" && ctest --output-on-failure -j"$jobs" "$@") 2>&1 | tee "$log" || rc=1
	line=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1)
	if [[ $line =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
		passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
		total=$((total + BASH_REMATCH[2]))
	else
		rc=1
	fi
	summary+=("$label: ${line:-no result}")
	[ $rc -eq 0 ] || status=1
}
suite "$rel" "release"
# the build and package checks give nothing new under a sanitizer
suite "$asan" "ASan+UBSan" -LE build
suite "$tsan" "TSan threaded" -L threads -LE build

echo
echo "=== done in $(elapsed):"
printf '    %s\n' "${summary[@]}"
[ $status -eq 0 ] || echo "=== FAILED: see the output above and DIR/test-ctest.log"
failed=$((total - passed))
echo "$((total ? passed * 100 / total : 0))% tests passed, $failed tests failed out of $total"
exit $status
