#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share-fuse against the kernel: every fixture mounted alone equals
# the kernel's mount of it (treecmp.py: type, mode, owner, times with
# nanoseconds, size, content, xattrs, hard links; and the kernel's inode
# numbers), four of them also with -o direct_io; the loop and blockdev
# backends, also with O_DIRECT, against the manifests.
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
	# -o direct_io: every read through the library, and a regular file's
	# node keeps no inode (opened again by number for opens and xattrs).
	# Fixtures of xattrs, hard links, metabox and fragments: each doubles
	# the time of a fixture.
	case $name in
	lz4 | xattr-filter | metabox | fragments) dio=1 ;;
	*) dio=0 ;;
	esac
	[ $dio = 1 ] && fuse_start "$name-dio" "$tmp/d-$name" -o direct_io "${dev[@]}" "$img" && {
		if ! python3 "$treecmp" "$tmp/k-$name" "$tmp/d-$name" >"$tmp/$name-dio.cmp"; then
			fail "$name: differs from the kernel's mount with -o direct_io"
			cut -c1-300 "$tmp/$name-dio.cmp" | head -8
		fi
		fuse_stop "$name-dio" "$tmp/d-$name"
	}
	fuse_start "$name" "$tmp/f-$name" "${dev[@]}" "$img" || continue
	if ! python3 "$treecmp" "$tmp/k-$name" "$tmp/f-$name" >"$tmp/$name.cmp"; then
		fail "$name: differs from the kernel's mount"
		cut -c1-300 "$tmp/$name.cmp" | head -8
	fi
	# statfs: block size, blocks, free blocks, inodes (all used), name length;
	# the kernel counts the blocks of extra devices too (docs/fuse.md)
	fields='%s %S %b %f %a %c %d %l'
	[ "$name" = multidev ] && fields='%s %S %f %a %c %d %l'
	k=$(stat -f -c "$fields" "$tmp/k-$name")
	f=$(stat -f -c "$fields" "$tmp/f-$name")
	[ "$k" = "$f" ] || fail "$name: statfs gives '$f', the kernel '$k'"
	if ! cmp -s <(inodes "$tmp/k-$name") <(inodes "$tmp/f-$name"); then
		fail "$name: inode numbers differ from the kernel's"
		diff <(inodes "$tmp/k-$name") <(inodes "$tmp/f-$name") | head -5
	fi
	fuse_stop "$name" "$tmp/f-$name"
done

# The other backends: loop devices (with an extra device), and a block device.
# Permissions as the kernel checks them (the mount is default_permissions):
# access() and open() of every entry as root, owners of the image and nobody
# (dev: a FUSE mount is nodev unless asked, and its device nodes do not open).
if kmount "$fix/lz4.erofs" "$tmp/k-perm"; then
	fuse_start perm "$tmp/f-perm" -o allow_other,dev,suid "$fix/lz4.erofs" && {
		python3 "$src/tests/fuse/access.py" "$tmp/k-perm" "$tmp/f-perm" 0:0 1000:1000 \
			65534:65534 70000:70001 0:6 >"$tmp/perm.out" ||
			fail "access or open differ from the kernel's: $(head -5 "$tmp/perm.out")"
		fuse_stop perm "$tmp/f-perm"
	}
fi

manifest() {
	python3 "$treecmp" --list "$1" | grep -v '^#'
}
for be in loop loop-direct; do
	fuse_start "$be" "$tmp/f-$be" --backend "$be" --device multidev="$fix/multidev.blob" \
		multidev="$fix/multidev.erofs" && {
		cmp -s <(manifest "$tmp/f-$be/multidev") <(grep -v '^#' "$fix/multidev.erofs.manifest") ||
			fail "--backend $be: multidev differs from its manifest"
		fuse_stop "$be" "$tmp/f-$be"
	}
done
if dev=$(losetup -f --show -r "$fix/lz4.erofs"); then
	kloops+=("$dev")
	for be in blockdev blockdev-direct; do
		fuse_start "$be" "$tmp/f-$be" --backend "$be" "$dev" && {
			cmp -s <(manifest "$tmp/f-$be") <(grep -v '^#' "$fix/lz4.erofs.manifest") ||
				fail "--backend $be: lz4 differs from its manifest"
			fuse_stop "$be" "$tmp/f-$be"
		}
	done
fi
finish
