#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share-fuse against the kernel: every fixture mounted alone equals
# the kernel's mount of it (treecmp.py: type, mode, owner, times with
# nanoseconds, size, content, xattrs, hard links; and the kernel's inode
# numbers).  test_fuse_share.sh mounts several images in one mount.
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

finish
