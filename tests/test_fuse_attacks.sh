#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The domain's disclosure and poisoning attacks through erofs-share-fuse: a
# forged copy of digest-plain whose /bound/rand-4097 claims the fingerprint
# of /bound/text-4097 (same size, other bytes), mounted next to the real
# image.  Under --policy trust both attacks succeed (documented: the claim
# is believed); under verify and compute both fail, with and without
# -o share_nodes.  Expected bytes come from the kernel-read manifest.
#
# usage: bash tests/test_fuse_attacks.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?build dir}
src=${2:?source dir}
. "$src/tests/fuse/lib.sh"
fuse_require

man=$fix/digest-plain.erofs.manifest
sha_of() {
	awk -F'\t' -v p="$1" '$1 == p { print $12 }' "$man"
}
victim=$(sha_of /bound/text-4097)
attacker=$(sha_of /bound/rand-4097)
[ -n "$victim" ] && [ -n "$attacker" ] && [ "$victim" != "$attacker" ] ||
	{ fail "manifest of digest-plain lacks the two files"; finish; }
ramdir 16m
python3 - "$fix/digest-plain.erofs" "$tmp/ram/forged.erofs" "$attacker" "$victim" <<'PY' ||
import sys
src, dst, attacker, victim = sys.argv[1:5]
d = bytearray(open(src, "rb").read())
needle = b"sha256:" + bytes.fromhex(attacker)
at = d.find(needle)
if at < 0 or d.find(needle, at + 1) >= 0:
    sys.exit("the attacker's fingerprint is not found exactly once")
d[at + 7:at + 39] = bytes.fromhex(victim)
open(dst, "wb").write(d)
PY
	{ fail "forging the image"; finish; }

m=$tmp/m
for policy in trust verify compute; do
	for sn in "" share_nodes; do
		opts=(--policy "$policy")
		[ -n "$sn" ] && opts+=(-o share_nodes)
		for attack in disclosure poisoning; do
			what="$policy${sn:+ $sn} $attack"
			fuse_start "$policy$sn$attack" "$m" "${opts[@]}" \
				victim="$fix/digest-plain.erofs" attacker="$tmp/ram/forged.erofs" || continue
			if [ "$attack" = disclosure ]; then
				sha256sum "$m/victim/bound/text-4097" >/dev/null
				got=$(sha256sum <"$m/attacker/bound/rand-4097" | cut -d' ' -f1)
				if [ "$policy" = trust ]; then
					[ "$got" = "$victim" ] ||
						fail "$what: the attacker did not read the victim's bytes (trust believes claims)"
				else
					[ "$got" = "$attacker" ] || fail "$what: the attacker read $got, not its own bytes"
				fi
			else
				sha256sum "$m/attacker/bound/rand-4097" >/dev/null
				got=$(sha256sum <"$m/victim/bound/text-4097" | cut -d' ' -f1)
				if [ "$policy" = trust ]; then
					[ "$got" = "$attacker" ] ||
						fail "$what: the victim did not read the attacker's bytes (trust believes claims)"
				else
					[ "$got" = "$victim" ] || fail "$what: the victim read $got, not its own bytes"
				fi
			fi
			fuse_stop "$policy$sn$attack" "$m"
		done
	done
done
finish
