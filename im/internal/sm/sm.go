// Package sm keeps the counters and the queue of XEP-0198 stream
// management: how many stanzas each side has handled, and which outgoing
// stanzas the server has not acknowledged yet. It does no I/O; the client
// writes and reads the <enable/>, <r/>, <a/>, <resume/> elements and tells
// a [State] what happened, so that the counting rules live in one place and
// are tested without a server.
//
// Counters are 32-bit and wrap as XEP-0198 section 4 requires: "h" is the
// number of stanzas handled modulo 2^32.
package sm

import "fmt"

// NS is the XEP-0198 version 3 namespace.
const NS = "urn:xmpp:sm:3"

// Item is an outgoing stanza kept until the server acknowledges it.
type Item struct {
	// Seq is the stanza's position in the outgoing count (1 for the first
	// stanza after <enable/>), modulo 2^32.
	Seq uint32
	// Data is the serialized stanza, written again on resumption.
	Data []byte
	// Resend says whether the stanza is still worth sending on a fresh
	// session when resumption fails: messages are, IQ replies and old
	// presence are not.
	Resend bool
}

// State is one stream-management session as the client sees it. The zero
// State is disabled: Sent and Received do nothing until Enable.
// State is not safe for concurrent use; the client guards it.
type State struct {
	// ID is the server's resumption id, empty when it does not allow
	// resumption.
	ID string
	// Location is the server's preferred reconnection address, if given.
	Location string

	enabled bool
	in      uint32 // stanzas received and handled (our "h")
	out     uint32 // stanzas sent since <enable/> or <resumed/>
	unacked []Item
}

// Enable starts counting afresh after <enabled/>. Items still queued from
// an earlier session are kept: the caller decides what to resend with
// [State.Fail] before calling Enable.
func (s *State) Enable(id, location string) {
	s.ID, s.Location = id, location
	s.enabled = true
	s.in, s.out = 0, 0
}

// Enabled reports whether counting is on.
func (s *State) Enabled() bool { return s.enabled }

// Resumable reports whether the session can be resumed.
func (s *State) Resumable() bool { return s.enabled && s.ID != "" }

// In returns the number of stanzas handled, the h to send in <a/> and
// <resume/>.
func (s *State) In() uint32 { return s.in }

// Out returns the number of stanzas sent.
func (s *State) Out() uint32 { return s.out }

// Pending returns the number of unacknowledged stanzas.
func (s *State) Pending() int { return len(s.unacked) }

// Received counts one inbound stanza. It must be called after the stanza
// was handled, never for <r/> or <a/>.
func (s *State) Received() {
	if s.enabled {
		s.in++
	}
}

// Sent counts one outbound stanza and queues it until acknowledged.
// It returns the stanza's sequence number. Data is kept, not copied.
func (s *State) Sent(data []byte, resend bool) uint32 {
	if !s.enabled {
		return 0
	}
	s.out++
	s.unacked = append(s.unacked, Item{Seq: s.out, Data: data, Resend: resend})
	return s.out
}

// Ack applies <a h='h'/>: every queued stanza up to h is acknowledged. It
// returns how many were dropped from the queue, and an error when h
// acknowledges stanzas never sent (the caller should treat that as a
// protocol violation, XEP-0198 section 4 "undefined-condition").
func (s *State) Ack(h uint32) (int, error) {
	if !s.enabled {
		return 0, nil
	}
	// Serial number arithmetic: h may be "ahead" of out only by mistake.
	if int32(h-s.out) > 0 {
		return 0, fmt.Errorf("sm: server acknowledged %d stanzas, only %d sent", h, s.out)
	}
	n := 0
	for n < len(s.unacked) && int32(h-s.unacked[n].Seq) >= 0 {
		n++
	}
	if n > 0 {
		clear(s.unacked[:n])
		s.unacked = s.unacked[n:]
	}
	return n, nil
}

// Resumed applies <resumed h='h'/>: it acknowledges up to h and returns
// the stanzas the server never got, in order, to be written again. They
// are counted anew by the caller's Sent calls, so the outgoing count
// continues from h.
func (s *State) Resumed(h uint32) ([]Item, error) {
	if _, err := s.Ack(h); err != nil {
		return nil, err
	}
	rest := s.unacked
	s.unacked = nil
	s.out = h
	return rest, nil
}

// Fail ends the session when resumption failed or the stream was not
// resumable. With hasH (the server's <failed h='…'/>, XEP-0198 version
// 1.6) the stanzas up to h are acknowledged first, so that they are not
// sent twice. It returns the stanzas that should be sent on the next
// session (those marked Resend), and disables counting.
func (s *State) Fail(h uint32, hasH bool) []Item {
	if hasH {
		// An impossible h is ignored: resending is safer than losing.
		_, _ = s.Ack(h)
	}
	var keep []Item
	for _, it := range s.unacked {
		if it.Resend {
			keep = append(keep, it)
		}
	}
	*s = State{}
	return keep
}
