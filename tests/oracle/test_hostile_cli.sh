#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share on hostile images, crafted here from small trees made by
# mkfs.erofs and patched with erofs_craft.py, all inside a size-capped
# tmpfs; the kernel (a read-only loop mount of the same image) is the oracle
# wherever it can answer.
#
#  links     a directory under two parents at each of 40 levels (2^40 paths):
#            every walker enters each directory once, names the second
#            link as corruption, finishes and exits non-zero.
#  repeat    a chunk-based directory whose block map names one block
#            100000 times: the listing stops at the first name out of order.
#  dotdot    a directory whose own "." and ".." point elsewhere: paths
#            resolve as on the kernel.
#  slash     a name holding '/': the kernel refuses to list the directory;
#            so do the walkers, which go on with the rest of the tree.
#  badfile   a file whose blocks lie past the end: the other entries are
#            listed and extracted, directories get their metadata.
#  nospace   extract into a 256 KiB tmpfs: one message, not one per file.
#  symlinks  targets of 4095 bytes and more, and with a NUL: as readlink(2).
#  xattr     a user.* xattr on a symlink: listed, but no value (ENODATA).
#  order     names sorting between a directory and its contents: the
#            manifest, streamed in path order, equals treecmp's.
#  twice     a name twice in a directory: lookup finds the kernel's entry.
#
# Every CLI run has a time cap (and an address-space cap outside sanitizer
# builds), so a regression fails instead of hanging or eating the machine.
# Needs root (tmpfs and loop mounts) and mkfs.erofs; skipped otherwise.
#
# usage: test_hostile_cli.sh BUILD_DIR SOURCE_DIR
set -u

build=${1:?build dir}
src=${2:?source dir}
bin=$build/bin/erofs-share
craft=$src/tests/oracle

if [ ! -x "$bin" ]; then
	echo "FAIL: $bin was not built"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root for a size-capped tmpfs and loop mounts"
	exit 77
fi
if ! command -v mkfs.erofs >/dev/null || ! command -v python3 >/dev/null; then
	echo "SKIP: needs mkfs.erofs and python3"
	exit 77
fi

work=$(mktemp -d)
mnt=$work/mnt
cleanup() {
	mountpoint -q "$mnt" && umount "$mnt"
	mountpoint -q "$work/full" && umount "$work/full"
	mountpoint -q "$work" && umount "$work"
	rmdir "$work"
}
trap cleanup EXIT
if ! mount -t tmpfs -o size=64m tmpfs "$work"; then
	echo "SKIP: cannot mount a tmpfs"
	exit 77
fi
mkdir "$mnt"

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# A sanitizer build reserves terabytes of address space: no -v cap there.
vcap=2097152
if ldd "$bin" 2>/dev/null | grep -qE 'libasan|libtsan'; then
	vcap=unlimited
fi

# run NAME ARGS...: the CLI with caps; stdout in $work/NAME.out, stderr in
# $work/NAME.err, the exit status in $rc.
run() {
	local name=$1
	shift
	(ulimit -v "$vcap"; exec timeout 60 "$bin" "$@") >"$work/$name.out" 2>"$work/$name.err"
	rc=$?
}

# finished NAME: the run ended by itself with a non-zero status (an error
# was reported), not by the time cap or a signal.
finished_failing() {
	local name=$1
	if [ "$rc" = 0 ]; then
		bad "$name: exit status 0 on a corrupt image"
	elif [ "$rc" -ge 124 ]; then
		bad "$name: killed or timed out (status $rc)"
		head -3 "$work/$name.err"
	else
		ok
	fi
}

kmount() {
	mount -o ro,loop "$1" "$mnt" 2>/dev/null
}
kumount() {
	umount "$mnt"
}
have_kernel=1
# ---- the images --------------------------------------------------------
python3 - "$work" "$craft" <<'EOF' || { echo "FAIL: crafting the images"; exit 1; }
import os, struct, subprocess, sys
w = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from erofs_craft import *

def mkfs(name, tree):
    subprocess.run(["mkfs.erofs", os.path.join(w, name), tree], check=True,
                   capture_output=True)
    return Image(os.path.join(w, name))

def tree(name):
    t = os.path.join(w, "src-" + name)
    os.makedirs(t)
    return t

def write(path, data):
    with open(path, "wb") as f:
        f.write(data)

# links: "a" a directory, "b" an empty file made a second link to "a"
t = tree("links")
d = t
for i in range(40):
    os.mkdir(os.path.join(d, "a"))
    write(os.path.join(d, "b"), b"")
    d = os.path.join(d, "a")
write(os.path.join(d, "f"), b"bottom\n")
im = mkfs("links.base", t)
p = "/"
for i in range(40):
    a, b = im.dirent(p, "a"), im.dirent(p, "b")
    im.set_dirent(b[0], nid=a[1], ftype=FT_DIR)
    p += "a/"
im.save(os.path.join(w, "links.erofs"))

# repeat: one directory block of 202 names, named 100000 times by a chunk map
t = tree("repeat")
os.mkdir(os.path.join(t, "big"))
for i in range(200):
    write(os.path.join(t, "big", "f%03d" % i), b"x%d\n" % i)
im = mkfs("repeat.base", t)
big = im.lookup("/big")
assert big.size <= im.bsz
blk = im.append_block(im.d[im.data_off(big, 0):im.data_off(big, 0) + big.size])
n = 100000
nid = im.append_meta(compact_inode(0o40755, n * im.bsz, 0, nlink=2, layout=4) +
                     struct.pack("<%dI" % n, *([blk] * n)))
im.add_incompat(INCOMPAT_CHUNKED_FILE)
im.finish()
im.set_dirent(im.dirent("/", "big")[0], nid=nid)
im.save(os.path.join(w, "repeat.erofs"))

# dotdot: /sub's "." and ".." name /other
t = tree("dotdot")
for d in ("sub", "sub/x", "other"):
    os.mkdir(os.path.join(t, d))
write(os.path.join(t, "f"), b"root-f\n")
write(os.path.join(t, "sub", "f"), b"sub-f\n")
write(os.path.join(t, "other", "f"), b"other-f\n")
im = mkfs("dotdot.base", t)
other = im.lookup("/other")
for e in im.dirents(im.lookup("/sub")):
    if e[4] in (b".", b".."):
        im.set_dirent(e[0], nid=other.nid)
im.save(os.path.join(w, "dotdot.erofs"))

# slash: /d/bb renamed "b/" (still in order), /e after it
t = tree("slash")
os.mkdir(os.path.join(t, "d"))
os.mkdir(os.path.join(t, "e"))
for nm in ("aa", "bb", "cc"):
    write(os.path.join(t, "d", nm), nm.encode() + b"\n")
write(os.path.join(t, "e", "z"), b"z\n")
im = mkfs("slash.base", t)
im.set_name(im.dirent("/d", "bb")[3], b"b/")
im.save(os.path.join(w, "slash.erofs"))

# badfile: /d1/bad.bin's blocks past the end of the image
t = tree("badfile")
os.mkdir(os.path.join(t, "d1"))
os.mkdir(os.path.join(t, "d2"))
write(os.path.join(t, "d1", "a.txt"), b"a\n")
write(os.path.join(t, "d1", "bad.bin"), b"\xa5" * 8192)
write(os.path.join(t, "d1", "z.txt"), b"z\n")
write(os.path.join(t, "d2", "ok"), b"ok\n")
os.chmod(os.path.join(t, "d1"), 0o750)
os.utime(os.path.join(t, "d1"), (1000000000, 1000000000))
im = mkfs("badfile.base", t)
bad = im.lookup("/d1/bad.bin")
assert bad.layout == 0
struct.pack_into("<I", im.d, bad.pos + 16, 0x00ffff00)
im.save(os.path.join(w, "badfile.erofs"))

# nospace: 1 MiB of data in 8 files under two directories
t = tree("nospace")
for d in ("p", "q"):
    os.mkdir(os.path.join(t, d))
    for i in range(4):
        write(os.path.join(t, d, "r%d" % i), os.urandom(128 << 10))
mkfs("nospace.erofs", t)

# symlinks: a flat 8192-byte file made a symlink of several sizes, and a
# 4000-byte inline symlink with a NUL at byte 10
t = tree("symlinks")
write(os.path.join(t, "big8192"), b"a" * 8192)
os.symlink("b" * 4000, os.path.join(t, "lnk4000"))
mkfs("symlinks.base", t)
for size in (4095, 4096, 5000, 70000):
    im = Image(os.path.join(w, "symlinks.base"))
    f = im.lookup("/big8192")
    assert f.layout == 0
    im.set_mode(f, 0o120777)
    im.set_size(f, size)
    im.set_dirent(im.dirent("/", "big8192")[0], ftype=FT_SYMLINK)
    im.save(os.path.join(w, "lnk%d.erofs" % size))
im = Image(os.path.join(w, "symlinks.base"))
l = im.lookup("/lnk4000")
im.d[im.data_off(l, 10)] = 0
im.save(os.path.join(w, "lnknul.erofs"))

# xattr: a regular file with user.* and trusted.* xattrs made a symlink
t = tree("xattr")
write(os.path.join(t, "xf"), b"target")
os.setxattr(os.path.join(t, "xf"), "user.foo", b"bar")
os.setxattr(os.path.join(t, "xf"), "trusted.t", b"tv")
im = mkfs("xattr.base", t)
f = im.lookup("/xf")
im.set_mode(f, 0o120777)
im.set_dirent(im.dirent("/", "xf")[0], ftype=FT_SYMLINK)
im.save(os.path.join(w, "xattr.erofs"))

# order: names that sort between a directory and its contents ("a-b" and
# "a.c" come before "a/x" in path order), nested, with hard links across them
t = tree("order")
for d in ("a", "a/x", "a-b", "a-b/y", "a-b/y-", "a.c", "a!", "a/x/z", "b"):
    os.makedirs(os.path.join(t, d))
for f in ("a/f", "a-b/f", "a-b/y/f", "a-b/y-/f", "a.c/f", "a!/f", "a/x/z/f", "a0", "a-",
          "a/x-", "a/x.", "b/f"):
    write(os.path.join(t, f), f.encode())
os.link(os.path.join(t, "a/f"), os.path.join(t, "b/link-to-a-f"))
os.link(os.path.join(t, "a/f"), os.path.join(t, "a-b/y-/link"))
mkfs("order.erofs", t)

# twice: /dup holds . .. a b c d e f g; "b" renamed "c" (the kernel's first
# probe is dirent 4, the original "c"), and "a" renamed "b" in a second image
t = tree("twice")
os.mkdir(os.path.join(t, "dup"))
for nm in "abcdefg":
    write(os.path.join(t, "dup", nm), nm.encode() * 3 + b"\n")
for img, old, new in (("twice1", "b", b"c"), ("twice2", "a", b"b")):
    im = mkfs(img + ".base", t) if img == "twice1" else Image(os.path.join(w, "twice1.base"))
    names = [e[4] for e in im.dirents(im.lookup("/dup"))]
    assert names == [b".", b".."] + [c.encode() for c in "abcdefg"], names
    im.set_name(im.dirent("/dup", old)[3], new)
    im.save(os.path.join(w, img + ".erofs"))
EOF

if ! kmount "$work/links.erofs"; then
	echo "note: no kernel loop mount here; the kernel comparisons are skipped"
	have_kernel=0
else
	kumount
fi

# ---- links: 2^40 paths, 40 directories ---------------------------------
img=$work/links.erofs
for cmd in "ls -R" manifest fingerprint domain extract; do
	name="links-${cmd// /}"
	case $cmd in
	extract) run "$name" extract "$img" "$work/links-x" ;;
	*) run "$name" $cmd "$img" ;;
	esac
	finished_failing "$name"
	n=$(grep -c 'directory already seen under another path' "$work/$name.err")
	[ "$n" = 40 ] && ok || bad "$name: $n reports of a second directory link, want 40"
	grep -q "/a/b: directory already seen" "$work/$name.err" && ok ||
		bad "$name: the second link is not named by its path"
done
# the manifest: the root, 40 directories "a" and the file at the bottom
rows=$(grep -vc '^#' "$work/links-manifest.out")
[ "$rows" = 42 ] && ok || bad "links manifest: $rows rows, want 42"
deep=$work/links-x$(printf '/a%.0s' $(seq 40))/f
[ "$(cat "$deep" 2>/dev/null)" = bottom ] && ok || bad "links extract: $deep missing"

# ---- repeat: the listing stops where the names come again ---------------
img=$work/repeat.erofs
run repeat-ls ls "$img" /big
finished_failing repeat-ls
n=$(wc -l <"$work/repeat-ls.out")
[ "$n" = 200 ] && ok || bad "repeat ls: $n names, want the first block's 200"
grep -q '/big: readdir' "$work/repeat-ls.err" && ok || bad "repeat ls: readdir error not named"
for cmd in "ls -R" manifest fingerprint domain; do
	name="repeat-${cmd// /}"
	run "$name" $cmd "$img"
	finished_failing "$name"
done
rows=$(grep -vc '^#' "$work/repeat-manifest.out")
[ "$rows" = 202 ] && ok || bad "repeat manifest: $rows rows, want 202"
n=$(wc -l <"$work/repeat-fingerprint.out")
[ "$n" = 200 ] && ok || bad "repeat fingerprint: $n files, want 200"
grep -q '^files read  *200 ' "$work/repeat-domain.out" && ok ||
	bad "repeat domain: $(grep 'files read' "$work/repeat-domain.out")"

# ---- dotdot: "." and ".." from the path, as on the kernel ---------------
img=$work/dotdot.erofs
want() { # PATH CONTENT
	run dotdot cat "$img" "$1"
	if [ "$rc" = 0 ] && [ "$(cat "$work/dotdot.out")" = "$2" ]; then ok; else
		bad "dotdot: cat $1 gave '$(cat "$work/dotdot.out")' (status $rc), want '$2'"
	fi
}
want /sub/../f root-f
want /sub/./f sub-f
want /sub/x/../../f root-f
want /../../sub/f sub-f
want /sub/x/.././f sub-f
run dotdot-stat stat --json "$img" /sub/..
run dotdot-root stat --json "$img" /
cmp -s <(sed 's/"path": "[^"]*", //' "$work/dotdot-stat.out") \
	<(sed 's/"path": "[^"]*", //' "$work/dotdot-root.out") && ok ||
	bad "dotdot: /sub/.. is not the root"
if [ $have_kernel = 1 ] && kmount "$img"; then
	for p in /sub/../f /sub/./f /sub/x/../../f /sub/x/.././f; do
		run dotdot cat "$img" "$p"
		[ "$(cat "$mnt$p")" = "$(cat "$work/dotdot.out")" ] && ok ||
			bad "dotdot: $p differs from the kernel's"
	done
	kumount
fi

# ---- slash: a name holding '/' ------------------------------------------
img=$work/slash.erofs
run slash-ls ls "$img" /d
finished_failing slash-ls
[ "$(cat "$work/slash-ls.out")" = aa ] && ok || bad "slash ls: $(cat "$work/slash-ls.out")"
for cmd in "ls -R" manifest fingerprint; do
	name="slash-${cmd// /}"
	run "$name" $cmd "$img"
	finished_failing "$name"
	grep -q 'b/' "$work/$name.out" && bad "$name: the name with '/' is listed" || ok
	grep -q '/d: readdir' "$work/$name.err" && ok || bad "$name: /d's readdir error not named"
done
# the walk went on past /d
grep -q '^/e/z	' "$work/slash-manifest.out" && ok || bad "slash manifest: /e/z missing"
grep -q '^/d/aa	' "$work/slash-manifest.out" && ok || bad "slash manifest: /d/aa missing"
grep -q '^/e/z	' "$work/slash-fingerprint.out" && ok || bad "slash fingerprint: /e/z missing"
run slash-cat cat "$img" /d/cc
[ "$rc" = 0 ] && [ "$(cat "$work/slash-cat.out")" = cc ] && ok || bad "slash: cat /d/cc ($rc)"
if [ $have_kernel = 1 ] && kmount "$img"; then
	python3 - "$mnt" <<'EOF' && ok || bad "slash: the kernel lists /d or cannot read /d/cc"
import errno, os, sys
m = sys.argv[1]
try:
    os.listdir(os.path.join(m, "d"))
    sys.exit("listed")
except OSError as e:
    # the VFS's filldir refuses the name with EIO; the library says
    # EFSCORRUPTED, its errno for every corrupt structure
    if e.errno != errno.EIO:
        sys.exit("errno %d" % e.errno)
if open(os.path.join(m, "d", "cc")).read() != "cc\n":
    sys.exit("cc")
EOF
	kumount
fi

# ---- badfile: one bad file, the rest made ------------------------------
img=$work/badfile.erofs
run badfile-manifest manifest "$img"
finished_failing badfile-manifest
for p in /d1/a.txt /d1/z.txt /d2/ok /d2; do
	grep -q "^$p	" "$work/badfile-manifest.out" && ok || bad "badfile manifest: $p missing"
done
grep -q '^/d1/bad.bin	ERROR	' "$work/badfile-manifest.out" && ok ||
	bad "badfile manifest: no ERROR row for /d1/bad.bin"
run badfile-extract extract "$img" "$work/badfile-x"
finished_failing badfile-extract
grep -q '/d1/bad.bin' "$work/badfile-extract.err" && ok || bad "badfile extract: bad.bin not named"
[ -e "$work/badfile-x/d1/bad.bin" ] && bad "badfile extract: a partial bad.bin left" || ok
[ "$(cat "$work/badfile-x/d1/z.txt" 2>/dev/null)" = z ] && ok || bad "badfile extract: z.txt"
[ "$(cat "$work/badfile-x/d2/ok" 2>/dev/null)" = ok ] && ok || bad "badfile extract: d2/ok"
if [ $have_kernel = 1 ] && kmount "$img"; then
	for d in d1 d2 .; do
		k=$(stat -c '%a %Y' "$mnt/$d")
		x=$(stat -c '%a %Y' "$work/badfile-x/$d")
		[ "$k" = "$x" ] && ok || bad "badfile extract: $d is '$x', the kernel shows '$k'"
	done
	kumount
fi

# ---- nospace: one message ----------------------------------------------
mkdir "$work/full"
mount -t tmpfs -o size=256k tmpfs "$work/full"
run nospace extract "$work/nospace.erofs" "$work/full/x"
finished_failing nospace
n=$(wc -l <"$work/nospace.err")
[ "$n" = 1 ] && grep -q 'no space left' "$work/nospace.err" && ok ||
	{ bad "nospace: $n lines on stderr, want one"; head -3 "$work/nospace.err"; }
umount "$work/full"

# ---- symlinks: as readlink(2) on the kernel -----------------------------
# target_of IMAGE PATH: the target erofs-share ls -l --json shows
target_of() {
	run lnk ls -l --json "$1" "$2"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["target"], end="")' \
		"$work/lnk.out"
}
for s in 4095 4096 5000 70000 nul; do
	img=$work/lnk$s.erofs
	case $s in nul) p=/lnk4000 ;; *) p=/big8192 ;; esac
	got=$(target_of "$img" "$p")
	case $s in
	nul) want=bbbbbbbbbb ;;
	*) want=$(printf 'a%.0s' $(seq 4095)) ;;
	esac
	[ "$got" = "$want" ] && ok || bad "symlink $s: ${#got} bytes, want ${#want}"
	if [ $have_kernel = 1 ] && kmount "$img"; then
		k=$(readlink "$mnt$p")
		[ "$got" = "$k" ] && ok || bad "symlink $s: ${#got} bytes, the kernel ${#k}"
		run lnkstat stat --json "$img" "$p"
		ls_size=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["size"])' \
			"$work/lnkstat.out")
		[ "$ls_size" = "$(stat -c %s "$mnt$p")" ] && ok || bad "symlink $s: size $ls_size"
		kumount
	fi
done

# ---- xattr: user.* on a symlink ----------------------------------------
img=$work/xattr.erofs
run xattr xattr "$img" /xf
[ "$rc" = 0 ] && [ "$(cat "$work/xattr.out")" = "trusted.t=tv" ] && ok ||
	bad "xattr: '$(cat "$work/xattr.out")' (status $rc)"
if [ $have_kernel = 1 ] && kmount "$img"; then
	python3 - "$mnt/xf" "$work/xattr.out" <<'EOF' && ok || bad "xattr: differs from the kernel"
import errno, os, sys
p = sys.argv[1]
names = os.listxattr(p, follow_symlinks=False)
assert sorted(names) == ["trusted.t", "user.foo"], names
got = []
for n in sorted(names):
    try:
        got.append("%s=%s" % (n, os.getxattr(p, n, follow_symlinks=False).decode()))
    except OSError as e:
        assert e.errno == errno.ENODATA and n.startswith("user."), (n, e)
assert got == open(sys.argv[2]).read().split("\n")[:-1], got
EOF
	kumount
fi

# ---- order: the streamed manifest is in path order, as treecmp's ---------
img=$work/order.erofs
run order-manifest manifest "$img"
[ "$rc" = 0 ] && ok || bad "order: manifest exited $rc"
python3 - "$work/order-manifest.out" <<'EOF' && ok || bad "order: rows not in path order"
import sys
rows = [l.split("\t")[0] for l in open(sys.argv[1]) if not l.startswith("#")]
assert len(rows) == 24 and rows == sorted(rows, key=lambda p: p.encode()), rows
EOF
if [ $have_kernel = 1 ] && kmount "$img"; then
	python3 "$src/tests/tools/treecmp.py" --list "$mnt" >"$work/order-kernel.out" 2>/dev/null
	cmp -s "$work/order-kernel.out" "$work/order-manifest.out" && ok ||
		{ bad "order: manifest differs from treecmp's of the kernel mount";
		  diff "$work/order-kernel.out" "$work/order-manifest.out" | head -5; }
	kumount
fi

# ---- twice: lookup picks the kernel's entry -----------------------------
for t in twice1:c twice2:b; do
	img=$work/${t%:*}.erofs
	name=${t#*:}
	run twice cat "$img" "/dup/$name"
	[ "$rc" = 0 ] && ok || bad "$t: cat /dup/$name failed"
	if [ $have_kernel = 1 ] && kmount "$img"; then
		[ "$(cat "$mnt/dup/$name")" = "$(cat "$work/twice.out")" ] && ok ||
			bad "$t: /dup/$name is '$(cat "$work/twice.out")', the kernel's '$(cat "$mnt/dup/$name")'"
		kumount
	fi
	run twice-ls ls "$img" /dup
	finished_failing twice-ls
done
# hand-derived: the kernel's first probe in the block is dirent 4 (the first "c")
run twice cat "$work/twice1.erofs" /dup/c
[ "$(cat "$work/twice.out")" = ccc ] && ok || bad "twice1: /dup/c is not the original c"

echo "test_hostile_cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
