#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share-fuse against the kernel: every fixture mounted alone equals
# the kernel's mount of it (treecmp.py: type, mode, owner, times with
# nanoseconds, size, content, xattrs, hard links; and the kernel's inode
# numbers); shared-a and shared-b in one mount, each directory equal to its
# kernel mount, without and with -o share_nodes (inode numbers aside there).
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

# Both shared images in one mount, one directory each.
kmount "$fix/shared-a.erofs" "$tmp/k-a" && kmount "$fix/shared-b.erofs" "$tmp/k-b" ||
	fail "kernel mounts of shared-a/shared-b"
for variant in plain share_nodes; do
	opts=()
	[ "$variant" = share_nodes ] && opts=(-o share_nodes)
	fuse_start "two-$variant" "$tmp/two-$variant" "${opts[@]}" \
		"$fix/shared-a.erofs" b="$fix/shared-b.erofs" || continue
	m=$tmp/two-$variant
	if [ "$(ls "$m" | tr '\n' ' ')" != "b shared-a " ]; then
		fail "$variant: top-level names are '$(ls "$m" | tr '\n' ' ')'"
	fi
	for pair in "k-a shared-a" "k-b b"; do
		set -- $pair
		if ! python3 "$treecmp" "$tmp/$1" "$m/$2" >"$tmp/cmp"; then
			fail "$variant: $2 differs from the kernel's mount"
			cut -c1-300 "$tmp/cmp" | head -8
		fi
		if [ "$variant" = plain ] &&
		   ! cmp -s <(inodes "$tmp/$1") <(inodes "$m/$2"); then
			fail "$variant: $2: inode numbers differ from the kernel's"
			diff <(inodes "$tmp/$1") <(inodes "$m/$2") | head -5
		fi
	done
	fuse_stop "two-$variant" "$m"
done
finish
