package im

import (
	"context"
	"fmt"
	"sync"

	"mellium.im/xmpp/jid"
)

// Send sends a message and returns its id (m.ID, or a new random id when
// empty). Type defaults to "chat"; a chat message with text asks for a
// delivery receipt (XEP-0184) unless m.NoReceipt.
//
// Send queues the message and returns without waiting for the network.
// While disconnected the message waits in the queue; with stream
// management it is kept until the server acknowledges it and re-sent after
// a reconnection, so it is delivered exactly once (the receiver
// de-duplicates by id). It fails only for a bad address or a closed client.
func (c *Client) Send(ctx context.Context, m Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	to, err := c.addrs.canonical(m.To)
	if err != nil {
		return "", fmt.Errorf("im: send to %q: %w", m.To, ErrBadAddress)
	}
	m.To = to
	if m.ID == "" {
		m.ID = c.newID()
	}
	if m.Type == "" {
		m.Type = "chat"
	}
	if m.Text != "" && m.Type == "chat" && !m.NoReceipt {
		m.RequestReceipt = true
	}
	if m.Text != "" && m.State == ChatNone && m.Type == "chat" {
		m.State = ChatActive // XEP-0085 section 5.1: active goes with a message
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return "", ErrClosed
	}
	c.enqueue(messageStanza(&m), true)
	return m.ID, nil
}

// SendText sends a chat message with text to a JID; it is Send for the
// common case.
func (c *Client) SendText(ctx context.Context, to, text string) (string, error) {
	return c.Send(ctx, Message{To: to, Text: text})
}

// SendChatState tells a contact we are composing, paused, active, inactive
// or gone (XEP-0085). It is not stored by the server and not re-sent after
// a lost session.
func (c *Client) SendChatState(ctx context.Context, to string, state ChatState) error {
	if _, err := jid.Parse(to); err != nil || to == "" {
		return fmt.Errorf("im: chat state to %q: %w", to, ErrBadAddress)
	}
	if state == ChatNone {
		return fmt.Errorf("im: chat state is empty")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m := Message{To: to, Type: "chat", State: state, ID: c.newID()}
	c.enqueue(messageStanza(&m), false)
	return nil
}

// SetPresence publishes our presence (show, status, priority). It is
// remembered and sent again on every new session. Available false sends
// unavailable presence.
func (c *Client) SetPresence(ctx context.Context, p Presence) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.From = ""
	c.mu.Lock()
	c.presence = p
	c.mu.Unlock()
	c.enqueue(presenceStanza(p, ""), false)
	return nil
}

// addrCache remembers the canonical form of the addresses sent to lately:
// a conversation sends to the same few, and PRECIS and IDNA
// normalization (jid.Parse) cost more than the rest of Send.
type addrCache struct {
	mu   sync.Mutex
	in   [8]string
	out  [8]string
	next int
}

// canonical returns s parsed and normalized, or an error for a bad or
// empty address.
func (a *addrCache) canonical(s string) (string, error) {
	a.mu.Lock()
	for i, v := range a.in {
		if v == s && s != "" {
			out := a.out[i]
			a.mu.Unlock()
			return out, nil
		}
	}
	a.mu.Unlock()
	if s == "" {
		return "", ErrBadAddress
	}
	j, err := jid.Parse(s)
	if err != nil {
		return "", err
	}
	out := j.String()
	a.mu.Lock()
	a.in[a.next], a.out[a.next] = s, out
	a.next = (a.next + 1) % len(a.in)
	a.mu.Unlock()
	return out, nil
}
