// Package opus is a small cgo binding to libopus (RFC 6716) for the soft
// phone: mono 16-bit PCM at 8, 12, 16, 24 or 48 kHz in, Opus packets out,
// and back. It is built only with the build tag "opus" and cgo (Debian:
// libopus-dev and pkg-config); otherwise [Available] is false and the
// constructors return [ErrUnavailable], so that the rest of OpenCSF builds
// and tests anywhere.
package opus

import "errors"

// ErrUnavailable is returned when the binary was built without libopus.
var ErrUnavailable = errors.New("opus: not built in (build with -tags opus, cgo and libopus-dev)")
