package im

import (
	"errors"
	"fmt"
	"net"
)

// Sentinel errors callers branch on.
var (
	// ErrAuth means the server refused the credentials (SASL failure such as
	// not-authorized). The client does not retry it: fix the password.
	ErrAuth = errors.New("im: authentication failed")
	// ErrNotConnected is returned by requests that need a live session (an
	// IQ such as a roster fetch) while the client is disconnected.
	ErrNotConnected = errors.New("im: not connected")
	// ErrClosed is returned after Close or Shutdown; it matches net.ErrClosed.
	ErrClosed = fmt.Errorf("im: client closed: %w", net.ErrClosed)
	// ErrBadAddress is returned for an address that is not a valid JID.
	ErrBadAddress = errors.New("im: bad address")
)

// StanzaError is an error reply from the server or a contact (RFC 6120
// section 8.3). Is matches another *StanzaError whose non-empty fields are
// equal, so errors.Is(err, &StanzaError{Condition: "item-not-found"})
// works.
type StanzaError struct {
	Type      string // cancel, continue, modify, auth, wait
	Condition string // e.g. item-not-found, service-unavailable
	Text      string
}

func (e *StanzaError) Error() string {
	msg := "im: stanza error " + e.Type + "/" + e.Condition
	if e.Text != "" {
		msg += ": " + e.Text
	}
	return msg
}

// Is reports whether target is a *StanzaError matching e, empty fields of
// target acting as wildcards.
func (e *StanzaError) Is(target error) bool {
	t, ok := target.(*StanzaError)
	if !ok {
		return false
	}
	return (t.Type == "" || t.Type == e.Type) && (t.Condition == "" || t.Condition == e.Condition) &&
		(t.Text == "" || t.Text == e.Text)
}

// StreamError is a stream-level error the server sent before closing the
// stream (RFC 6120 section 4.9), such as conflict or system-shutdown.
type StreamError struct {
	Condition string
	Text      string
}

func (e *StreamError) Error() string {
	msg := "im: stream error " + e.Condition
	if e.Text != "" {
		msg += ": " + e.Text
	}
	return msg
}

// AuthError carries the server's SASL failure; it matches ErrAuth.
type AuthError struct {
	Mechanism string // the mechanism tried, e.g. SCRAM-SHA-1
	Reason    string // the server's condition or text, e.g. not-authorized
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("im: authentication with %s failed: %s", e.Mechanism, e.Reason)
}

// Is makes errors.Is(err, ErrAuth) true.
func (e *AuthError) Is(target error) bool { return target == ErrAuth }
