#!/bin/sh
# Measures diago and our soft phone carrying the same number of calls in
# one run, one after the other (never at once: they would share the
# cores), and prints the ratio of their CPU per RTP packet and memory per
# call end.
#
#   bench/softphone/diago/run.sh -calls 1000 -duration 10s [-runs 2]
set -eu

calls=1000
duration=10s
runs=1
while [ $# -gt 0 ]; do
	case "$1" in
	-calls) calls=$2; shift 2 ;;
	-duration) duration=$2; shift 2 ;;
	-runs) runs=$2; shift 2 ;;
	*) echo "usage: $0 [-calls N] [-duration D] [-runs R]" >&2; exit 2 ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT

# Built first, so that compiling is not in anyone's measurement and no
# `go run` parent outlives an interrupted benchmark.
(cd "$here" && go build -o "$bin/diago-bench" .)
(cd "$root" && go build -o "$bin/softphone-bench" ./bench/softphone)

# field LINE-PATTERN UNIT-PATTERN FILE: the number just before UNIT-PATTERN
# on the first line matching LINE-PATTERN.
field() {
	grep -m1 -- "$1" "$3" | sed -n "s/.* \([0-9.]*\) $2.*/\1/p"
}

i=1
while [ "$i" -le "$runs" ]; do
	echo "== run $i of $runs: $calls calls, $duration, $(date -u +%H:%M:%SZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	"$bin/diago-bench" -calls "$calls" -duration "$duration" | tee "$bin/diago.out"
	"$bin/softphone-bench" -lines $((2 * calls)) -calls "$calls" -duration "$duration" -sipp | tee "$bin/ours.out"

	d=$(field 'µs CPU per RTP packet (sent + received)' 'µs CPU per RTP packet' "$bin/diago.out")
	o=$(field 'µs CPU per RTP packet (sent + received)' 'µs CPU per RTP packet' "$bin/ours.out")
	dm=$(field 'diago memory per active call' 'KiB (live' "$bin/diago.out")
	om=$(field 'memory per active call' 'KiB per end)' "$bin/ours.out")
	echo "-- same run: CPU per RTP packet (sent + received): ours $o µs, diago $d µs, ratio ours/diago $(echo "$o $d" | awk '{printf "%.3f", $1/$2}')"
	echo "-- same run: memory per call end (heap in use + stacks, ~1 s after set-up): ours $om KiB, diago $dm KiB, ratio ours/diago $(echo "$om $dm" | awk '{printf "%.3f", $1/$2}')"
	i=$((i + 1))
done
