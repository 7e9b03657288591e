package im

import (
	"context"
	"fmt"

	"mellium.im/xmpp/jid"
)

func contactOf(it wireRosterItem) Contact {
	return Contact{
		JID: it.JID, Name: it.Name, Groups: it.Groups, Subscription: orDefault(it.Subscription, "none"),
		Pending: it.Ask == "subscribe", Approved: it.Approved == "true",
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Roster fetches the contact list (RFC 6121 section 2.2). Later changes
// arrive as RosterChanged events.
func (c *Client) Roster(ctx context.Context) ([]Contact, error) {
	resp, err := c.iq(ctx, "get", "", []byte("<query xmlns='jabber:iq:roster'/>"))
	if err != nil {
		return nil, fmt.Errorf("im: roster: %w", err)
	}
	if resp.Roster == nil {
		return nil, nil
	}
	out := make([]Contact, 0, len(resp.Roster.Items))
	for _, it := range resp.Roster.Items {
		out = append(out, contactOf(it))
	}
	return out, nil
}

// SetContact adds a contact to the roster or updates its name and groups
// (RFC 6121 section 2.3). It does not ask for presence; see Subscribe.
func (c *Client) SetContact(ctx context.Context, ct Contact) error {
	j, err := jid.Parse(ct.JID)
	if err != nil || ct.JID == "" {
		return fmt.Errorf("im: set contact %q: %w", ct.JID, ErrBadAddress)
	}
	var b builder
	b.open("query", "xmlns", nsRoster).open("item", "jid", j.Bare().String(), "name", ct.Name)
	for _, g := range ct.Groups {
		b.elem("group", g)
	}
	b.close("item").close("query")
	if _, err := c.iq(ctx, "set", "", b.bytes()); err != nil {
		return fmt.Errorf("im: set contact %s: %w", ct.JID, err)
	}
	return nil
}

// RemoveContact removes a contact and cancels both subscriptions (RFC 6121
// section 2.5).
func (c *Client) RemoveContact(ctx context.Context, contact string) error {
	j, err := jid.Parse(contact)
	if err != nil || contact == "" {
		return fmt.Errorf("im: remove contact %q: %w", contact, ErrBadAddress)
	}
	var b builder
	b.open("query", "xmlns", nsRoster).empty("item", "jid", j.Bare().String(), "subscription", "remove").close("query")
	if _, err := c.iq(ctx, "set", "", b.bytes()); err != nil {
		return fmt.Errorf("im: remove contact %s: %w", contact, err)
	}
	return nil
}

// Subscribe asks to see a contact's presence (RFC 6121 section 3.1).
func (c *Client) Subscribe(ctx context.Context, contact string) error {
	return c.subscription(ctx, contact, "subscribe")
}

// Approve lets a contact see our presence, answering a
// SubscriptionRequested event or pre-approving (RFC 6121 section 3.1.4).
func (c *Client) Approve(ctx context.Context, contact string) error {
	return c.subscription(ctx, contact, "subscribed")
}

// Deny refuses a subscription request, or revokes one granted before.
func (c *Client) Deny(ctx context.Context, contact string) error {
	return c.subscription(ctx, contact, "unsubscribed")
}

// Unsubscribe stops seeing a contact's presence.
func (c *Client) Unsubscribe(ctx context.Context, contact string) error {
	return c.subscription(ctx, contact, "unsubscribe")
}

func (c *Client) subscription(ctx context.Context, contact, typ string) error {
	j, err := jid.Parse(contact)
	if err != nil || contact == "" {
		return fmt.Errorf("im: %s %q: %w", typ, contact, ErrBadAddress)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Subscription stanzas are kept across sessions like messages: a lost
	// approval would leave the contact waiting.
	c.enqueue(subscriptionStanza(j.Bare().String(), typ), true)
	return nil
}
