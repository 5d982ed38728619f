#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Several images in one erofs-share-fuse mount, and -o share_nodes:
# - shared-a and shared-b in one mount: each directory equals its kernel
#   mount (treecmp.py; and the kernel's inode numbers without share_nodes);
# - with share_nodes, the twins (one content, once in each image, from the
#   kernel-read manifests) whose attributes are equal show one st_ino, the
#   others two; after reading one twin, the other's pages are resident
#   (fincore), and without share_nodes they are not;
# - equal content with another mode, owner, mtime or xattr is not merged.
#
# usage: test_fuse_share.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?build dir}
src=${2:?source dir}
. "$src/tests/fuse/lib.sh"
fuse_require
if ! command -v fincore >/dev/null; then
	echo "SKIP: no fincore (util-linux)"
	exit 77
fi

kmount "$fix/shared-a.erofs" "$tmp/k-a" && kmount "$fix/shared-b.erofs" "$tmp/k-b" ||
	{ fail "kernel mounts of shared-a/shared-b"; finish; }
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
		if [ "$variant" = plain ] && ! cmp -s <(inodes "$tmp/$1") <(inodes "$m/$2"); then
			fail "$variant: $2: inode numbers differ from the kernel's"
			diff <(inodes "$tmp/$1") <(inodes "$m/$2") | head -5
		fi
	done
	fuse_stop "two-$variant" "$m"
done

# Twins: one st_ino exactly when their attributes are equal.
python3 "$src/tests/fuse/twins.py" "$fix/shared-a.erofs.manifest" "$fix/shared-b.erofs.manifest" \
	"$tmp/k-a" "$tmp/k-b" >"$tmp/twins"
nsame=$(grep -c '^same' "$tmp/twins")
ndiff=$(grep -c '^diff' "$tmp/twins")
echo "twins: $nsame with equal attributes, $ndiff with other attributes"
[ "$nsame" -gt 10 ] || fail "only $nsame twins with equal attributes in the fixtures"
m=$tmp/sn
fuse_start sn "$m" -o share_nodes "$fix/shared-a.erofs" b="$fix/shared-b.erofs"
# Every regular file shows its node's inode number (bit 63 set) also as the
# kernel keeps it from a listing (find reads directories with readdirplus,
# then stats): before, a listing gave the image's number, and a file read
# meanwhile showed the other one, so hard links looked apart.
low=$(find "$m/b" -type f -exec stat -c %i {} + | awk '$1 < 9223372036854775808' | wc -l)
[ "$low" = 0 ] || fail "share_nodes: $low files show the image's inode number after a listing"
bad=0
while IFS=$'\t' read -r kind pa pb; do
	ia=$(stat -c %i "$m/shared-a$pa") ib=$(stat -c %i "$m/b$pb")
	if [ "$kind" = same ] && [ "$ia" != "$ib" ]; then
		fail "share_nodes: $pa and $pb have equal attributes but inodes $ia, $ib"
		bad=$((bad + 1))
	elif [ "$kind" = diff ] && [ "$ia" = "$ib" ]; then
		fail "share_nodes: $pa and $pb differ in attributes but share inode $ia"
		bad=$((bad + 1))
	fi
	[ "$bad" -gt 5 ] && break
done <"$tmp/twins"

# Page cache: reading one twin makes the other resident only with share_nodes.
pagesof() {
	fincore -n -o PAGES "$1" | tr -d ' '
}
big=$(awk -F'\t' '$1 == "same" { print $2 "\t" $3 }' "$tmp/twins" | while IFS=$'\t' read -r pa pb; do
	s=$(stat -c %s "$tmp/k-a$pa")
	[ "$s" -ge 16384 ] && { echo "$pa	$pb	$s"; break; }
done)
[ -n "$big" ] || fail "no twin of 16 KiB or more"
IFS=$'\t' read -r pa pb size <<<"$big"
pages=$(((size + 4095) / 4096))
cat "$m/shared-a$pa" >/dev/null
got=$(pagesof "$m/b$pb")
echo "share_nodes: $pb after reading $pa: $got of $pages pages resident"
[ "$got" = "$pages" ] || fail "share_nodes: $pb has $got of $pages pages resident"
cmp -s "$m/b$pb" "$tmp/k-b$pb" || fail "share_nodes: $pb differs from the kernel's"
fuse_stop sn "$m"

m=$tmp/nosn
fuse_start nosn "$m" "$fix/shared-a.erofs" b="$fix/shared-b.erofs"
cat "$m/shared-a$pa" >/dev/null
got=$(pagesof "$m/b$pb")
echo "no share_nodes: $pb after reading $pa: $got of $pages pages resident"
[ "$got" = 0 ] || fail "without share_nodes: $pb has $got pages resident before any read"
fuse_stop nosn "$m"

# Equal content, other attributes: built here, checked on the kernel's mounts.
if command -v mkfs.erofs >/dev/null; then
	ramdir 64m
	r=$tmp/ram
	head -c 40000 /dev/urandom >"$r/content"
	for v in base same mode owner mtime xattr; do
		mkdir -p "$r/$v"
		cp "$r/content" "$r/$v/f"
		chmod 0644 "$r/$v/f"
		chown 0:0 "$r/$v/f"
		touch -d @1700000000 "$r/$v/f"
	done
	chmod 0600 "$r/mode/f"
	chown 1000:1000 "$r/owner/f"
	touch -d @1700000001 "$r/mtime/f"
	setfattr -n user.tag -v x "$r/xattr/f" 2>/dev/null || rm -rf "$r/xattr"
	names=()
	for v in base same mode owner mtime xattr; do
		[ -d "$r/$v" ] || continue
		mkfs.erofs "$r/$v.erofs" "$r/$v" >/dev/null 2>&1 ||
			{ fail "mkfs.erofs of $v"; continue; }
		kmount "$r/$v.erofs" "$tmp/k-$v" || fail "kernel mount of $v"
		names+=("$r/$v.erofs")
	done
	# The kernel shows what the images hold.
	ref=$(stat -c '%a %u %g %Y %s' "$tmp/k-base/f")
	[ "$(stat -c '%a %u %g %Y %s' "$tmp/k-same/f")" = "$ref" ] || fail "same/f differs on the kernel's mount"
	for v in mode owner mtime; do
		[ "$(stat -c '%a %u %g %Y %s' "$tmp/k-$v/f")" != "$ref" ] ||
			fail "$v/f shows no difference on the kernel's mount"
	done
	m=$tmp/attrs
	fuse_start attrs "$m" --policy compute -o share_nodes "${names[@]}"
	base=$(stat -c %i "$m/base/f")
	[ "$(stat -c %i "$m/same/f")" = "$base" ] || fail "identical files of two images not merged"
	for v in mode owner mtime xattr; do
		[ -e "$m/$v/f" ] || continue
		[ "$(stat -c %i "$m/$v/f")" != "$base" ] || fail "$v/f merged with base/f"
		cmp -s "$m/$v/f" "$r/content" || fail "$v/f has other bytes"
	done
	fuse_stop attrs "$m"
	# verify, images without fingerprints: the twins are hashed when both are known.
	fuse_start attrs-verify "$m" -o share_nodes "$r/base.erofs" "$r/same.erofs"
	[ "$(stat -c %i "$m/same/f")" = "$(stat -c %i "$m/base/f")" ] ||
		fail "verify: identical files of two images without fingerprints not merged"
	fuse_stop attrs-verify "$m"
fi
finish
