#!/bin/bash
# SPDX-License-Identifier: MIT
#
# erofs-share-fuse's memory report and serving threads: `ctl stats` shows
# the daemon's resident set and threads as /proc says them, malloc's heap
# and the library's cache as its own counters say them; the daemon serves
# with at most --threads N threads, and by default at most one a CPU
# online (2 to 10), while readers in parallel keep it busy.
#
# usage: test_fuse_memory.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?build dir}
src=${2:?source dir}
. "$src/tests/fuse/lib.sh"
fuse_require

sock=$tmp/ctl.sock
m=$tmp/m
sanitized=false
ldd "$bin" | grep -qE "libasan|libtsan" && sanitized=true
default=$(getconf _NPROCESSORS_ONLN)
[ "$default" -lt 2 ] && default=2
[ "$default" -gt 10 ] && default=10

# readers DIR: four processes reading every regular file under DIR at once
readers() {
	local i pids=()
	for i in 1 2 3 4; do
		find "$1" -type f -print0 | sort -z | xargs -0 cat >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
}

# check NAME LIMIT: the serving threads under LIMIT and the memory report
check() {
	local name=$1 limit=$2 tasks stats
	readers "$m"
	stats=$("$bin" ctl "$sock" stats --json) || { fail "$name: ctl stats --json"; return; }
	tasks=$(ls "/proc/$fpid/task" | wc -l)
	# the main thread, the control socket's, and the serving ones (and
	# ThreadSanitizer's own background thread in that build)
	local others=2
	[ "${ESHARE_TEST_BUILD:-}" = tsan ] && others=3
	[ "$tasks" -le $((limit + others)) ] ||
		fail "$name: $tasks threads, more than $limit serving ones and $others others"
	python3 - "$name" "$fpid" "$tasks" "$sanitized" "$stats" <<'PY' || fail "$name: memory report"
import json, sys
name, pid, tasks, sanitized, s = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "true", json.loads(sys.argv[5])
m, d = s["memory"], s["domain"]
status = {}
with open(f"/proc/{pid}/status") as f:
    for line in f:
        k, _, v = line.partition(":")
        status[k] = v.split()
rss = int(status["VmRSS"][0]) * 1024
ok = True
def need(cond, what):
    global ok
    if not cond:
        print(f"{name}: {what}: {m}")
        ok = False
# read moments apart from an idle daemon: the same resident set, give or take
need(abs(m["rss_bytes"] - rss) <= 2 << 20, f"rss_bytes vs VmRSS {rss}")
need(0 < m["rss_anon_bytes"] <= m["rss_bytes"], "rss_anon_bytes")
need(m["threads"] == tasks, f"threads vs /proc's {tasks}")
# the cache's data and metadata, plus tail bytes waiting for a page (a few pages)
held = d["cached_data_bytes"] + d["cached_meta_bytes"]
need(held > 0 and held <= m["cache_bytes"] <= held + (64 << 10), f"cache_bytes vs the domain's {held}")
if not sanitized:
    # the sanitizers replace malloc: glibc's counters do not see their heap
    need(m["heap_arena_bytes"] > 0, "heap_arena_bytes")
    need(0 < m["heap_in_use_bytes"] <= m["heap_arena_bytes"] + m["heap_mmap_bytes"], "heap in use")
    need(m["heap_free_bytes"] <= m["heap_arena_bytes"], "heap_free_bytes")
sys.exit(0 if ok else 1)
PY
	"$bin" ctl "$sock" stats >"$tmp/stats" && grep -q "^memory:" "$tmp/stats" &&
		grep -q "^  rss_bytes  *[1-9]" "$tmp/stats" || fail "$name: no memory in the text stats"
}

for variant in default threads1 threads3; do
	case $variant in
	default) opts=() limit=$default ;;
	threads1) opts=(--threads 1) limit=1 ;;
	threads3) opts=(--threads 3) limit=3 ;;
	esac
	fuse_start "$variant" "$m" --control "$sock" "${opts[@]}" -o direct_io \
		a="$fix/shared-a.erofs" b="$fix/shared-b.erofs" || continue
	check "$variant" "$limit"
	fuse_stop "$variant" "$m"
done
finish
