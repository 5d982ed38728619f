#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Memory of four container images of one base, each read whole, served by:
#   kernel      four kernel EROFS mounts (loop devices)
#   fuse        one erofs-share-fuse mount (--policy verify)
#   share_nodes the same with -o share_nodes
#   direct_io   the same with -o direct_io
# For each: the kernel's page cache of the mounted files (fincore, each
# inode once), of the image files and loop devices under them, and the
# daemon's RSS, against the page-rounded size of the distinct contents.
# Every mount is fresh, but caches are not dropped (the machine is shared):
# the image files may already be cached from an earlier run, and that cache
# is counted.  The kernel's own cache of compressed data (EROFS's managed
# cache) is not visible to fincore and is not counted.
#
#   bench/fuse-memory.sh BUILD_DIR [IMAGE_DIR]   (root; IMAGE_DIR from bench/mkrootfs.sh)
set -euo pipefail

build=${1:?build dir}
dir=${2:-/var/tmp/eshare-bench}
bin=$build/bin/erofs-share-fuse
[ "$(id -u)" = 0 ] || { echo "fuse-memory: needs root" >&2; exit 1; }
[ -x "$bin" ] || { echo "fuse-memory: no $bin" >&2; exit 1; }
[ -f "$dir/base-lz4.erofs" ] && [ -f "$dir/py-lz4.erofs" ] ||
	{ echo "fuse-memory: run bench/mkrootfs.sh first" >&2; exit 1; }

# Four images: base and py, and each built once more with another UUID
# (mkrootfs.sh's options otherwise), as separate builds on one base are.
for t in base py; do
	[ -f "$dir/$t-lz4-copy.erofs" ] ||
		mkfs.erofs -T1700000000 -U 0b1d6e2c-5a7f-4e3b-8c9d-2f4a6b8c0d1e -zlz4 \
			"$dir/$t-lz4-copy.erofs" "$dir/tree-$t" >/dev/null 2>&1
done
imgs=("$dir/base-lz4.erofs" "$dir/py-lz4.erofs" "$dir/base-lz4-copy.erofs" "$dir/py-lz4-copy.erofs")

tmp=$(mktemp -d /tmp/eshare-fuse-mem.XXXXXX)
cleanup() {
	for m in "$tmp"/m*; do
		mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || fusermount3 -u -z "$m"; }
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# Distinct contents, each rounded up to 4 KiB pages.
distinct=$(python3 - "$dir/tree-base" "$dir/tree-py" <<'PY'
import hashlib, os, sys
seen = {}
for top in sys.argv[1:]:
    for root, dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(root, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            h = hashlib.sha256(open(p, "rb").read()).hexdigest()
            seen[h] = os.path.getsize(p)
print(sum((s + 4095) // 4096 * 4096 for s in seen.values()))
PY
)

# Resident bytes of the regular files under $1, each inode once.
resident() {
	python3 - "$@" <<'PY'
import os, subprocess, sys
seen, paths = set(), []
for top in sys.argv[1:]:
    for root, dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(root, f)
            st = os.lstat(p)
            if not os.path.isfile(p) or os.path.islink(p) or (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            paths.append(p)
total = 0
for i in range(0, len(paths), 500):
    out = subprocess.run(["fincore", "-b", "-n", "-o", "RES"] + paths[i:i + 500],
                         capture_output=True, text=True).stdout
    total += sum(int(x) for x in out.split())
print(total)
PY
}
backing() {
	fincore -b -n -o RES "$@" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}
readall() {
	find "$@" -type f -print0 | xargs -0 -n 200 -P 4 cat >/dev/null
}
mib() {
	awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'
}

printf '| setup | read s | file cache MiB | image/loop cache MiB | daemon RSS MiB | total MiB | total / distinct |\n'
printf '|---|---|---|---|---|---|---|\n'
report() {
	local name=$1 secs=$2 files=$3 back=$4 rss=$5
	local total=$((files + back + rss))
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$secs" "$(mib "$files")" \
		"$(mib "$back")" "$(mib "$rss")" "$(mib "$total")" \
		"$(awk -v t="$total" -v d="$distinct" 'BEGIN { printf "%.2f", t / d }')"
}

# Four kernel mounts.
ms=() loops=()
for i in 0 1 2 3; do
	mkdir -p "$tmp/mk$i"
	mount -t erofs -o ro,loop "${imgs[i]}" "$tmp/mk$i"
	ms+=("$tmp/mk$i")
	loops+=("$(findmnt -n -o SOURCE --mountpoint "$tmp/mk$i")")
done
t0=$(date +%s.%N)
readall "${ms[@]}"
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
report "4 kernel mounts" "$secs" "$(resident "${ms[@]}")" "$(backing "${imgs[@]}" "${loops[@]}")" 0
for m in "${ms[@]}"; do umount "$m"; done

for variant in fuse share_nodes direct_io; do
	opts=()
	[ "$variant" != fuse ] && opts=(-o "$variant")
	m=$tmp/mf-$variant
	mkdir -p "$m"
	"$bin" -f "$m" "${opts[@]}" a="${imgs[0]}" b="${imgs[1]}" c="${imgs[2]}" d="${imgs[3]}" 2>"$tmp/log" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$m" && break
		sleep 0.1
	done
	t0=$(date +%s.%N)
	readall "$m/a" "$m/b" "$m/c" "$m/d"
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	rss=$(($(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status") * 1024))
	files=0
	[ "$variant" != direct_io ] && files=$(resident "$m")
	report "erofs-share-fuse${opts[*]:+ ${opts[*]}}" "$secs" "$files" "$(backing "${imgs[@]}")" "$rss"
	fusermount3 -u "$m"
	wait "$pid"
done
echo
echo "distinct contents, page-rounded: $(mib "$distinct") MiB; images: $(du -cb "${imgs[@]}" | tail -1 | cut -f1 | xargs -I{} awk -v b={} 'BEGIN { printf "%.1f", b / 1048576 }') MiB"
