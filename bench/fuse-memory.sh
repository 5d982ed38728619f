#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Memory of four container images of one base (minbase, +python3, +perl,
# +nginx-light and curl: bench/mkimages-sim.sh), each read whole by its own
# reader (bench's read_all -m dir -t 2, four at once), served by:
#   (a) kernel       four kernel EROFS mounts (loop devices)
#   (b) fuse         one erofs-share-fuse mount, --policy verify, defaults
#   (c) share_nodes  the same with -o share_nodes --cache-size $SN_CACHE (4M:
#                    the kernel holds the data; the library's cache only
#                    stages fills and hashing)
#   (d) direct_io    the same with -o direct_io (the default 256 MiB cache)
#   (e) direct_io    with --cache-size $DIO_CACHE (default: 1.05 x the
#                    distinct contents: the library's cache holds them all)
# For each: the kernel's page cache of the mounted files (fincore; each
# inode once: per image directory without share_nodes, where two images
# show the same inode numbers), the page cache of the image files (and loop
# devices) under them, and the daemon's RSS, against the distinct contents'
# page-rounded size: every regular file of the four source trees hashed
# (sha256) here, each distinct content rounded up to 4 KiB, which must
# equal the library's unique_page_bytes (`erofs-share domain`).
# Before each setup the image files' pages are dropped (posix_fadvise on
# those files only; the machine is shared, so no global drop_caches), and
# every mount is fresh.  The kernel's own cache of compressed data is not
# visible to fincore and not counted.
#
# Then where each daemon's resident memory is: from /proc/PID/smaps and
# its `ctl stats` (malloc's heap, the library's cache).
#
#   [BACKEND=loop-direct] [VARIANTS="fuse share_nodes direct_io direct_io_all"]
#   [DAEMON_OPTS="--threads N"] bench/fuse-memory.sh BUILD_DIR [IMAGE_DIR]
# (root; IMAGE_DIR defaults to /var/tmp/eshare-sim, with NAME.erofs and
# tree-NAME for each image; BACKEND is the daemon's --backend, default file:
# loop-direct reads the images with O_DIRECT, so they are not cached;
# VARIANTS picks the daemon's setups, (a) always runs; DAEMON_OPTS go to
# every daemon; the load average is printed with each setup)
set -euo pipefail

build=${1:?build dir}
dir=${2:-/var/tmp/eshare-sim}
bin=$build/bin/erofs-share-fuse
reader=$build/bin/read_all
cli=$build/bin/erofs-share
names=(minbase python3 perl nginx)
[ "$(id -u)" = 0 ] || { echo "fuse-memory: needs root" >&2; exit 1; }
for x in "$bin" "$reader" "$cli"; do
	[ -x "$x" ] || { echo "fuse-memory: no $x" >&2; exit 1; }
done
imgs=()
for n in "${names[@]}"; do
	[ -f "$dir/$n.erofs" ] && [ -d "$dir/tree-$n" ] ||
		{ echo "fuse-memory: no $dir/$n.erofs or tree-$n (bench/mkimages-sim.sh)" >&2; exit 1; }
	imgs+=("$dir/$n.erofs")
done
SN_CACHE=${SN_CACHE:-4M}
BACKEND=${BACKEND:-file}

tmp=$(mktemp -d /tmp/eshare-fuse-mem.XXXXXX)
cleanup() {
	for m in "$tmp"/m*; do
		mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || fusermount3 -u -z "$m"; }
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

# Distinct contents, each rounded up to 4 KiB pages, from the source trees.
distinct=$(python3 - "${names[@]/#/$dir/tree-}" <<'PY'
import hashlib, os, sys
seen = {}
for top in sys.argv[1:]:
    for root, dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(root, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for b in iter(lambda: fh.read(1 << 20), b""):
                    h.update(b)
            seen[h.hexdigest()] = os.path.getsize(p)
print(sum((s + 4095) // 4096 * 4096 for s in seen.values()))
PY
)
unique=$("$cli" domain --json "${imgs[@]}" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["unique_page_bytes"])')
[ "$unique" = "$distinct" ] ||
	echo "fuse-memory: warning: the library's unique_page_bytes $unique != $distinct from the trees" >&2
# the direct_io daemon's cache holds the distinct contents and its metadata
DIO_CACHE=${DIO_CACHE:-$(((distinct * 21 / 20 + 1048575) / 1048576))M}

# Resident bytes of the regular files under each directory; MODE "image":
# each (directory, inode) once, "dev": each (st_dev, inode) once.
resident() {
	python3 - "$@" <<'PY'
import os, subprocess, sys
mode, tops = sys.argv[1], sys.argv[2:]
seen, paths = set(), []
for top in tops:
    for root, dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(root, f)
            st = os.lstat(p)
            if not os.path.isfile(p) or os.path.islink(p):
                continue
            key = (top if mode == "image" else st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
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
dropimages() {
	python3 -c '
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)' "${imgs[@]}"
}
# readall DIR...: one reader per directory, all at once; prints seconds
readall() {
	local t0 d pids=()
	t0=$(date +%s.%N)
	for d in "$@"; do
		"$reader" -m dir -t 2 "$d" >/dev/null &
		pids+=($!)
	done
	for d in "${pids[@]}"; do
		wait "$d"
	done
	awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}
mib() {
	awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'
}

# breakdown KEY PID SOCKET: where the daemon's resident memory is, from
# /proc/PID/smaps (the program and libraries; thread stacks: 8 MiB mappings
# the kernel keeps off huge pages; malloc's arenas: [heap] and the 64 MiB
# aligned heaps of the others; the library's page pool: the mappings
# advised for huge pages; the rest of the anonymous memory: malloc's large
# blocks, mapped one by one, and the pool's first small chunks) and from
# the daemon's own counters (ctl stats: what the library's cache holds)
breakdown() {
	local stats
	stats=$("$bin" ctl "$3" stats --json)
	mem[$1]=$(python3 - "$2" "$stats" <<'PY'
import json, sys
pid, st = sys.argv[1], json.loads(sys.argv[2])["memory"]
kinds = dict.fromkeys(("file", "stack", "arena", "pool", "anon"), 0)
maps = []
with open(f"/proc/{pid}/smaps") as f:
    for line in f:
        w = line.split()
        if "-" in w[0] and not w[0].endswith(":"):
            lo, hi = (int(x, 16) for x in w[0].split("-"))
            maps.append({"lo": lo, "size": hi - lo, "path": w[5] if len(w) > 5 else "", "rss": 0})
        elif w[0] == "Rss:":
            maps[-1]["rss"] = int(w[1]) * 1024
        elif w[0] == "VmFlags:":
            maps[-1]["flags"] = w[1:]
for m in maps:
    if m["path"].startswith("/"):
        k = "file"
    elif m["path"] == "[heap]" or (m["path"] == "" and m["lo"] % (64 << 20) == 0 and m["size"] <= 64 << 20):
        k = "arena"
    elif m["path"] == "" and "nh" in m["flags"] and m["size"] == 8 << 20:
        k = "stack"
    elif m["path"] == "" and "hg" in m["flags"]:
        k = "pool"
    else:
        k = "anon"
    kinds[k] += m["rss"]
f = lambda b: f"{b / 1048576:.1f}"
print("|".join([f(st["rss_bytes"]), str(st["threads"]), f(kinds["arena"]),
                f(st["heap_in_use_bytes"] - st["heap_mmap_bytes"]), f(st["heap_mmap_bytes"]),
                f(kinds["anon"]), f(kinds["pool"]), f(st["cache_bytes"]), f(kinds["stack"]),
                f(kinds["file"])]))
PY
)
}

declare -A row mem load
report() {
	local key=$1 name=$2 secs=$3 files=$4 back=$5 rss=$6
	row[$key]="$name|$secs|$files|$back|$rss"
}

# (a) four kernel mounts
dropimages
ms=() loops=()
for i in 0 1 2 3; do
	mkdir -p "$tmp/mk$i"
	mount -t erofs -o ro,loop "${imgs[i]}" "$tmp/mk$i"
	ms+=("$tmp/mk$i")
	loops+=("$(findmnt -n -o SOURCE --mountpoint "$tmp/mk$i")")
done
secs=$(readall "${ms[@]}")
load[a]=$(cut -d' ' -f1-3 /proc/loadavg)
report a "(a) 4 kernel mounts" "$secs" "$(resident image "${ms[@]}")" \
	"$(backing "${imgs[@]}" "${loops[@]}")" 0
for m in "${ms[@]}"; do umount "$m"; done

for variant in ${VARIANTS:-fuse share_nodes direct_io direct_io_all}; do
	case $variant in
	fuse) key=b opts=() ;;
	share_nodes) key=c opts=(-o share_nodes --cache-size "$SN_CACHE") ;;
	direct_io) key=d opts=(-o direct_io) ;;
	direct_io_all) key=e opts=(-o direct_io --cache-size "$DIO_CACHE") ;;
	esac
	dropimages
	m=$tmp/mf-$variant
	mkdir -p "$m"
	"$bin" -f "$m" --policy verify --backend "$BACKEND" --control "$m.ctl" "${opts[@]}" \
		${DAEMON_OPTS:-} "${names[0]}=${imgs[0]}" \
		"${names[1]}=${imgs[1]}" "${names[2]}=${imgs[2]}" "${names[3]}=${imgs[3]}" \
		2>"$tmp/log" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		mountpoint -q "$m" && break
		sleep 0.1
	done
	secs=$(readall "${names[@]/#/$m/}")
	rss=$(($(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status") * 1024))
	breakdown "$key" "$pid" "$m.ctl"
	files=0
	if [ "$variant" = share_nodes ]; then
		files=$(resident dev "$m")
	elif [ "$variant" = fuse ]; then
		files=$(resident image "${names[@]/#/$m/}")
	fi
	load[$key]=$(cut -d' ' -f1-3 /proc/loadavg)
	report $key "(${key}) erofs-share-fuse${opts[*]:+ ${opts[*]}}${DAEMON_OPTS:+ $DAEMON_OPTS}" "$secs" "$files" \
		"$(backing "${imgs[@]}")" "$rss"
	fusermount3 -u "$m"
	wait "$pid"
done

echo "daemon backend: $BACKEND"
echo "distinct contents, page-rounded: $(mib "$distinct") MiB ($distinct bytes; library's" \
	"unique_page_bytes $unique); images $(du -cb "${imgs[@]}" | tail -1 | cut -f1 |
	xargs -I{} awk -v b={} 'BEGIN { printf "%.1f", b / 1048576 }') MiB"
echo
printf '| setup | load | read s | file cache MiB | daemon RSS MiB | cache + RSS MiB | / distinct | / (a) | image cache MiB | all MiB | all / distinct | all / (a) |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|\n'
IFS='|' read -r _ _ af ab ar <<<"${row[a]}"
for key in a b c d e; do
	[ -n "${row[$key]:-}" ] || continue
	IFS='|' read -r name secs files back rss <<<"${row[$key]}"
	mem=$((files + rss))
	all=$((mem + back))
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "${load[$key]}" "$secs" \
		"$(mib "$files")" "$(mib "$rss")" "$(mib "$mem")" \
		"$(awk -v t="$mem" -v d="$distinct" 'BEGIN { printf "%.2f", t / d }')" \
		"$(awk -v t="$mem" -v d="$((af + ar))" 'BEGIN { printf "%.2f", t / d }')" \
		"$(mib "$back")" "$(mib "$all")" \
		"$(awk -v t="$all" -v d="$distinct" 'BEGIN { printf "%.2f", t / d }')" \
		"$(awk -v t="$all" -v d="$((af + ab + ar))" 'BEGIN { printf "%.2f", t / d }')"
done

printf '\nWhere the daemon'"'"'s memory is (MiB): "arenas" malloc'"'"'s heaps resident, "in use" the\n'
printf 'bytes allocated from them (mallinfo2), "big blocks" those malloc mapped one by one (mapped,\n'
printf 'not all resident), "other anon" resident anonymous memory outside arenas, pool and stacks\n'
printf '(the big blocks'"'"' touched pages, the pool'"'"'s small first chunks), "pool" the library'"'"'s page\n'
printf 'pool resident, "cached" what its cache counts (data, tails, metadata), "stacks" thread\n'
printf 'stacks resident, "files" the program and libraries:\n\n'
printf '| setup | RSS | threads | arenas | in use | big blocks | other anon | pool | cached | stacks | files |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for key in b c d e; do
	[ -n "${mem[$key]:-}" ] || continue
	IFS='|' read -r name _ <<<"${row[$key]}"
	printf '| %s | %s |\n' "$name" "$(sed 's/|/ | /g' <<<"${mem[$key]}")"
done
