package im

import (
	"time"

	"github.com/opencsf/opencsf/csf"
)

// Connected reports a session ready: after Start, and after each
// reconnection. Resumed is true when XEP-0198 resumption kept the session,
// so nothing was lost; false means a fresh session, after which the client
// catches up from the archive.
type Connected struct {
	csf.EventHeader
	JID     string
	Server  string
	Resumed bool
	// Mechanism is the SASL mechanism that authenticated the connection
	// ("SCRAM-SHA-1-PLUS" with channel binding).
	Mechanism string
}

// Disconnected reports a lost session; the client retries after Retry
// unless Err is fatal (an *AuthError), in which case Retry is zero.
type Disconnected struct {
	csf.EventHeader
	Err   error
	Retry time.Duration
}

// MessageReceived reports a chat message: from a contact, or our own sent
// by another client of the account (Message.Carbon), or caught up from the
// archive (Message.Delayed). Each message is reported once, even when the
// server delivers it twice (offline storage and archive, or a resend after
// a failed resumption).
type MessageReceived struct {
	csf.EventHeader
	Message Message
}

// MessageFailed reports an error bounce for a message we sent.
type MessageFailed struct {
	csf.EventHeader
	ID  string
	To  string
	Err error
}

// ReceiptReceived reports a XEP-0184 delivery receipt for our message ID.
type ReceiptReceived struct {
	csf.EventHeader
	From string
	ID   string
}

// ChatStateChanged reports a contact's XEP-0085 chat state.
type ChatStateChanged struct {
	csf.EventHeader
	From  string
	State ChatState
}

// PresenceReceived reports a contact's presence for one resource. The same
// value goes to Config.Presence.
type PresenceReceived struct {
	csf.EventHeader
	Presence Presence
}

// RosterChanged reports a roster push: a contact added, changed or (with
// Removed) removed, by this or another client.
type RosterChanged struct {
	csf.EventHeader
	Contact Contact
	Removed bool
}

// SubscriptionRequested reports that From asks to see our presence; answer
// with [Client.Approve] or [Client.Deny].
type SubscriptionRequested struct {
	csf.EventHeader
	From string
}

// SubscriptionChanged reports a contact's answer: Type is subscribed,
// unsubscribed or unsubscribe.
type SubscriptionChanged struct {
	csf.EventHeader
	From string
	Type string
}
