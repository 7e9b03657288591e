package softphone

import (
	"errors"
	"fmt"
)

var (
	// ErrNotRegistered is returned by Dial before the line has registered,
	// or after it lost its registration.
	ErrNotRegistered = errors.New("softphone: not registered")
	// ErrAuthFailed is returned when the registrar or proxy refused our
	// credentials (a second challenge after we answered one). It is not
	// retried: a wrong password does not start a retry storm.
	ErrAuthFailed = errors.New("softphone: authentication failed")
	// ErrCallEnded is returned by operations on a call that has ended.
	ErrCallEnded = errors.New("softphone: call ended")
	// ErrBadState is returned for an operation the call's state does not
	// allow, such as answering an outgoing call.
	ErrBadState = errors.New("softphone: operation not allowed in this call state")
	// ErrNoCodec is returned when offer and answer share no audio codec.
	ErrNoCodec = errors.New("softphone: no common codec")
	// ErrBadSDP is returned for a session description we cannot use.
	ErrBadSDP = errors.New("softphone: bad session description")
	// ErrTimeout is returned when the peer did not answer a request in
	// time (RFC 3261 timer B or F).
	ErrTimeout = errors.New("softphone: request timed out")
	// ErrMoveFailed is in the Err of a call ended because the far end
	// did not take its media's new address after the phone moved (see
	// [CallMoveFailed]).
	ErrMoveFailed = errors.New("softphone: call did not follow the move to a new address")
)

// StatusError is a final SIP response other than 2xx to a request we sent:
// a rejected call (486 Busy Here, 603 Decline), a refused registration.
// Match it with errors.As; Is matches another *StatusError with the same
// Code (a zero Code matches any).
type StatusError struct {
	Method string // the request answered: "INVITE", "REGISTER"…
	Code   int
	Reason string
	// RetryAfter is the Retry-After value in seconds, 0 when absent.
	RetryAfter int
	// Err is the error class when one applies, such as [ErrAuthFailed].
	Err error
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("softphone: %s answered %d %s", e.Method, e.Code, e.Reason)
}

// Unwrap returns the error class, nil when none.
func (e *StatusError) Unwrap() error { return e.Err }

// Is reports whether target is a *StatusError with the same code, or any
// code when target's is zero.
func (e *StatusError) Is(target error) bool {
	t, ok := target.(*StatusError)
	return ok && (t.Code == 0 || t.Code == e.Code)
}
