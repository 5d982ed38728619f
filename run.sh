#!/usr/bin/env bash
# The main job on a bundled default: installs what is needed, builds, and
# shows sharing at work: two bundled images of overlapping trees read in one
# domain, first with sharing off, then with VERIFY (or pass your own images).
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
	images=(tests/fixtures/shared-a.erofs tests/fixtures/shared-b.erofs)
fi
echo "== ${images[0]}"
"$B"/bin/erofs-share info "${images[0]}"
for policy in off verify; do
	echo
	echo "== every file of ${#images[@]} images in one domain, sharing policy: $policy"
	"$B"/bin/erofs-share domain --policy "$policy" "${images[@]}"
done
