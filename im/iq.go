package im

import (
	"context"
	"fmt"

	"mellium.im/xmpp/jid"
)

// pendingIQ is an IQ request waiting for its response.
type pendingIQ struct {
	to   string // whom we asked; "" for our server/account
	done chan struct{}
	resp *wireIQ
	err  error
}

func (p *pendingIQ) finish(resp *wireIQ, err error) {
	select {
	case <-p.done:
		return
	default:
	}
	p.resp, p.err = resp, err
	close(p.done)
}

// matches reports whether a response from "from" may answer p: RFC 6120
// section 8.1.2.1 — the response comes from whom we asked; a request to
// our account or server may be answered without from, by our bare JID or
// by our domain. Anything else is a spoofed response.
func (p *pendingIQ) matches(c *Client, from string) bool {
	if p.to == "" || p.to == c.bare.String() {
		return from == "" || from == c.bare.String() || from == c.bare.Domainpart() || from == c.jidLocked()
	}
	if from == p.to {
		return true
	}
	a, err1 := jid.Parse(from)
	b, err2 := jid.Parse(p.to)
	return err1 == nil && err2 == nil && a.Equal(b)
}

// jidLocked is the bound JID; the caller holds c.mu.
func (c *Client) jidLocked() string { return c.boundJID.String() }

// iq sends an IQ with the given payload (already serialized) to "to" ("" for
// our own account) and waits for the response. It needs a live session
// (IQs are not queued across sessions) and fails with ErrNotConnected
// otherwise.
func (c *Client) iq(ctx context.Context, typ, to string, payload []byte) (*wireIQ, error) {
	p, id, err := c.sendIQ(typ, to, payload)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
		return p.resp, p.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.iqs, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// sendIQ queues an IQ request and returns its pending response without
// waiting.
func (c *Client) sendIQ(typ, to string, payload []byte) (*pendingIQ, string, error) {
	id := c.newID()
	var b builder
	b.open("iq", "type", typ, "id", id, "to", to)
	b.b = append(b.b, payload...)
	data := b.close("iq").bytes()
	p := &pendingIQ{to: to, done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, "", ErrClosed
	}
	if c.sess == nil {
		c.mu.Unlock()
		return nil, "", ErrNotConnected
	}
	c.iqs[id] = p
	c.outbox = append(c.outbox, outItem{data: data})
	c.mu.Unlock()
	c.kick()
	return p, id, nil
}

const pingPayload = "<ping xmlns='urn:xmpp:ping'/>"

// pingOn pings the server over session s (XEP-0199).
func (c *Client) pingOn(ctx context.Context, s *session) error {
	_, err := c.iq(ctx, "get", "", []byte(pingPayload))
	if err != nil {
		return fmt.Errorf("im: ping: %w", err)
	}
	return nil
}

// Ping checks the session with a XEP-0199 ping to the server.
func (c *Client) Ping(ctx context.Context) error { return c.pingOn(ctx, nil) }
