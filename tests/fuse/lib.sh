# SPDX-License-Identifier: MIT
# Shared by tests/test_fuse_*.sh: skip checks, daemons, kernel mounts, cleanup.
# The caller sets build and src, then sources this file.

bin=$build/bin/erofs-share-fuse
fix=$src/tests/fixtures
treecmp=$src/tests/tools/treecmp.py

fuse_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root (kernel mounts as the oracle, FUSE mounts)"
		exit 77
	fi
	if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
		echo "SKIP: no /dev/fuse or no fusermount3"
		exit 77
	fi
	if ! grep -qw erofs /proc/filesystems; then
		modprobe erofs 2>/dev/null
		if ! grep -qw erofs /proc/filesystems; then
			echo "SKIP: the kernel has no erofs (not in /proc/filesystems)"
			exit 77
		fi
	fi
	if ! losetup -f >/dev/null 2>&1; then
		echo "SKIP: no free loop device (losetup -f failed)"
		exit 77
	fi
	if [ ! -x "$bin" ]; then
		echo "SKIP: $bin was not built (ESHARE_WITH_FUSE=OFF?)"
		exit 77
	fi
}

tmp=$(mktemp -d /tmp/eshare-fuse.XXXXXX)
kmounts=()
kloops=()
fmounts=()
fpids=()
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

cleanup() {
	local i
	for i in "${fmounts[@]}"; do
		if mountpoint -q "$i" 2>/dev/null; then
			fusermount3 -u -z "$i" 2>/dev/null
		fi
	done
	for i in "${fpids[@]}"; do
		kill "$i" 2>/dev/null
	done
	for ((i = ${#kmounts[@]} - 1; i >= 0; i--)); do
		umount "${kmounts[i]}" 2>/dev/null || umount -l "${kmounts[i]}" 2>/dev/null
	done
	for i in "${kloops[@]}"; do
		losetup -d "$i" 2>/dev/null
	done
	if mountpoint -q "$tmp/ram" 2>/dev/null; then
		umount "$tmp/ram"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# kmount IMAGE DIR [DEVICE]: the kernel's read-only mount of IMAGE on DIR.
kmount() {
	local opts=ro,loop
	mkdir -p "$2"
	if [ -n "${3:-}" ]; then
		local loopdev
		loopdev=$(losetup -f --show -r "$3") || return 1
		opts="ro,loop,device=$loopdev"
		kloops+=("$loopdev")
	fi
	mount -t erofs -o "$opts" "$1" "$2" || return 1
	kmounts+=("$2")
}

# fuse_start NAME MOUNTPOINT ARGS...: run the daemon in the foreground (its
# log in $tmp/NAME.log) and wait until MOUNTPOINT is its mount.
fuse_start() {
	local name=$1 mnt=$2 i
	shift 2
	mkdir -p "$mnt"
	# A background job ignores SIGINT, and libfuse then leaves it ignored.
	env --default-signal=INT "$bin" -f "$mnt" "$@" 2>"$tmp/$name.log" &
	fpid=$!
	fpids+=("$fpid")
	fmounts+=("$mnt")
	for ((i = 0; i < 200; i++)); do
		if [ "$(findmnt -n -o FSTYPE --mountpoint "$mnt" 2>/dev/null)" = fuse.erofs-share ]; then
			return 0
		fi
		if ! kill -0 "$fpid" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	fail "$name: the daemon did not mount $mnt"
	cat "$tmp/$name.log"
	return 1
}

# sanitizer_clean LOG: no report of ASan, LSan, UBSan or TSan in LOG.
sanitizer_clean() {
	if grep -qE "AddressSanitizer|LeakSanitizer|runtime error|ThreadSanitizer" "$1"; then
		fail "sanitizer report in $1"
		head -60 "$1"
		return 1
	fi
	return 0
}

# fuse_stop NAME MOUNTPOINT: unmount as a user would; the daemon must exit 0.
fuse_stop() {
	local name=$1 mnt=$2 rc
	if ! fusermount3 -u "$mnt"; then
		fail "$name: fusermount3 -u $mnt failed"
		fusermount3 -u -z "$mnt"
	fi
	wait "$fpid"
	rc=$?
	if [ "$rc" != 0 ]; then
		fail "$name: the daemon exited with $rc"
		tail -20 "$tmp/$name.log"
	fi
	if grep -q "still busy" "$tmp/$name.log"; then
		fail "$name: the daemon ended with files or directories not given back"
	fi
	sanitizer_clean "$tmp/$name.log"
}

# inodes DIR: "ino path" of every entry, sorted by path.
inodes() {
	(cd "$1" && find . -printf '%i %P\n' | LC_ALL=C sort -k2)
}

# A size-capped tmpfs for crafted images.
ramdir() {
	mkdir -p "$tmp/ram"
	mount -t tmpfs -o size=${1:-64m} tmpfs "$tmp/ram"
}

finish() {
	if [ "$failures" != 0 ]; then
		echo "$failures failure(s)"
		exit 1
	fi
	echo "PASS"
	exit 0
}
