package softphone

import (
	"net/netip"
	"time"

	"github.com/opencsf/opencsf/csf"
)

// Registered reports that the registrar accepted our contact, first or
// after a refresh or a re-registration.
type Registered struct {
	csf.EventHeader
	AOR     string        // sip:alice@example.test
	Expires time.Duration // as granted by the registrar
	Refresh bool          // a refresh of an existing registration
}

// RegistrationFailed reports a failed registration attempt. Retrying says
// whether the phone tries again (it does not after [ErrAuthFailed]).
type RegistrationFailed struct {
	csf.EventHeader
	AOR      string
	Err      error
	Retrying bool
}

// Unregistered reports that our contact was removed on Shutdown.
type Unregistered struct {
	csf.EventHeader
	AOR string
}

// CallReceived reports an incoming call, already ringing. Answer it with
// [Call.Answer] or refuse it with [Call.Reject].
type CallReceived struct {
	csf.EventHeader
	Call *Call
	From string // the caller's address, sip:bob@example.test
	Line string // the line called, sip:alice@example.test
	// Caller is who calls: the user part of From as caller ID, with the
	// name the directory service gives it when one runs and knows it.
	Caller csf.Person
}

// CallStateChanged reports a step of a call's state machine.
type CallStateChanged struct {
	csf.EventHeader
	Call  *Call
	From  CallState
	State CallState
	// Err says why a call ended, nil for a normal hang-up by either side.
	Err error
}

// DTMFReceived reports a digit received from the far end, by RFC 4733
// telephone-event or by SIP INFO.
type DTMFReceived struct {
	csf.EventHeader
	Call  *Call
	Digit rune // 0-9, *, #, A-D
	INFO  bool // received as SIP INFO rather than RTP
}

// CallMoved reports that an established call followed the phone to its
// new local address: its RTP now leaves from Media, and the far end
// accepted the new offer (re-INVITE or UPDATE) that says so, with our new
// SIP address as the call's Contact.
type CallMoved struct {
	csf.EventHeader
	Call  *Call
	Media netip.AddrPort // our RTP address and port now
}

// CallMoveFailed reports that a call's offer from the new local address
// failed. Retrying says whether the phone tries again (with backoff);
// when it does not, the call ends with an Err matching [ErrMoveFailed].
type CallMoveFailed struct {
	csf.EventHeader
	Call     *Call
	Err      error
	Retrying bool
}
