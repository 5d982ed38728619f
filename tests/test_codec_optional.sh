#!/usr/bin/env bash
# Each codec is optional at build time: a build without LZMA, DEFLATE and
# Zstd still reads LZ4 and plain images, and refuses the others with
# -EOPNOTSUPP and a message naming the algorithm.
set -euo pipefail
build=$1 src=$2
dir=$build/nocodec
fix=$src/tests/fixtures
cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DESHARE_TESTS=OFF \
	-DESHARE_WITH_LZMA=OFF -DESHARE_WITH_DEFLATE=OFF -DESHARE_WITH_ZSTD=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)" --target erofs-share >/dev/null
cli=$dir/bin/erofs-share
pass=0 fail=0
check() { # description, command...
	local what=$1; shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $what"; fi
}
expect_sha() { # image path
	local want got
	want=$(awk -F'\t' -v p="$2" '$1 == p {print $12}' "$fix/$1.erofs.manifest")
	got=$("$cli" cat "$fix/$1.erofs" "$2" | sha256sum | cut -d' ' -f1)
	[ -n "$want" ] && [ "$want" = "$got" ]
}
expect_refusal() { # image algorithm
	local err
	if err=$("$cli" cat "$fix/$1.erofs" /big/text-0.bin 2>&1 >/dev/null); then
		return 1
	fi
	grep -q "compression algorithm $2 is not built in" <<<"$err" &&
		grep -q "unsupported EROFS feature or compression algorithm" <<<"$err"
}
check "lz4 reads" expect_sha lz4 /big/text-0.bin
check "plain reads" expect_sha plain-4k /big/text-0.bin
check "lzma refused" expect_refusal lzma lzma
check "deflate refused" expect_refusal deflate deflate
check "zstd refused" expect_refusal zstd zstd
# metadata of an image whose files cannot be decoded is still readable
check "zstd image lists" eval "\"$cli\" ls \"$fix/zstd.erofs\" /big >/dev/null"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
