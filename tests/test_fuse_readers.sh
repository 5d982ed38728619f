#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Concurrent readers through erofs-share-fuse: four processes read twin and
# other files of shared-a and shared-b at random offsets, each read compared
# with the kernel's mount; with the page cache, with -o share_nodes, and
# with -o direct_io (every read through the library), multi-threaded, and
# with direct_io, two threads and no spinning (--spin 0).
# Then what -o direct_io does to mmap and exec here: MAP_PRIVATE maps and
# exec run (the kernel serves them from its page cache), MAP_SHARED fails
# with ENODEV (libfuse 3.14 cannot ask for FUSE_DIRECT_IO_ALLOW_MMAP).
#
# usage: test_fuse_readers.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?build dir}
src=${2:?source dir}
. "$src/tests/fuse/lib.sh"
fuse_require

kmount "$fix/shared-a.erofs" "$tmp/k-a" && kmount "$fix/shared-b.erofs" "$tmp/k-b" ||
	{ fail "kernel mounts"; finish; }
python3 "$src/tests/fuse/twins.py" "$fix/shared-a.erofs.manifest" "$fix/shared-b.erofs.manifest" \
	"$tmp/k-a" "$tmp/k-b" >"$tmp/twins"
files=$( (awk -F'\t' '{ print $2 }' "$tmp/twins" | head -12;
	  cd "$tmp/k-a" && find big bound -type f | head -12) | sort -u)
m=$tmp/m
for variant in cache share_nodes direct_io nospin; do
	opts=(--threads 4)
	case $variant in
	share_nodes | direct_io) opts+=(-o "$variant") ;;
	# two threads that sleep at once (--spin 0): a request each, handed over
	nospin) opts=(--threads 2 --spin 0 -o direct_io) ;;
	esac
	fuse_start "$variant" "$m" "${opts[@]}" "$fix/shared-a.erofs" b="$fix/shared-b.erofs" || continue
	pairs=()
	while read -r f; do
		f=${f#/}
		pairs+=("$m/shared-a/$f=$tmp/k-a/$f")
		[ -f "$tmp/k-b/$f" ] && pairs+=("$m/b/$f=$tmp/k-b/$f")
	done <<<"$files"
	python3 "$src/tests/fuse/readers.py" 4 400 "${pairs[@]}" ||
		fail "$variant: concurrent readers saw other bytes than the kernel's"
	fuse_stop "$variant" "$m"
done

# direct_io: mmap and exec.
if command -v mkfs.erofs >/dev/null; then
	ramdir 32m
	r=$tmp/ram
	mkdir -p "$r/src"
	cp "$(type -P true)" "$r/src/true"
	head -c 100000 /dev/urandom >"$r/src/data"
	mkfs.erofs "$r/x.erofs" "$r/src" >/dev/null 2>&1 || fail "mkfs.erofs"
	for variant in cache direct_io; do
		opts=()
		[ "$variant" = direct_io ] && opts=(-o direct_io)
		fuse_start "mmap-$variant" "$m" "${opts[@]}" "$r/x.erofs" || continue
		"$m/true" || fail "$variant: exec of a binary on the mount failed"
		python3 - "$m/data" "$r/src/data" "$variant" <<'PY' || fail "$variant: mmap"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
ref = open(sys.argv[2], "rb").read()
m = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
assert m[:] == ref, "MAP_PRIVATE maps other bytes"
try:
    m = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    shared = "ok" if m[:] == ref else "other bytes"
except OSError as e:
    shared = os.strerror(e.errno)
want = "No such device" if sys.argv[3] == "direct_io" else "ok"
assert shared == want, "MAP_SHARED: %s, expected %s" % (shared, want)
print("%s: MAP_PRIVATE ok, MAP_SHARED %s" % (sys.argv[3], shared))
PY
		fuse_stop "mmap-$variant" "$m"
	done
fi
# The session ends while a file and a directory are open (SIGTERM: libfuse
# detaches the mount, the kernel sends no release): the daemon gives them
# back itself, exits 0, and leaks nothing (the sanitizer build checks).
fuse_start held "$m" "$fix/shared-a.erofs" && {
	f=$(cd "$m" && find . -type f | head -1)
	exec 7<"$m/$f" 8<"$m"
	head -c 100 <&7 >/dev/null
	kill -TERM "$fpid"
	wait "$fpid"
	rc=$?
	exec 7<&- 8<&-
	[ "$rc" = 0 ] || fail "held: the daemon exited with $rc"
	if grep -q "still busy" "$tmp/held.log"; then
		fail "held: open handles were not given back at the end"
	fi
	sanitizer_clean "$tmp/held.log"
}
finish
