#!/bin/sh
# The soak test, inside the test VM (run it through tests/soak/run): the
# camera -> encode + display pipeline (pipelines/camera-encode-display's
# graph, run by tools/zc-run) for a set number of frames, sampled every few
# seconds while it runs: the process's open fds and RSS, zcam dma-bufs in
# bufinfo, DRM framebuffers, zcam's live buffers and fences. After a warm-up
# (the first samples: pools fill, the encoder starts), the second half of the
# run must not exceed the first half: no fd, dma-buf, framebuffer, buffer or
# fence more, RSS at most SOAK_RSS_SLACK_KB more. At the end every frame went
# through (zcamsrc frames, zcfence pushed), the display copied none, and
# after exit nothing of the run is left and zcam unloads
# (tests/kmod/unload.sh). Prints TAP and the samples.
#   usage: soak.sh SOURCE_ROOT BUILD_ROOT
# Settings (environment): SOAK_FRAMES=3000 SOAK_INTERVAL=5 (seconds)
#   SOAK_WARMUP=3 (samples left out) SOAK_RSS_SLACK_KB=2048
#   SOAK_LOG=build/soak/samples.tsv
set -u
top=$1 build=$2
frames=${SOAK_FRAMES:-3000} interval=${SOAK_INTERVAL:-5} warmup=${SOAK_WARMUP:-3}
rss_slack=${SOAK_RSS_SLACK_KB:-2048}
log=${SOAK_LOG:-$build/soak/samples.tsv}
[ -e /dev/zcam0 ] || { echo "1..0 # SKIP no /dev/zcam0: run inside the test VM"; exit 77; }
export GST_PLUGIN_PATH="$build/plugins"
dbg=/sys/kernel/debug
mkdir -p "$(dirname "$log")"
out=$(dirname "$log")/zc-run.out

n=0 failed=0
check() { # NAME COMMAND...
	name=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; failed=$((failed + 1)); fi
}
fbs() { cat "$dbg"/dri/*/framebuffer 2>/dev/null | grep -c '^framebuffer\['; }
zcam_bufs() { awk -F '\t' '$5 == "zcam"' "$dbg/dma_buf/bufinfo" | grep -c .; }
zstat() { sed -n "s/^$1: *//p" "$dbg/zcam/zcam0/stats"; }
settles() { # bounded wait (0.2 s steps, 10 s) for COMMAND to hold
	t=50
	while [ $t -gt 0 ]; do "$@" && return 0; t=$((t - 1)); sleep 0.2; done
	return 1
}
fbs0=$(fbs)

"$build/tools/zc-run" zcamsrc num-buffers="$frames" \
	! video/x-raw,format=BGRx,width=640,height=480 ! tee name=t \
	t. ! queue ! zcfence mode=wait ! v4l2fwhtenc output-io-mode=dmabuf-import \
	! fakesink \
	t. ! queue ! zckmssink >"$out" 2>&1 &
pid=$!
start=$(date +%s)
printf 'seconds\tfds\trss_kb\tzcam_dmabufs\tframebuffers\tlive_buffers\tlive_fences\tframes\n' >"$log"
sed 's/^/# /' "$log"
while kill -0 "$pid" 2>/dev/null; do
	sleep "$interval"
	fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	[ "$fds" -gt 0 ] || break
	rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status" 2>/dev/null)
	[ -n "$rss" ] || break
	row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$(($(date +%s) - start))" "$fds" "$rss" \
		"$(zcam_bufs)" "$(fbs)" "$(zstat live_buffers)" "$(zstat live_fences)" \
		"$(zstat frames)")
	echo "$row" >>"$log"
	# As it goes: a long run shows progress (and the VM's watchdog sees a
	# console that is alive).
	echo "# $row"
done
wait "$pid"
rc=$?
elapsed=$(($(date +%s) - start))
grep '^zc-run: stats' "$out" | sed 's/^/# /'

# Rows after the warm-up, split in halves; prints "NAME first_max last_max"
# per column.
halves=$(awk -F '\t' -v w="$warmup" 'NR > 1 { r[++m] = $0 }
END {
	k = m - w
	if (k < 4) { print "too-few " m; exit }
	h = int(k / 2)
	split("x fds rss_kb zcam_dmabufs framebuffers live_buffers live_fences", names, " ")
	for (c = 2; c <= 7; c++) {
		a = -1; b = -1
		for (i = w + 1; i <= m; i++) {
			split(r[i], f, "\t")
			v = f[c] + 0
			if (i <= w + h) { if (v > a) a = v } else { if (v > b) b = v }
		}
		print names[c], a, b
	}
}' "$log")
echo "$halves" | sed 's/^/# first half max, second half max: /'
flat() { # NAME SLACK
	echo "$halves" | awk -v c="$1" -v s="$2" '$1 == c { ok = ($3 <= $2 + s) } END { exit !ok }'
}
check "pipeline ran to EOS ($elapsed s)" [ "$rc" = 0 ]
enough_samples() { ! echo "$halves" | grep -q too-few; }
check "enough samples after the warm-up" enough_samples
for c in fds zcam_dmabufs framebuffers live_buffers live_fences; do
	check "$c flat" flat "$c" 0
done
check "RSS flat (within ${rss_slack} kB)" flat rss_kb "$rss_slack"
stat() { awk -v e="$1" -v k="$2" '$1 == "zc-run:" && $2 == "stats" && $3 == e {
	for (i = 4; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' "$out"; }
check "zcamsrc pushed $frames frames" [ "$(stat zcamsrc0 frames)" = "$frames" ]
check "zcfence pushed $frames frames" [ "$(stat zcfence0 pushed)" = "$frames" ]
shown=$(stat zckmssink0 shown) copies=$(stat zckmssink0 copies)
shown_no_copy() { [ "${shown:-0}" -gt 0 ] && [ "$copies" = 0 ]; }
check "zckmssink showed $shown frames, copied ${copies:-?}" shown_no_copy
no_zcam_bufs() { [ "$(zcam_bufs)" = 0 ]; }
fbs_back() { [ "$(fbs)" -le "$fbs0" ]; }
check "no zcam dma-buf left" settles no_zcam_bufs
check "framebuffers back to $fbs0" settles fbs_back
u=$("$top/tests/kmod/unload.sh" "$build/kmod/zcam.ko" 2>&1); ru=$?
echo "$u" | sed 's/^/#   /'
check "zcam's counters are zero and it unloads (unload.sh)" [ "$ru" = 0 ]
echo "# soak: $frames frames in $elapsed s, samples in $log"
echo "1..$n"
[ "$failed" = 0 ]
