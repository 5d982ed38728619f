#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is needed,
# builds twice (release, and ASan+UBSan), runs every test in both, and the
# threaded tests once more under TSan.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/deps.sh
jobs=$(nproc)
run_suite() { # build-dir label cmake-args...
	local dir=$1 label=$2; shift 2
	echo "=== $label: configure and build ($dir)"
	cmake -S . -B "$dir" "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
}
# -O3 (Release) for the main run: it also catches warnings only -O3 shows
run_suite build "release" -DCMAKE_BUILD_TYPE=Release
run_suite build-asan "ASan+UBSan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESHARE_SANITIZE=ON
run_suite build-tsan "TSan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESHARE_TSAN=ON
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
status=0
echo "=== release tests"
(cd build && ctest --output-on-failure -j"$jobs") || status=1
echo "=== ASan+UBSan tests"
(cd build-asan && ctest --output-on-failure -j"$jobs" -E 'test_fuzz|test_consumer|test_headers|test_symbols') || status=1
echo "=== TSan tests (threaded)"
(cd build-tsan && ctest --output-on-failure -R 'pagecache|thread|stress|domain|blockdev|loop|faults') || status=1
exit $status
