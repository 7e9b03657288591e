package im

import "time"

// ChatState is a XEP-0085 chat state notification.
type ChatState string

// Chat states (XEP-0085 section 2.1). ChatNone means the message carried
// none.
const (
	ChatNone      ChatState = ""
	ChatActive    ChatState = "active"
	ChatComposing ChatState = "composing"
	ChatPaused    ChatState = "paused"
	ChatInactive  ChatState = "inactive"
	ChatGone      ChatState = "gone"
)

// Direction says who wrote a message.
type Direction int

// Directions.
const (
	Incoming Direction = iota // from a contact to us
	Outgoing                  // from this account (another client of ours, via carbons or the archive)
)

// Message is a one-to-one chat or group chat message.
type Message struct {
	// ID is the sender's stable message id (the stanza id). Send fills it in
	// when empty; receivers use it for receipts and de-duplication.
	ID string
	// From and To are JIDs. From is empty for messages we send.
	From string
	To   string
	// Type is "chat" (the default when sending), "normal", "groupchat" or
	// "headline".
	Type string
	// Text is the body; empty for a message that carries only a chat state
	// or receipt.
	Text    string
	Thread  string
	Subject string
	// State is the chat state the message carried, if any.
	State ChatState
	// Time is when the message was sent: the delay stamp (XEP-0203) for
	// archived and offline messages, else when it arrived.
	Time time.Time
	// Delayed is true for a message delivered late (offline storage,
	// archive, room history).
	Delayed bool
	// ArchiveID is the server's archive id (XEP-0359 stanza-id or XEP-0313
	// result id), empty when the server did not archive it.
	ArchiveID string
	// Direction is Outgoing for our own messages seen through carbons
	// (XEP-0280) or the archive.
	Direction Direction
	// Carbon is true for a copy of a message exchanged by another client of
	// this account.
	Carbon bool
	// RequestReceipt asks the recipient for a XEP-0184 receipt. Send sets it
	// for chat messages with text unless the Message says NoReceipt.
	RequestReceipt bool
	// NoReceipt stops Send from asking for a receipt.
	NoReceipt bool
}

// Show is the availability sub-state of a presence (RFC 6121 section
// 4.7.2.1).
type Show string

// Show values. ShowAvailable (empty) is plain online.
const (
	ShowAvailable Show = ""
	ShowAway      Show = "away"
	ShowChat      Show = "chat"
	ShowDND       Show = "dnd"
	ShowXA        Show = "xa"
)

// Presence is one resource's presence, ours or a contact's.
type Presence struct {
	// From is the full JID of the resource (empty for our own presence).
	From string
	// Available is false for unavailable presence (the resource went
	// offline).
	Available bool
	Show      Show
	Status    string
	// Priority is -128…127; a negative priority gets no bare-JID messages.
	Priority int
	// Caps is the XEP-0115 capabilities hash ("ver") the resource announced.
	Caps     string
	CapsNode string
}

// PresenceSink receives every contact's presence, per resource, for a
// presence aggregator. PresenceChanged is called from the client's reader
// goroutine, in arrival order, never under a client lock; it must return
// quickly and must not call the Client.
type PresenceSink interface {
	PresenceChanged(p Presence)
}

// Contact is a roster item (RFC 6121 section 2.1.2).
type Contact struct {
	JID    string
	Name   string
	Groups []string
	// Subscription is none, to, from, both or remove.
	Subscription string
	// Pending is true when we asked to see the contact's presence and they
	// have not answered (ask='subscribe').
	Pending bool
	// Approved is true for a pre-approved subscription (RFC 6121 section
	// 3.4).
	Approved bool
}

// Identity and Features describe an entity (XEP-0030).
type DiscoInfo struct {
	Identities []Identity
	Features   []string
}

// Identity is one XEP-0030 identity.
type Identity struct {
	Category, Type, Name string
}

// Has reports whether the entity advertises feature.
func (d *DiscoInfo) Has(feature string) bool {
	for _, f := range d.Features {
		if f == feature {
			return true
		}
	}
	return false
}
