#!/usr/bin/env bash
# The voicemail benchmarks against a lab dovecot, with the peers in the same
# run: python's imaplib and a raw read of the same response in python and in
# Go (voicemail/testdata/imaplib_bench.py), then IDLE notification latency
# for four delivery paths, then the local cache. Needs dovecot-imapd,
# dovecot-lmtpd and python3 (scripts/lib.sh installs them).
#   bench/voicemail/run.sh [-count 3] [-n 10000] [-iters 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
count=3 n=10000 iters=10
while [ $# -gt 0 ]; do
  case $1 in
    -count) count=$2; shift 2 ;;
    -n) n=$2; shift 2 ;;
    -iters) iters=$2; shift 2 ;;
    *) echo "usage: $0 [-count N] [-n MESSAGES] [-iters FETCHES]" >&2; exit 2 ;;
  esac
done
out=$(mktemp)
trap 'rm -f "$out" "$out.ratios"' EXIT
bench_lines() { grep -E -- '-[0-9]+[[:space:]]+[0-9]+[[:space:]]' || true; }
echo "== listing $n voicemails over TLS: $count runs (a new dovecot each), $iters fetches per figure"
for run in $(seq "$count"); do
  echo "-- run $run"
  VOICEMAIL_BENCH_N=$n go test -run '^$' -bench 'BenchmarkIntegrationList$' -benchtime "${iters}x" \
    -count 1 -benchmem -v ./voicemail/ >"$out" 2>&1 || { cat "$out"; exit 1; }
  bench_lines <"$out"
  grep -E 'ratio:' "$out" | sed 's/^ *bench_test.go:[0-9]*: //' >>"$out.ratios"
done
echo
echo "== ratios (each line compares figures of one run)"
cat "$out.ratios"
rm -f "$out.ratios"
echo
echo "== new-voicemail notification with IDLE: delivery to MessageArrived"
go test -run '^$' -bench 'BenchmarkIntegrationNotify$' -benchtime 15x -count 1 ./voicemail/ | bench_lines
echo
echo "== the list of $n from the local cache"
VOICEMAIL_BENCH_N=$n go test -run '^$' -bench 'BenchmarkCacheLoad' -benchtime 10x -count "$count" -benchmem ./voicemail/ | bench_lines
# Needs Cyrus (cyrus-common, sasl2-bin and imapd/idled: scripts/lib.sh).
echo
echo "== notification against Cyrus: LMTP delivery to MessageArrived, $count runs (a new Cyrus each), with a bare IDLE socket and our client against dovecot in the same run"
for run in $(seq "$count"); do
  echo "-- run $run"
  go test -run '^$' -bench 'BenchmarkIntegrationNotifyCyrus$' -benchtime 15x -count 1 -v ./voicemail/ >"$out" 2>&1 || { cat "$out"; exit 1; }
  bench_lines <"$out"
  grep -E 'ratio:' "$out" | sed 's/^ *cyrus_bench_test.go:[0-9]*: //'
done
