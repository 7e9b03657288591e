#!/usr/bin/env bash
# Runs the whole OpenCSF test suite: installs the lab servers, checks
# formatting, vets (also for Windows) and runs every test with the race
# detector against the real servers. With the servers installed by this
# script, a missing server is a failure, not a skip (CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_go
install_lab_servers
export CI="${CI:-true}"

log "go mod download"
go mod download

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi

log "go vet"
go vet ./...
log "go vet (GOOS=windows)"
GOOS=windows go vet ./...

log "go test -race"
go test -race -count=1 -timeout 25m ./... "$@"

# The soft phone's Opus codec (cgo over Debian's libopus) and its sound
# device (cgo over libasound, tested on ALSA's file and null plugins) are
# behind tags, so that the rest builds without a C toolchain.
# The race detector makes allocation counts meaningless (the tests that
# count allocations skip under it), so they run once more without it.
log "go test (allocation counts, without -race)"
go test -count=1 -run 'AllocationFree|Allocs' ./softphone/ ./dialrules/ ./voicemail/ "$@"

log "go vet -tags opus,alsa (softphone)"
go vet -tags opus,alsa ./softphone/...
log "go test -race -tags opus,alsa (softphone)"
go test -race -count=1 -timeout 10m -tags opus,alsa ./softphone/... "$@"
