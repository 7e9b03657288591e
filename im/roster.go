package im

import (
	"context"
	"fmt"
	"slices"
	"strings"

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

// rosterCache is the roster as last fetched and pushed, with its version
// (RFC 6121 section 2.6), so that a fetch after a reconnection transfers
// nothing when nothing changed.
type rosterCache struct {
	ver      string
	versions bool // the server sent a version
	items    map[string]Contact
}

// Roster fetches the contact list (RFC 6121 section 2.2), using roster
// versioning when the server supports it. From the first call on, this
// client is an "interested resource": later changes arrive as
// RosterChanged events.
func (c *Client) Roster(ctx context.Context) ([]Contact, error) {
	c.mu.Lock()
	ver, useVer := c.roster.ver, c.roster.versions
	c.mu.Unlock()
	var b builder
	if useVer {
		b.empty("query", "xmlns", nsRoster, "ver", ver)
	} else {
		b.empty("query", "xmlns", nsRoster)
	}
	resp, err := c.iq(ctx, "get", "", b.bytes())
	if err != nil {
		return nil, fmt.Errorf("im: roster: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// An empty result means "your version is current" (section 2.6.3).
	if resp.Roster != nil {
		c.roster.items = make(map[string]Contact, len(resp.Roster.Items))
		for _, it := range resp.Roster.Items {
			ct := contactOf(it)
			c.roster.items[ct.JID] = ct
		}
		if resp.Roster.Ver != nil {
			c.roster.ver, c.roster.versions = *resp.Roster.Ver, true
		}
	}
	out := make([]Contact, 0, len(c.roster.items))
	for _, ct := range c.roster.items {
		out = append(out, ct)
	}
	slices.SortFunc(out, func(a, b Contact) int { return strings.Compare(a.JID, b.JID) })
	return out, nil
}

// rosterPushed applies a roster push to the cache.
func (c *Client) rosterPushed(r *wireRoster) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.roster.items == nil {
		c.roster.items = make(map[string]Contact)
	}
	for _, it := range r.Items {
		if it.Subscription == "remove" {
			delete(c.roster.items, it.JID)
		} else {
			c.roster.items[it.JID] = contactOf(it)
		}
	}
	if r.Ver != nil {
		c.roster.ver, c.roster.versions = *r.Ver, true
	}
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
