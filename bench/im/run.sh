#!/usr/bin/env bash
# The im benchmarks: OpenCSF's client and python3-slixmpp from Debian through
# the same lab prosody, in one run. Needs prosody and python3-slixmpp
# (apt-get install prosody python3-slixmpp). Flags go to the Go program:
#   bench/im/run.sh [-n 5000] [-m 1000] [-idle 200] [-roster 5000] [-v]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./bench/im "$@"
