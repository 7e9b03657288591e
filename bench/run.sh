#!/usr/bin/env bash
# Runs OpenCSF's Go benchmarks and prints the figures the issues ask for.
# Peers that need servers (prosody, dovecot, kamailio) have their own
# scripts in the sub-directories here. Usage: bench/run.sh [go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchmem -cpu 1 "$@" ./csf/ ./dialrules/
