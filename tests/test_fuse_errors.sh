#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share-fuse when things go wrong: usage errors (exit 2), images that
# fail to attach at start (exit 1, nothing mounted), a crafted image in the
# mount (EIO and one log line naming image and path, the other images and
# the image's sound files still served), writes (EROFS), SIGTERM and SIGINT
# (clean unmount, exit 0), SIGKILL under auto_unmount (no mount left).
#
# usage: test_fuse_errors.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?build dir}
src=${2:?source dir}
. "$src/tests/fuse/lib.sh"
fuse_require

m=$tmp/m
mkdir -p "$m"
mounted() {
	findmnt -n --mountpoint "$1" >/dev/null 2>&1
}

# Usage errors.
"$bin" >/dev/null 2>&1; [ $? = 2 ] || fail "no arguments: not exit 2"
"$bin" --policy sometimes "$m" "$fix/lz4.erofs" 2>/dev/null; [ $? = 2 ] || fail "bad policy: not exit 2"
"$bin" --bogus "$m" "$fix/lz4.erofs" 2>/dev/null; [ $? = 2 ] || fail "unknown option: not exit 2"
"$bin" --cache-size 12Q "$m" "$fix/lz4.erofs" 2>/dev/null; [ $? = 2 ] || fail "bad size: not exit 2"
"$bin" "$m" 2>/dev/null; [ $? = 2 ] || fail "no image and no control socket: not exit 2"
for v in -1 1000001 5x ""; do
	"$bin" --spin "$v" "$m" "$fix/lz4.erofs" 2>/dev/null; [ $? = 2 ] || fail "--spin '$v': not exit 2"
done
"$bin" --help >"$tmp/help" || fail "--help failed"
for o in --policy --cache-size --device --backend --control --threads --spin " -s " " -f " " -d " \
	share_nodes direct_io allow_other auto_unmount fsname; do
	grep -q -- "$o" "$tmp/help" || fail "--help does not document $o"
done

# Attach failures at start: a message, exit 1, nothing mounted.
printf 'not an image' >"$tmp/junk"
for args in "$tmp/nosuch.erofs" "$tmp/junk" "$fix/multidev.erofs" "a=$fix/lz4.erofs b=$tmp/junk"; do
	# shellcheck disable=SC2086
	"$bin" -f "$m" $args 2>"$tmp/err"
	rc=$?
	[ "$rc" = 1 ] || fail "attach failure ($args): exit $rc, not 1"
	grep -q "cannot attach" "$tmp/err" || fail "attach failure ($args): no message: $(cat "$tmp/err")"
	mounted "$m" && { fail "attach failure ($args): something is mounted"; fusermount3 -u "$m"; }
done

# A crafted image among sound ones.
ramdir 32m
cp "$fix/plain-4k.erofs" "$tmp/ram/bad.erofs"
kmount "$fix/plain-4k.erofs" "$tmp/k-plain"
kmount "$fix/shared-b.erofs" "$tmp/k-b"
victim=$(cd "$tmp/k-plain" && find . -type f -size +8k | sort | head -1)
victim=${victim#./}
short=$(cd "$tmp/k-plain" && find . -type f -size +8k | sort | sed -n 2p)
short=${short#./}
[ -n "$victim" ] && [ -n "$short" ] || fail "no files to damage in plain-4k"
python3 "$src/tests/fuse/corrupt.py" "$tmp/ram/bad.erofs" "$(stat -c %i "$tmp/k-plain/$victim")" \
	"$((0x$(stat -c %f "$tmp/k-plain/$victim")))" type || fail "damaging $victim"
python3 "$src/tests/fuse/corrupt.py" "$tmp/ram/bad.erofs" "$(stat -c %i "$tmp/k-plain/$short")" \
	"$((0x$(stat -c %f "$tmp/k-plain/$short")))" size || fail "damaging $short"
fuse_start bad "$m" bad="$tmp/ram/bad.erofs" good="$fix/shared-b.erofs" || finish
for i in 1 2 3; do
	out=$(cat "$m/bad/$victim" 2>&1 >/dev/null)
	case $out in
	*"Input/output error"*) ;;
	*) fail "reading the damaged inode $victim: '$out', not EIO" ;;
	esac
	out=$(cat "$m/bad/$short" 2>&1 >/dev/null)
	case $out in
	*"Input/output error"*) ;;
	*) fail "reading $short past the image's end: '$out', not EIO" ;;
	esac
done
python3 "$treecmp" "$tmp/k-b" "$m/good" >"$tmp/cmp" || fail "the sound image differs from the kernel's"
python3 "$treecmp" --exclude "^/$victim\$" --exclude "^/$short\$" "$tmp/k-plain" "$m/bad" >"$tmp/cmp" ||
	{ fail "the crafted image's sound files differ"; head -5 "$tmp/cmp"; }
n=$(grep -c "bad: /$victim: " "$tmp/bad.log")
[ "$n" = 1 ] || fail "$n log lines name bad: /$victim (want 1): $(cat "$tmp/bad.log")"
n=$(grep -c "bad: /$short: " "$tmp/bad.log")
[ "$n" = 1 ] || fail "$n log lines name bad: /$short (want 1): $(cat "$tmp/bad.log")"

# Read-only.
for cmd in "touch $m/good/newfile" "mkdir $m/good/newdir" "rm -f $m/good/big/repetitive.txt" \
	"chmod 600 $m/good/big/repetitive.txt" "setfattr -n user.x -v 1 $m/good/big/repetitive.txt"; do
	out=$($cmd 2>&1) && fail "'$cmd' succeeded"
	case $out in
	*"Read-only file system"*) ;;
	*) fail "'$cmd': '$out', not EROFS" ;;
	esac
done
fusermount3 -u "$m" || fail "fusermount3 -u"
wait "$fpid" || fail "the daemon exited with $? after fusermount3 -u"
sanitizer_clean "$tmp/bad.log"

# One image, no --control, no direct_io: nothing to share with, so the
# default policy is off (said under -d); a policy asked for, or a second
# image, keeps sharing on.
for case in "one:" "asked:--policy verify" "two:" "direct:-o direct_io"; do
	name=${case%%:*}
	opts=(${case#*:})
	imgs=("$fix/lz4.erofs")
	[ "$name" = two ] && imgs=(a="$fix/lz4.erofs" b="$fix/zstd.erofs")
	fuse_start "policy-$name" "$m" -d "${opts[@]}" "${imgs[@]}" || continue
	fuse_stop "policy-$name" "$m"
	if grep -q "policy off: one image" "$tmp/policy-$name.log"; then
		[ "$name" = one ] || fail "policy-$name: sharing turned off"
	else
		[ "$name" != one ] || fail "policy-one: the default policy was not turned off"
	fi
done

# SIGTERM and SIGINT unmount cleanly.
for sig in TERM INT; do
	fuse_start "sig$sig" "$m" "$fix/lz4.erofs" || continue
	kill -s "$sig" "$fpid"
	wait "$fpid"
	rc=$?
	[ "$rc" = 0 ] || fail "SIG$sig: the daemon exited with $rc"
	mounted "$m" && { fail "SIG$sig: still mounted"; fusermount3 -u -z "$m"; }
	sanitizer_clean "$tmp/sig$sig.log"
done

# SIGKILL under auto_unmount: the mount goes with the daemon.
fuse_start kill "$m" -o auto_unmount "$fix/lz4.erofs" || finish
kill -s KILL "$fpid"
wait "$fpid" 2>/dev/null
# fusermount3 unmounts once it sees the daemon's fd close: allow 30 s on a loaded machine.
for ((i = 0; i < 600; i++)); do
	mounted "$m" || break
	sleep 0.05
done
mounted "$m" && { fail "SIGKILL under auto_unmount left the mount"; fusermount3 -u -z "$m"; }
finish
