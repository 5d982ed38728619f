#!/usr/bin/env bash
# The main job on a bundled default: installs what is needed, builds, and
# shows what page-cache sharing saves: erofs-share-sim runs containers over
# six bundled images with sharing off and on, prints the table and writes a
# chart (or pass your own images).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/deps.sh
# build-run/, not test.sh's build/: one never rebuilds the other's files
B=build-run
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESHARE_TESTS=OFF >/dev/null
cmake --build "$B" -j"$(nproc)" >/dev/null
if [ $# -gt 0 ]; then
	images=("$@")
else
	# Two versions of one tree (fingerprinted, LZ4HC), and one other tree in
	# four encodings: LZ4 and uncompressed with fingerprints, LZ4 and Zstd
	# without.
	f=tests/fixtures
	images=("$f/shared-a.erofs" "$f/shared-b.erofs" "$f/digest-lz4.erofs"
		"$f/digest-plain.erofs" "$f/lz4.erofs" "$f/zstd.erofs")
fi
out=$B/sim-demo
mkdir -p "$out"
cat <<EOF
Page-cache sharing: container images built on common layers hold many identical
files.  Without sharing, a host caches a copy of such a file for every image that
holds it; with sharing, one copy serves them all.  erofs-share-sim measures it:
two containers per image read every file of ${#images[@]} images through libsharecache,
with sharing off, then on (policy compute: identical files found by hashing),
under page-cache budgets of 2 MiB, 4 MiB and unlimited.

EOF
"$B"/bin/erofs-share-sim --replicas 2 --threads 2 --budget 2M,4M,unlimited \
	--policy off,compute --json "$out/sharing.json" --csv "$out/sharing.csv" \
	--chart "$out/sharing" "${images[@]}"
echo
echo "Open $(pwd)/$out/sharing.png (or .svg): cache memory over time with and"
echo "without sharing, and peak memory against the budget."
