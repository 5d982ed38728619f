#!/bin/bash
# SPDX-License-Identifier: MIT
#
# -o share_nodes, page-cache mode (no direct_io): a node made for one image's
# file caches that image's bytes in the kernel (keep_cache) before the node
# stands for anyone else.  If the file is later merged with a twin of
# another image, the kernel keeps serving the pages it cached before the
# merge to the twin's path.  Those pages were never checked: the image
# whose file made the node may have given other bytes then (its device
# changed between that read and its hashing).  Here the copy's device holds
# a rewritten page when the copy's file is read, and the true page again
# when it is hashed (at the real twin's lookup); the real image's path must
# still read the true bytes (the kernel's sha256 in the fixture manifest).
#
# usage: bash test_fuse_alias_premerge.sh BUILD_DIR SOURCE_DIR
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

cp "$fix/digest-plain.erofs" "$tmp/ram/copy.erofs"
vdev=$(losetup -f --show -r "$fix/digest-plain.erofs") || { fail "losetup"; finish; }
kloops+=("$vdev")
cdev=$(losetup -f --show "$tmp/ram/copy.erofs") || { fail "losetup"; finish; }
kloops+=("$cdev")
fuse_start premerge "$m" --policy verify --cache-size 64K --backend blockdev \
	-o share_nodes copy="$cdev" real="$vdev" || finish

# the true bytes of the file, through the kernel's own mount
kmount "$fix/digest-plain.erofs" "$tmp/k" || { fail "kernel mount"; finish; }
python3 - "$tmp/k$file" "$truth" "$fix/digest-plain.erofs" >"$tmp/at" <<'PY' || fail "finding the page"
import hashlib, sys
data = open(sys.argv[1], "rb").read()
assert hashlib.sha256(data).hexdigest() == sys.argv[2]
page = data[8192:12288]
raw = open(sys.argv[3], "rb").read()
at = raw.find(page)
assert at >= 0 and raw.find(page, at + 1) < 0
print(at)
PY
at=$(cat "$tmp/at")

xorpage() {
	python3 - "$1" "$2" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
at = int(sys.argv[2])
page = os.pread(fd, 4096, at)
os.pwrite(fd, bytes(b ^ 0x20 for b in page), at)
os.fsync(fd)
os.close(fd)
PY
}

# 1. the copy's device gives other bytes; its file is looked up (its node)
#    and read whole: the kernel caches them for the node.
xorpage "$cdev" "$at" || fail "rewriting the copy's page"
ci=$(stat -c %i "$m/copy$file") || fail "stat copy"
bad=$(sha256sum <"$m/copy$file") || fail "reading the copy"
bad=${bad%% *}
[ "$bad" != "$truth" ] || fail "the rewrite did not change the copy's bytes (the test proves nothing)"
# 2. its device gives the true bytes again; the real twin is looked up:
#    both hash to the fingerprint, join one shared object, get one node.
xorpage "$cdev" "$at" || fail "restoring the copy's page"
ri=$(stat -c %i "$m/real$file") || fail "stat real"
echo "copy ino $ci, real ino $ri"
[ "$ci" = "$ri" ] || fail "the twins were not merged ($ci, $ri): the test proves nothing"
# 3. the real image's path: its own (true) bytes, whatever the copy did.
got=$(sha256sum <"$m/real$file") || fail "reading the real file"
got=${got%% *}
[ "$got" = "$truth" ] ||
	fail "real$file read $got (the copy's earlier bytes: $bad), not its true $truth"
fuse_stop premerge "$m"
finish
