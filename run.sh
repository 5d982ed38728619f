#!/usr/bin/env bash
# The main job on a bundled default: installs what is needed, builds, and
# shows sharing at work: two bundled images of overlapping trees read in one
# domain, first with sharing off, then with VERIFY (or pass your own images).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
if [ $# -gt 0 ]; then
	images=("$@")
else
	images=(tests/fixtures/shared-a.erofs tests/fixtures/shared-b.erofs)
fi
echo "== ${images[0]}"
build/bin/erofs-share info "${images[0]}"
for policy in off verify; do
	echo
	echo "== every file of ${#images[@]} images in one domain, sharing policy: $policy"
	build/bin/erofs-share domain --policy "$policy" "${images[@]}"
done
