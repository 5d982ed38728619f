#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share-fuse's control socket: images added and removed while the
# mount serves others (a reader of another image never sees a wrong byte);
# a removed image's paths are gone at once (also from a working directory
# inside it), its open files read to the end; bad requests get an error
# reply and leave the mount as it was; 200 add/remove cycles leak no
# descriptor, node or memory; stats as text and JSON.
#
# usage: test_fuse_control.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?build dir}
src=${2:?source dir}
. "$src/tests/fuse/lib.sh"
fuse_require

sock=$tmp/ctl.sock
m=$tmp/m
ctl() {
	"$bin" ctl "$sock" "$@"
}
kmount "$fix/shared-a.erofs" "$tmp/k-a" && kmount "$fix/shared-b.erofs" "$tmp/k-b" ||
	{ fail "kernel mounts"; finish; }
fuse_start ctl "$m" --control "$sock" || finish
pid=$fpid
[ "$(stat -c %a "$sock")" = 600 ] || fail "control socket mode $(stat -c %a "$sock"), not 600"
[ -z "$(ls -A "$m")" ] || fail "a mount without images is not empty"

ctl add a "$fix/shared-a.erofs" || fail "ctl add a"
ctl add b "$fix/shared-b.erofs" || fail "ctl add b"
[ "$(ls "$m" | tr '\n' ' ')" = "a b " ] || fail "after two adds the mount holds '$(ls "$m" | tr '\n' ' ')'"
ctl list >"$tmp/list" && [ "$(cut -f1 "$tmp/list" | tr '\n' ' ')" = "a b " ] ||
	fail "ctl list: $(cat "$tmp/list")"
python3 "$treecmp" "$tmp/k-a" "$m/a" >"$tmp/cmp" || fail "a differs from the kernel's mount"

# Errors: an error reply, exit 1, and the mount as it was.
printf 'not erofs' >"$tmp/junk"
ctl add c "$tmp/junk" 2>"$tmp/err" && fail "adding a non-EROFS file succeeded"
grep -q "error:" "$tmp/err" || fail "no error reply for a bad image: $(cat "$tmp/err")"
ctl add a "$fix/lz4.erofs" 2>/dev/null && fail "adding a second image named a succeeded"
ctl add ../x "$fix/lz4.erofs" 2>/dev/null && fail "adding an image named ../x succeeded"
ctl remove nosuch 2>/dev/null && fail "removing an unknown image succeeded"
"$bin" ctl "$sock" frobnicate 2>/dev/null
[ $? = 2 ] || fail "an unknown ctl request is not a usage error (2)"
[ "$(ls "$m" | tr '\n' ' ')" = "a b " ] || fail "failed requests changed the mount"

# A reader of b all along; a holder of a file and a directory of a.
(
	end=$((SECONDS + 600))
	while [ ! -e "$tmp/stop" ] && [ $SECONDS -lt $end ]; do
		for f in big/repetitive.txt shared/lib/python/module.py; do
			cmp -s "$m/b/$f" "$tmp/k-b/$f" || echo "reader: $f differs" >>"$tmp/reader.err"
		done
	done
) &
reader=$!
big=$(cd "$tmp/k-a" && find . -type f -size +40k | head -1)
big=${big#./}
[ -n "$big" ] || fail "no file over 40 KiB in shared-a"
python3 "$src/tests/fuse/holder.py" "$m/a/$big" "$m/a/big" repetitive.txt \
	"$tmp/ready" "$tmp/go" >"$tmp/holder.out" &
holder=$!
for ((i = 0; i < 200; i++)); do
	[ -e "$tmp/ready" ] && break
	sleep 0.05
done
[ -e "$tmp/ready" ] || fail "the holder did not start"
stat "$m/a/big/repetitive.txt" >/dev/null || fail "a/big/repetitive.txt missing before removal"

ctl remove a || fail "ctl remove a"
# Gone at once, cached entries included.
for p in a a/big a/big/repetitive.txt "a/$big"; do
	out=$(stat "$m/$p" 2>&1 >/dev/null) && fail "$p still resolves after removal"
	case $out in
	*"No such file or directory"*) ;;
	*) fail "$p after removal: '$out', not ENOENT" ;;
	esac
done
touch "$tmp/go"
wait "$holder"
want=$(sha256sum "$tmp/k-a/$big" | cut -d' ' -f1)
[ "$(sed -n 1p "$tmp/holder.out")" = "$want" ] ||
	fail "an open file of the removed image did not read to the end with the kernel's bytes"
[ "$(sed -n 2p "$tmp/holder.out")" = stale-ok ] ||
	fail "a name in a working directory of the removed image still resolves"
[ "$(ls "$m" | tr '\n' ' ')" = "b " ] || fail "after removal the mount holds '$(ls "$m" | tr '\n' ' ')'"
ctl add a "$fix/shared-a.erofs" || fail "adding a again"
python3 "$treecmp" "$tmp/k-a" "$m/a" >"$tmp/cmp" || fail "a added again differs from the kernel's mount"

# Cycles: descriptors, nodes and memory come back.
fds() {
	ls "/proc/$pid/fd" | wc -l
}
rss() {
	awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"
}
nodes() {
	ctl stats --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["nodes"])'
}
cycle() {
	ctl add c "$fix/lz4.erofs" &&
	cat "$m/c/big/"* >/dev/null 2>&1
	ls -R "$m/c" >/dev/null
	ctl remove c
}
for ((i = 0; i < 20; i++)); do
	cycle || { fail "cycle $i"; break; }
done
sync
fd0=$(fds) rss0=$(rss) nodes0=$(nodes)
for ((i = 0; i < 200; i++)); do
	cycle || { fail "cycle $i"; break; }
done
fd1=$(fds) rss1=$(rss) nodes1=$(nodes)
echo "200 cycles: fds $fd0 -> $fd1, RSS $rss0 -> $rss1 KiB, nodes $nodes0 -> $nodes1"
[ "$fd1" -le "$fd0" ] || fail "descriptors grew from $fd0 to $fd1"
[ "$nodes1" -le "$nodes0" ] || fail "nodes grew from $nodes0 to $nodes1"
if ldd "$bin" | grep -qE "libasan|libtsan"; then
	echo "RSS not checked under a sanitizer (its quarantine holds freed memory); leaks show at exit"
else
	[ "$rss1" -le $((rss0 + 16384)) ] || fail "RSS grew from $rss0 to $rss1 KiB"
fi

touch "$tmp/stop"
wait "$reader"
[ -s "$tmp/reader.err" ] && fail "the reader of b saw: $(head -3 "$tmp/reader.err")"

# Stats: text and JSON with the domain's, each image's and FUSE's counters.
ctl stats >"$tmp/stats" || fail "ctl stats"
grep -q "^image b " "$tmp/stats" || fail "ctl stats names no image b"
ctl stats --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["domain"]["logical_bytes"] > 0, s["domain"]
assert [i["name"] for i in s["images"]] == ["b", "a"], s["images"]
assert s["fuse"]["read"]["served"] > 0 and s["fuse"]["lookup"]["served"] > 0
' || fail "ctl stats --json"
fuse_stop ctl "$m"
[ -e "$sock" ] && fail "the control socket is left behind"

# An image read through the mount itself (added by its path in the mount):
# its reads are requests of this mount, answered while the request that
# needs them waits, as some thread always receives.  With -o direct_io the
# kernel caches none of it: every read of a file of it reads the outer one.
if command -v mkfs.erofs >/dev/null; then
	mkdir -p "$tmp/nest-src" "$tmp/nest"
	cp "$fix/plain-4k.erofs" "$tmp/nest-src/inner.erofs"
	if mkfs.erofs "$tmp/outer.erofs" "$tmp/nest-src" >/dev/null 2>&1 &&
		kmount "$fix/plain-4k.erofs" "$tmp/k-inner"; then
		ns=$tmp/nest.sock
		fuse_start nest "$tmp/nest" -o direct_io --control "$ns" outer="$tmp/outer.erofs" && {
			n=0
			if timeout -s KILL 30 "$bin" ctl "$ns" add inner "$tmp/nest/outer/inner.erofs" >/dev/null; then
				while IFS=$'\t' read -r p type _ _ _ size _; do
					[ "$type" = reg ] && [ "$size" != 0 ] || continue
					timeout -s KILL 30 cmp -s "$tmp/nest/inner$p" "$tmp/k-inner$p" ||
						{ fail "an image inside the mount: $p differs or hung"; break; }
					n=$((n + 1))
					[ $n = 20 ] && break
				done < <(grep -v '^#' "$fix/plain-4k.erofs.manifest")
			else
				fail "an image inside the mount: ctl add failed or hung"
			fi
			[ $n = 20 ] || fail "an image inside the mount: $n files read, not 20"
			# the daemon holds the inner image open in its own mount: remove
			# it, and the mount is free once the kernel forgets its nodes
			timeout -s KILL 30 "$bin" ctl "$ns" remove inner >/dev/null || fail "an image inside the mount: remove"
			for ((i = 0; i < 100; i++)); do
				fusermount3 -u "$tmp/nest" 2>/dev/null && break
				sleep 0.1
			done
			mounted=$(findmnt -n --mountpoint "$tmp/nest" | wc -l)
			[ "$mounted" = 0 ] || { fail "an image inside the mount: still busy after remove";
						fusermount3 -u -z "$tmp/nest"; }
			for ((i = 0; i < 100; i++)); do
				kill -0 "$fpid" 2>/dev/null || break
				sleep 0.1
			done
			kill -0 "$fpid" 2>/dev/null && { fail "an image inside the mount: the daemon hangs";
							 kill -KILL "$fpid"; }
			wait "$fpid" || fail "an image inside the mount: the daemon exited with $?"
			sanitizer_clean "$tmp/nest.log"
		}
	else
		fail "making or mounting the nested images"
	fi
else
	echo "SKIP (part): no mkfs.erofs for an image inside the mount"
fi
finish
