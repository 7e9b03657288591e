package im

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/im/internal/sm"
	"github.com/opencsf/opencsf/im/internal/xmltok"
	"mellium.im/xmpp/jid"
)

// nsStreams is the namespace of the stream element and stream errors.
const (
	nsStreams      = "http://etherx.jabber.org/streams"
	nsStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
)

// read is the session's single reader: it decodes each top-level element
// and handles it, until the stream ends. Handling never blocks on the
// network or on subscribers: replies go to the outbox, events to the bus.
//
// Negotiation read through mellium; from here on the stream is read with
// our tokenizer (internal/xmltok) from the same buffer, several times
// cheaper than encoding/xml's, and chat messages are decoded without
// encoding/xml at all (see stanzaReader).
func (c *Client) read(s *session) error {
	tr := xmltok.NewReader(s.conn.br, nsClient, map[string]string{"stream": nsStreams})
	tr.Budget = int64(c.cfg.MaxStanzaSize)
	return c.readStream(newStanzaReader(tr))
}

// readStream handles the stanzas of sr until the stream ends.
func (c *Client) readStream(sr *stanzaReader) error {
	for {
		err := c.readStanza(sr)
		var big *xmltok.TooBigError
		if errors.As(err, &big) {
			c.tooBig(big)
			sr.reset()
			continue
		}
		if err != nil {
			if errors.Is(err, xmltok.ErrRestricted) {
				c.log.Warn("server sent restricted XML", "err", err)
			}
			return err
		}
	}
}

// readStanza reads and handles one top-level element (or the whitespace
// between them). It returns an error only for what ends the session.
func (c *Client) readStanza(sr *stanzaReader) error {
	k, err := sr.tr.Next()
	if err != nil {
		return err
	}
	if k != xmltok.KindStart {
		return nil // whitespace keep-alive
	}
	switch name := sr.tr.Name(); {
	case name.Space == nsStreams:
		start, err := sr.begin()
		if err != nil {
			return err
		}
		if name.Local == "error" {
			return decodeStreamError(sr.d, start)
		}
		return fmt.Errorf("im: unexpected stream element %s", name.Local)
	case name == nameMessage:
		m := &sr.msg
		*m = wireMessage{}
		if err := sr.readMessage(m); err != nil {
			return fmt.Errorf("im: bad message: %w", err)
		}
		c.onMessage(m)
		c.received()
		return nil
	case name == namePresence:
		var p wirePresence
		if err := sr.readPresence(&p); err != nil {
			return fmt.Errorf("im: bad presence: %w", err)
		}
		c.onPresence(&p)
		c.received()
		return nil
	}
	start, err := sr.begin()
	if err != nil {
		return err
	}
	return c.handle(sr.d, start)
}

// tooBig drops a stanza over Config.MaxStanzaSize, which the tokenizer has
// read through without keeping it. It still counts as handled for stream
// management: else the server would send it again on every resumption.
func (c *Client) tooBig(e *xmltok.TooBigError) {
	c.received()
	c.drop("stanza over the size limit", "element", e.Name.Local, "size_at_least", e.Size, "limit", c.cfg.MaxStanzaSize)
}

func decodeStreamError(d *xml.Decoder, start xml.StartElement) error {
	se := &StreamError{}
	for {
		tok, err := d.Token()
		if err != nil {
			return se
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == nsStreamErrors {
				if t.Name.Local == "text" {
					var txt string
					_ = d.DecodeElement(&txt, &t)
					se.Text = txt
					continue
				}
				if se.Condition == "" {
					se.Condition = t.Name.Local
				}
			}
			if err := d.Skip(); err != nil {
				return se
			}
		case xml.EndElement:
			if se.Condition == "" {
				se.Condition = "undefined-condition"
			}
			return se
		}
	}
}

// handle decodes and handles one top-level element other than a message
// or presence (read by readStanza). It returns an error only for what
// ends the session (bad XML, protocol violations).
func (c *Client) handle(d *xml.Decoder, start xml.StartElement) error {
	switch start.Name {
	case xml.Name{Space: nsClient, Local: "iq"}:
		var iq wireIQ
		if err := d.DecodeElement(&iq, &start); err != nil {
			return fmt.Errorf("im: bad iq: %w", err)
		}
		c.onIQ(&iq)
		c.received()
	case xml.Name{Space: sm.NS, Local: "r"}:
		if err := d.Skip(); err != nil {
			return err
		}
		c.mu.Lock()
		c.ackWanted = true
		c.mu.Unlock()
		c.kick()
	case xml.Name{Space: sm.NS, Local: "a"}:
		h, ok := attrUint(start, "h")
		if err := d.Skip(); err != nil {
			return err
		}
		if !ok {
			c.log.Warn("dropped <a/> without a valid h")
			return nil
		}
		c.mu.Lock()
		_, err := c.sm.Ack(h)
		c.ackAsked = false
		// More to write, or more to have acknowledged: the writer decides
		// when to ask again.
		more := len(c.outbox) > 0 || c.sm.Pending() > 0
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if more {
			c.kick()
		}
	default:
		// Elements in a wrong namespace (a jabber:server message, say) are
		// not stanzas for us: skipped, not counted.
		c.drop("unknown top-level element", "element", start.Name.Space+" "+start.Name.Local)
		return d.Skip()
	}
	return nil
}

func (c *Client) received() {
	c.mu.Lock()
	c.sm.Received()
	c.counters.received++
	// Acknowledge unasked now and then (XEP-0198 section 4 allows it): the
	// server's queue of stanzas unacknowledged by us then stays short
	// under a burst (prosody's queue operations grow with its length), and
	// it waits for fewer <r/> round trips.
	kick := c.sm.Enabled() && c.sm.In()%ackEvery == 0
	if kick {
		c.ackWanted = true
	}
	c.mu.Unlock()
	if kick {
		c.kick()
	}
}

// drop logs a stanza we refuse to act on.
func (c *Client) drop(why string, args ...any) {
	c.mu.Lock()
	c.counters.dropped++
	c.mu.Unlock()
	c.log.Warn("dropped inbound stanza: "+why, args...)
}

// fromSelf reports whether a stanza's from is our own account (absent,
// our bare JID, or our domain-less self as servers write it): only such
// stanzas may carry carbons, archive results and roster pushes
// (XEP-0280 section 11, RFC 6121 section 2.1.6).
func (c *Client) fromSelf(from string) bool {
	if from == "" {
		return true
	}
	j, err := jid.Parse(from)
	if err != nil {
		return false
	}
	return j.Equal(c.bare)
}

func (c *Client) onMessage(m *wireMessage) {
	if m.Type == "error" {
		csf.Publish(c.cfg.Events, MessageFailed{ID: m.ID, To: m.From, Err: m.Error.err()})
		return
	}
	if m.CarbonRecv != nil || m.CarbonSent != nil {
		if !c.fromSelf(m.From) {
			c.drop("carbon with spoofed from", "from", m.From)
			return
		}
		cb, dir := m.CarbonRecv, Incoming
		if cb == nil {
			cb, dir = m.CarbonSent, Outgoing
		}
		if cb.Forwarded == nil || cb.Forwarded.Message == nil {
			c.drop("empty carbon")
			return
		}
		inner := cb.Forwarded.Message
		if inner.CarbonRecv != nil || inner.CarbonSent != nil || inner.MAMResult != nil {
			c.drop("nested carbon")
			return
		}
		c.deliver(inner, dir, true, cb.Forwarded.Delay, "")
		return
	}
	if m.MAMResult != nil {
		if !c.fromSelf(m.From) {
			c.drop("archive result with spoofed from", "from", m.From)
			return
		}
		c.onMAMResult(m.MAMResult)
		return
	}
	c.deliver(m, Incoming, false, m.Delay, c.archiveID(m))
}

// archiveID returns the stanza-id our server stamped on m (XEP-0359: only
// the one "by" our own account counts; others may be forged).
func (c *Client) archiveID(m *wireMessage) string {
	for _, sid := range m.StanzaIDs {
		if sid.By == c.bare.String() {
			return sid.ID
		}
	}
	return ""
}

// deliver publishes a chat message (and its receipt, chat state) once.
func (c *Client) deliver(m *wireMessage, dir Direction, carbon bool, delay *wireDelay, archiveID string) {
	if m.Type == "groupchat" {
		c.onGroupMessage(m, delay)
		return
	}
	if m.MUCUser != nil && m.MUCUser.Invite != nil || m.DirectInvite != nil {
		c.onInvite(m)
		return
	}
	peer := m.From
	if dir == Outgoing {
		peer = m.To
	}
	if m.Received != nil && m.Received.ID != "" && dir == Incoming {
		csf.Publish(c.cfg.Events, ReceiptReceived{From: m.From, ID: m.Received.ID})
	}
	body, hasBody := m.body()
	state := m.chatState()
	if !hasBody {
		if state != ChatNone && dir == Incoming && !carbon {
			csf.Publish(c.cfg.Events, ChatStateChanged{From: m.From, State: state})
		}
		return
	}
	msg := Message{
		ID: m.ID, From: m.From, To: m.To, Type: m.Type, Text: body, Thread: m.Thread,
		State: state, Time: time.Now(), Direction: dir, Carbon: carbon, ArchiveID: archiveID,
		RequestReceipt: m.Request != nil,
	}
	if m.Subject != nil {
		msg.Subject = m.Subject.Text
	}
	if msg.Type == "" {
		msg.Type = "normal"
	}
	if delay != nil {
		if t, err := time.Parse(time.RFC3339Nano, delay.Stamp); err == nil {
			msg.Time, msg.Delayed = t, true
		}
	}
	if !c.firstTime(peer, m.ID, archiveID) {
		return
	}
	if dir == Incoming && !carbon && m.Request != nil && m.ID != "" && m.From != "" {
		// XEP-0184 section 5.4: receipts only to requests with an id.
		c.enqueue(receiptStanza(c.newID(), m.From, m.ID), true)
	}
	csf.Publish(c.cfg.Events, MessageReceived{Message: msg})
}

// firstTime records a message by peer and id (and archive id) and reports
// whether it is new. A message arrives twice when the server both stored
// it offline and archived it, or when the sender re-sent it after a
// failed resumption.
func (c *Client) firstTime(peer, id, archiveID string) bool {
	// The server writes addresses in canonical form: cutting the resource
	// off is enough for a de-duplication key (and far cheaper than
	// parsing, on the path of every message).
	bare, _, _ := strings.Cut(peer, "/")
	c.mu.Lock()
	defer c.mu.Unlock()
	if archiveID != "" {
		c.lastArch = archiveID
	}
	if id == "" && archiveID == "" {
		return true
	}
	keyID := c.seen.key(bare, id, false)
	keyArch := c.seen.key("", archiveID, true)
	if (id != "" && c.seen.has(keyID)) || (archiveID != "" && c.seen.has(keyArch)) {
		c.counters.duplicates++
		return false
	}
	if id != "" {
		c.seen.add(keyID)
	}
	if archiveID != "" {
		c.seen.add(keyArch)
	}
	return true
}

func (c *Client) onPresence(p *wirePresence) {
	if p.MUCUser != nil || c.isRoomJID(p.From) {
		c.onRoomPresence(p)
		return
	}
	switch p.Type {
	case "subscribe":
		csf.Publish(c.cfg.Events, SubscriptionRequested{From: bareOf(p.From)})
		return
	case "subscribed", "unsubscribe", "unsubscribed":
		csf.Publish(c.cfg.Events, SubscriptionChanged{From: bareOf(p.From), Type: p.Type})
		return
	case "error":
		c.log.Debug("presence error", "from", p.From, "err", p.Error.err())
		return
	case "", "unavailable":
	default:
		c.drop("presence of unknown type", "type", p.Type)
		return
	}
	if p.From == "" {
		return
	}
	pr := Presence{From: p.From, Available: p.Type == "", Show: Show(p.Show), Priority: parsePriority(p.Priority)}
	switch pr.Show {
	case ShowAvailable, ShowAway, ShowChat, ShowDND, ShowXA:
	default:
		pr.Show = ShowAvailable
	}
	if len(p.Statuses) > 0 {
		pr.Status = p.Statuses[0].Text
	}
	if p.Caps != nil {
		pr.Caps, pr.CapsNode = p.Caps.Ver, p.Caps.Node
	}
	if c.cfg.Presence != nil {
		c.cfg.Presence.PresenceChanged(pr)
	}
	csf.Publish(c.cfg.Events, PresenceReceived{Presence: pr})
}

func bareOf(s string) string {
	j, err := jid.Parse(s)
	if err != nil {
		return s
	}
	return j.Bare().String()
}

func (c *Client) onIQ(iq *wireIQ) {
	switch iq.Type {
	case "result", "error":
		c.mu.Lock()
		p := c.iqs[iq.ID]
		if p != nil && p.matches(c, iq.From) {
			delete(c.iqs, iq.ID)
		} else {
			p = nil
		}
		c.mu.Unlock()
		if p == nil && strings.HasPrefix(iq.ID, ignoredIQ) && c.fromSelf(iq.From) {
			if iq.Type == "error" {
				c.log.Debug("request refused", "err", iq.Error.err())
			}
			return
		}
		if p == nil {
			c.drop("unexpected iq response", "id", iq.ID, "from", iq.From)
			return
		}
		if iq.Type == "error" {
			p.finish(nil, iq.Error.err())
			return
		}
		p.finish(iq, nil)
	case "get", "set":
		c.onIQRequest(iq)
	default:
		c.drop("iq of unknown type", "type", iq.Type)
	}
}

func (c *Client) onIQRequest(iq *wireIQ) {
	switch {
	case iq.Type == "set" && iq.Roster != nil:
		if !c.fromSelf(iq.From) {
			c.drop("roster push with spoofed from", "from", iq.From)
			return
		}
		if len(iq.Roster.Items) != 1 {
			// RFC 6121 section 2.1.6: a push carries exactly one item.
			c.drop("roster push without exactly one item", "items", len(iq.Roster.Items))
			c.enqueue(iqError(iq.ID, iq.From, "modify", "bad-request"), false)
			return
		}
		c.rosterPushed(iq.Roster)
		c.enqueue(iqResult(iq.ID, iq.From), false)
		for _, it := range iq.Roster.Items {
			ct := contactOf(it)
			csf.Publish(c.cfg.Events, RosterChanged{Contact: ct, Removed: it.Subscription == "remove"})
		}
	case iq.Type == "get" && iq.Ping != nil:
		c.enqueue(iqResult(iq.ID, iq.From), false)
	case iq.Type == "get" && iq.DiscoInfo != nil:
		c.enqueue(discoInfoResult(iq.ID, iq.From, iq.DiscoInfo.Node), false)
	default:
		c.enqueue(iqError(iq.ID, iq.From, "cancel", "service-unavailable"), false)
	}
}
