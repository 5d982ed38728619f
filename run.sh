#!/usr/bin/env bash
# The main job on a bundled default: installs what is needed, builds, and
# shows what erofs-share reads from a bundled image.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
img=${1:-tests/fixtures/lz4.erofs}
set -x
build/bin/erofs-share info "$img"
build/bin/erofs-share ls -l "$img" /bound
build/bin/erofs-share cat "$img" /files/tiny-text-00.txt 2>/dev/null | head -c 300 || true
