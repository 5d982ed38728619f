#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share-fuse against the kernel: every fixture mounted alone equals
# the kernel's mount of it (treecmp.py: type, mode, owner, times with
# nanoseconds, size, content, xattrs, hard links; and the kernel's inode
# numbers); the loop and blockdev backends against the manifests.
# test_fuse_share.sh mounts several images in one mount.
#
# usage: test_fuse_tree.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?build dir}
src=${2:?source dir}
. "$src/tests/fuse/lib.sh"
fuse_require

for img in "$fix"/*.erofs; do
	name=$(basename "$img" .erofs)
	dev=()
	kdev=
	if [ "$name" = multidev ]; then
		dev=(--device "$fix/multidev.blob")
		kdev=$fix/multidev.blob
	fi
	if ! kmount "$img" "$tmp/k-$name" $kdev; then
		fail "$name: the kernel does not mount it"
		continue
	fi
	fuse_start "$name" "$tmp/f-$name" "${dev[@]}" "$img" || continue
	if ! python3 "$treecmp" "$tmp/k-$name" "$tmp/f-$name" >"$tmp/$name.cmp"; then
		fail "$name: differs from the kernel's mount"
		cut -c1-300 "$tmp/$name.cmp" | head -8
	fi
	if ! cmp -s <(inodes "$tmp/k-$name") <(inodes "$tmp/f-$name"); then
		fail "$name: inode numbers differ from the kernel's"
		diff <(inodes "$tmp/k-$name") <(inodes "$tmp/f-$name") | head -5
	fi
	fuse_stop "$name" "$tmp/f-$name"
done

# The other backends: loop devices (with an extra device), and a block device.
manifest() {
	python3 "$treecmp" --list "$1" | grep -v '^#'
}
fuse_start loop "$tmp/f-loop" --backend loop --device multidev="$fix/multidev.blob" \
	multidev="$fix/multidev.erofs" && {
	cmp -s <(manifest "$tmp/f-loop/multidev") <(grep -v '^#' "$fix/multidev.erofs.manifest") ||
		fail "--backend loop: multidev differs from its manifest"
	fuse_stop loop "$tmp/f-loop"
}
if dev=$(losetup -f --show -r "$fix/lz4.erofs"); then
	kloops+=("$dev")
	fuse_start blockdev "$tmp/f-blk" --backend blockdev "$dev" && {
		cmp -s <(manifest "$tmp/f-blk") <(grep -v '^#' "$fix/lz4.erofs.manifest") ||
			fail "--backend blockdev: lz4 differs from its manifest"
		fuse_stop blockdev "$tmp/f-blk"
	}
fi
finish
