#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Under -o share_nodes one node stands for twins of several images (an
# alias).  Here two images hold the same /big/text-0.bin: the real
# digest-plain and a copy of it on a writable loop device (the blockdev
# backend does not see a device change, so the proof of each page is what
# catches it).  The copy's file is looked up first, so the alias reads
# through the copy's inode.  Once both joined, the copy's bytes of one page
# are rewritten on the device; the library's cache and the kernel's pages
# of the alias are dropped; the next fill from the copy fails its proof and
# the copy leaves the shared object.  Every read of the alias, through
# either image's path, must then give the true bytes (or EIO), never the
# rewritten ones.  True bytes: the kernel's sha256 in the fixture manifest.
#
# usage: bash tests/test_fuse_alias.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?build dir}
src=${2:?source dir}
. "$src/tests/fuse/lib.sh"
fuse_require

file=/big/text-0.bin
man=$fix/digest-plain.erofs.manifest
truth=$(awk -F'\t' -v p="$file" '$1 == p { print $12 }' "$man")
[ -n "$truth" ] || { fail "the manifest of digest-plain lacks $file"; finish; }
ramdir 16m
m=$tmp/m

# rewrite DEV OFFSET: flip bits of the 4 KiB page of the file at OFFSET on DEV.
rewrite() {
	python3 - "$fix/digest-plain.erofs" "$1" "$2" "$truth" <<'PY'
import hashlib, os, sys
img, dev, fpath, truth = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
data = open(fpath, "rb").read()
if hashlib.sha256(data).hexdigest() != truth:
    sys.exit("the file read through the mount is not the kernel's")
page = data[8192:12288]
raw = open(img, "rb").read()
at = raw.find(page)
if at < 0 or raw.find(page, at + 1) >= 0:
    sys.exit("the file's third page is not found once in the image (not flat?)")
bad = bytes(b ^ 0x20 for b in page)
fd = os.open(dev, os.O_WRONLY)
os.pwrite(fd, bad, at)
os.fsync(fd)
os.close(fd)
PY
}

# drop PATH...: the kernel's pages of each file (the alias's, whichever path).
drop() {
	python3 - "$@" <<'PY'
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY
}

# evict NAME: read other files of image NAME twice over, so that the
# library's small cache keeps none of the file's pages.
evict() {
	local r f
	for r in 1 2 3; do
		for f in /bound/text-65537 /bound/text-65536 /bound/mixed-65535 /sparse/hole-middle; do
			cat "$m/$1$f" "$m/$1$f" >/dev/null || fail "reading $1$f"
		done
	done
	drop "$m/$1/bound/text-65537" "$m/$1/bound/text-65536" "$m/$1/bound/mixed-65535" \
		"$m/$1/sparse/hole-middle"
}

# check WHAT PATH: the alias reads the true bytes or fails (EIO); never others.
check() {
	local got
	if got=$(sha256sum <"$2" 2>"$tmp/err"); then
		got=${got%% *}
		[ "$got" = "$truth" ] || fail "$1: $2 read $got, not the true $truth"
	elif ! grep -q "Input/output error" "$tmp/err"; then
		fail "$1: $2: $(cat "$tmp/err")"
	fi
}

for mode in page_cache direct_io; do
	cp "$fix/digest-plain.erofs" "$tmp/ram/copy.erofs"
	vdev=$(losetup -f --show -r "$fix/digest-plain.erofs") || { fail "losetup"; break; }
	kloops+=("$vdev")
	cdev=$(losetup -f --show "$tmp/ram/copy.erofs") || { fail "losetup"; break; }
	kloops+=("$cdev")
	opts=(--policy verify --cache-size 64K --backend blockdev -o share_nodes)
	[ "$mode" = direct_io ] && opts+=(-o direct_io)
	fuse_start "$mode" "$m" "${opts[@]}" copy="$cdev" real="$vdev" || continue

	# the copy's file first: the node reads through the copy's inode
	ci=$(stat -c %i "$m/copy$file") && ri=$(stat -c %i "$m/real$file") ||
		fail "$mode: stat"
	[ "$ci" = "$ri" ] || fail "$mode: the twins are not one node ($ci, $ri)"
	check "$mode before" "$m/copy$file"
	check "$mode before" "$m/real$file"
	rewrite "$cdev" "$m/real$file" || fail "$mode: rewriting the copy's page"
	evict real
	drop "$m/real$file"
	for path in "$m/real$file" "$m/copy$file" "$m/real$file"; do
		check "$mode after the rewrite" "$path"
	done
	grep -q "leaves the shared object" "$tmp/$mode.log" ||
		fail "$mode: the copy's fill did not fail its proof (the test proves nothing)"
	fuse_stop "$mode" "$m"
	losetup -d "$cdev" "$vdev"
	unset 'kloops[-1]' 'kloops[-1]'
done
finish
