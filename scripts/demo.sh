#!/usr/bin/env bash
# The OpenCSF demo: installs the lab servers, starts them on loopback with
# `csfctl lab up`, and drives OpenCSF through csfctl against them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_go
install_lab_servers
install_demo_tools

work=$(mktemp -d)
lab_pid=""
cleanup() {
  if [ -n "$lab_pid" ] && kill -0 "$lab_pid" 2>/dev/null; then
    kill -INT "$lab_pid" 2>/dev/null || true
    wait "$lab_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
show() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }

log "building csfctl"
go build -o "$work/csfctl" ./examples/csfctl
csfctl() { "$work/csfctl" "$@"; }

step "Start the lab: real servers on 127.0.0.1, a throwaway CA, users alice, bob and carol"
"$work/csfctl" lab up --dir "$work/lab" --servers prosody,dovecot,kamailio,radicale,tftpd,slapd --write-config "$work/lab.yaml" >"$work/lab.out" 2>"$work/lab.err" &
lab_pid=$!
for _ in $(seq 1 300); do
  grep -q '^ready' "$work/lab.out" 2>/dev/null && break
  kill -0 "$lab_pid" 2>/dev/null || { cat "$work/lab.err" >&2; exit 1; }
  sleep 0.1
done
grep -q '^ready' "$work/lab.out" || { echo "lab did not come up" >&2; cat "$work/lab.err" >&2; exit 1; }
cat "$work/lab.out"

step "The config the lab wrote, as alice sees it: each key's value, layer and source line"
show csfctl config explain --config "$work/lab.yaml" --user alice

step "Policy beats user: the same key under AdminData (user.reg, REGEDIT4) and Policies (policy.reg, UTF-16)"
show csfctl config explain --config "$work/lab.yaml" --user alice \
  --reg examples/csfctl/testdata/user.reg --reg examples/csfctl/testdata/policy.reg SipRegistrar
show csfctl config explain --config "$work/lab.yaml" --user alice \
  --reg examples/csfctl/testdata/user.reg --reg examples/csfctl/testdata/policy.reg --json StopWhenLastAppDetaches

if [ -f scripts/demo.d/order ]; then
  while read -r part; do
    [ -n "$part" ] || continue
    # shellcheck source=/dev/null
    . "scripts/demo.d/$part"
  done < scripts/demo.d/order
fi

step "Stop the lab"
kill -INT "$lab_pid"
wait "$lab_pid" || true
lab_pid=""
echo "demo finished"
