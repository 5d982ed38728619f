#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Kernel oracle for `erofs-share extract` and `erofs-share manifest`: every
# fixture is mounted read-only by the kernel (on a loop device), extracted
# with erofs-share into a size-capped tmpfs, and the two trees are compared
# with treecmp.py field by field (type, mode incl. setuid/setgid/sticky,
# owner, size, mtime with nanoseconds, nlink, rdev, symlink target, content,
# every xattr incl. ACLs, hardlink groups).  The manifest printed by
# erofs-share is also compared with `treecmp.py --list` of the live mount.
#
# Needs root, loop devices and erofs in the kernel; exits 77 (skipped) with
# the reason when one is missing.
#
# usage: test_kernel_extract.sh BUILD_DIR SOURCE_DIR
set -u

build=${1:?build dir}
src=${2:?source dir}
bin=$build/bin/erofs-share
fix=$src/tests/fixtures
treecmp=$src/tests/tools/treecmp.py

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (kernel mounts, mknod, chown, trusted.* xattrs)"
	exit 77
fi
if ! grep -qw erofs /proc/filesystems; then
	modprobe erofs 2>/dev/null
	if ! grep -qw erofs /proc/filesystems; then
		echo "SKIP: the kernel has no erofs (not in /proc/filesystems)"
		exit 77
	fi
fi
if ! command -v losetup >/dev/null || ! losetup -f >/dev/null 2>&1; then
	echo "SKIP: no free loop device (losetup -f failed)"
	exit 77
fi
if [ ! -x "$bin" ]; then
	echo "FAIL: $bin was not built"
	exit 1
fi
if [ ! -f "$treecmp" ]; then
	echo "FAIL: $treecmp is missing"
	exit 1
fi

tmp=$(mktemp -d)
mounts=()
loops=()
cleanup() {
	local i
	# Unmount in reverse order; a busy mount is retried lazily.
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null
	done
	for i in "${loops[@]}"; do
		losetup -d "$i" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Remove the last mount of the list (it is always the most recent one).
umount_last() {
	local m=${mounts[${#mounts[@]} - 1]}
	umount "$m" || return 1
	unset "mounts[${#mounts[@]} - 1]"
}

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# Under ASan+UBSan (ESHARE_TEST_BUILD=asan) every other fixture and
# multidev; ESHARE_TEST_FULL=1 takes them all.
stride=1
[ "${ESHARE_TEST_BUILD:-}" = asan ] && [ "${ESHARE_TEST_FULL:-0}" = 0 ] && stride=2
n=0
for img in "$fix"/*.erofs; do
	n=$((n + 1))
	name=$(basename "$img" .erofs)
	if [ $((n % stride)) -ne 1 ] && [ $stride -gt 1 ] && [ "$name" != multidev ]; then
		continue
	fi
	mnt=$tmp/mnt-$name
	out=$tmp/out-$name
	mkdir -p "$mnt" "$out"
	devopt=
	devargs=()
	blobloop=
	if [ "$name" = multidev ]; then
		# The kernel wants the extra device as a block device too.
		blobloop=$(losetup -f --show -r "$fix/multidev.blob") || {
			bad "$name: losetup of multidev.blob failed"
			continue
		}
		loops+=("$blobloop")
		devopt=",device=$blobloop"
		devargs=(--device "$fix/multidev.blob")
	fi
	if ! mount -t erofs -o "ro$devopt" "$img" "$mnt"; then
		bad "$name: the kernel did not mount it"
		continue
	fi
	mounts+=("$mnt")
	if ! mount -t tmpfs -o size=256m,mode=0700 tmpfs "$out"; then
		bad "$name: cannot mount a tmpfs"
		umount_last
		continue
	fi
	mounts+=("$out")

	if "$bin" extract "${devargs[@]}" "$img" "$out/tree" 2>"$tmp/err"; then
		if python3 "$treecmp" "$mnt" "$out/tree" >"$tmp/cmp" 2>&1; then
			ok
		else
			bad "$name: extracted tree differs from the kernel mount:"
			head -n 15 "$tmp/cmp"
			tail -n 1 "$tmp/cmp"
		fi
	else
		bad "$name: extract exited non-zero: $(head -c 600 "$tmp/err")"
	fi

	# The manifest against the live kernel mount (not the stored file).
	if ! python3 "$treecmp" --list "$mnt" >"$tmp/kernel.manifest" 2>"$tmp/err"; then
		bad "$name: treecmp --list of the mount failed: $(head -c 400 "$tmp/err")"
	elif ! "$bin" manifest "${devargs[@]}" "$img" >"$tmp/lib.manifest" 2>"$tmp/err"; then
		bad "$name: manifest exited non-zero: $(head -c 400 "$tmp/err")"
	elif ! cmp -s "$tmp/kernel.manifest" "$tmp/lib.manifest"; then
		bad "$name: manifest differs from treecmp --list of the kernel mount:"
		diff "$tmp/kernel.manifest" "$tmp/lib.manifest" | head -n 12
	else
		ok
	fi

	umount_last || bad "$name: umount $out"
	umount_last || bad "$name: umount $mnt"
	if [ -n "$blobloop" ]; then
		losetup -d "$blobloop" || bad "$name: losetup -d $blobloop"
		loops=()
	fi
done
if [ "$n" -lt 24 ]; then
	bad "only $n fixtures found in $fix"
fi

# --backend loop and blockdev (image and extra device both) give the same view.
if "$bin" --backend loop manifest "$fix/lz4.erofs" >"$tmp/out" 2>"$tmp/err" &&
   cmp -s "$tmp/out" "$fix/lz4.erofs.manifest"; then
	ok
else
	bad "--backend loop manifest lz4.erofs: $(head -c 400 "$tmp/err")"
fi
if imgloop=$(losetup -f --show -r "$fix/multidev.erofs"); then
	loops+=("$imgloop")
	if blobloop=$(losetup -f --show -r "$fix/multidev.blob"); then
		loops+=("$blobloop")
		if "$bin" manifest --backend blockdev --device "$blobloop" "$imgloop" \
			>"$tmp/out" 2>"$tmp/err" && cmp -s "$tmp/out" "$fix/multidev.erofs.manifest"; then
			ok
		else
			bad "--backend blockdev manifest of multidev: $(head -c 400 "$tmp/err")"
		fi
	else
		bad "losetup of multidev.blob failed"
	fi
else
	bad "losetup of multidev.erofs failed"
fi

# A destination whose parent has a default ACL: what extract creates would
# inherit ACLs the image does not hold; it must remove them, and the tree
# must still equal the kernel's.
acl_fix=inode-compact
mnt=$tmp/mnt-acl
out=$tmp/out-acl
mkdir -p "$mnt" "$out"
if mount -t erofs -o ro "$fix/$acl_fix.erofs" "$mnt"; then
	mounts+=("$mnt")
	if mount -t tmpfs -o size=64m,mode=0700 tmpfs "$out"; then
		mounts+=("$out")
		mkdir "$out/parent"
		# system.posix_acl_default: version 2; user::rwx, user:65534:rwx,
		# group::r-x, mask::rwx, other::r-x
		if python3 -c '
import os, struct, sys
v = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in
	((1, 7, 0xffffffff), (2, 7, 65534), (4, 5, 0xffffffff), (0x10, 7, 0xffffffff),
	 (0x20, 5, 0xffffffff)))
os.setxattr(sys.argv[1], "system.posix_acl_default", v)' "$out/parent" 2>"$tmp/err"; then
			if "$bin" extract "$fix/$acl_fix.erofs" "$out/parent/tree" 2>"$tmp/err" &&
			   python3 "$treecmp" "$mnt" "$out/parent/tree" >"$tmp/cmp" 2>&1; then
				ok
			else
				bad "extract below a default ACL differs from the kernel mount:"
				head -n 15 "$tmp/err" "$tmp/cmp"
			fi
		else
			echo "note: this tmpfs takes no ACL ($(head -c 200 "$tmp/err")): inheritance not checked"
		fi
		umount_last || bad "umount $out"
	else
		bad "cannot mount a tmpfs for the ACL check"
	fi
	umount_last || bad "umount $mnt"
else
	bad "$acl_fix: the kernel did not mount it"
fi

# Extraction refuses a destination that is not empty.
mkdir -p "$tmp/full"
touch "$tmp/full/x"
if "$bin" extract "$fix/plain-4k.erofs" "$tmp/full" 2>"$tmp/err"; then
	bad "extract into a non-empty directory succeeded"
else
	ok
fi

echo "test_kernel_extract: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
