package im_test

import (
	"sync"
	"testing"
	"time"

	"github.com/opencsf/opencsf/im"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sink is a PresenceSink that records.
type sink struct {
	mu  sync.Mutex
	got []im.Presence
}

func (s *sink) PresenceChanged(p im.Presence) {
	s.mu.Lock()
	s.got = append(s.got, p)
	s.mu.Unlock()
}

func (s *sink) find(from string) (im.Presence, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.got) - 1; i >= 0; i-- {
		if s.got[i].From == from {
			return s.got[i], true
		}
	}
	return im.Presence{}, false
}

func TestIntegrationFeatures(t *testing.T) {
	p := lab.Prosody(t, nil)
	ca := p.CA()

	t.Run("RosterAndPresence", func(t *testing.T) {
		var ps sink
		alice := startClient(t, p.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "roster"; c.Presence = &ps })
		bob := startClient(t, p.Addr, ca, "bob", "secret2", func(c *im.Config) { c.Resource = "roster"; c.Priority = 5 })
		ctx := t.Context()
		_, err := alice.Roster(ctx) // become an interested resource (RFC 6121 section 2.1.6)
		require.NoError(t, err)

		require.NoError(t, alice.SetContact(ctx, im.Contact{JID: jidOf("bob"), Name: "Bob", Groups: []string{"Team", "Friends"}}))
		push := waitFor[im.RosterChanged](t, alice, func(e im.RosterChanged) bool { return e.Contact.JID == jidOf("bob") })
		assert.Equal(t, "Bob", push.Contact.Name)
		assert.ElementsMatch(t, []string{"Team", "Friends"}, push.Contact.Groups)

		require.NoError(t, alice.Subscribe(ctx, jidOf("bob")))
		req := waitFor[im.SubscriptionRequested](t, bob, nil)
		assert.Equal(t, jidOf("alice"), req.From)
		require.NoError(t, bob.Approve(ctx, req.From))
		waitFor[im.SubscriptionChanged](t, alice, func(e im.SubscriptionChanged) bool {
			return e.From == jidOf("bob") && e.Type == "subscribed"
		})
		// After approval the server sends bob's presence to alice, per resource.
		require.NoError(t, bob.SetPresence(ctx, im.Presence{Available: true, Show: im.ShowAway, Status: "lunch", Priority: 5}))
		pr := waitFor[im.PresenceReceived](t, alice, func(e im.PresenceReceived) bool {
			return e.Presence.From == jidOf("bob")+"/roster" && e.Presence.Show == im.ShowAway
		})
		assert.Equal(t, "lunch", pr.Presence.Status)
		assert.Equal(t, 5, pr.Presence.Priority)
		assert.NotEmpty(t, pr.Presence.Caps, "XEP-0115 caps announced")
		got, ok := ps.find(jidOf("bob") + "/roster")
		require.True(t, ok, "the PresenceSink saw bob")
		assert.True(t, got.Available)

		roster, err := alice.Roster(ctx)
		require.NoError(t, err)
		// Fetched again with the version (RFC 6121 section 2.6): the same
		// roster, whether the server resends it or says it is current.
		again, err := alice.Roster(ctx)
		require.NoError(t, err)
		assert.Equal(t, roster, again)
		var found *im.Contact
		for i := range roster {
			if roster[i].JID == jidOf("bob") {
				found = &roster[i]
			}
		}
		require.NotNil(t, found)
		assert.Equal(t, "to", found.Subscription)

		// Deny a request: carol asks bob, bob says no.
		carol := startClient(t, p.Addr, ca, "carol", "secret3", nil)
		_, err = carol.Roster(ctx)
		require.NoError(t, err)
		require.NoError(t, carol.Subscribe(ctx, jidOf("bob")))
		waitFor[im.SubscriptionRequested](t, bob, func(e im.SubscriptionRequested) bool { return e.From == jidOf("carol") })
		require.NoError(t, bob.Deny(ctx, jidOf("carol")))
		waitFor[im.SubscriptionChanged](t, carol, func(e im.SubscriptionChanged) bool { return e.Type == "unsubscribed" })

		require.NoError(t, alice.RemoveContact(ctx, jidOf("bob")))
		waitFor[im.RosterChanged](t, alice, func(e im.RosterChanged) bool { return e.Removed && e.Contact.JID == jidOf("bob") })
		roster, err = alice.Roster(ctx)
		require.NoError(t, err)
		for _, c := range roster {
			assert.NotEqual(t, jidOf("bob"), c.JID)
		}
	})

	t.Run("Carbons", func(t *testing.T) {
		a1 := startClient(t, p.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "desk" })
		a2 := startClient(t, p.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "mobile" })
		bob := startClient(t, p.Addr, ca, "bob", "secret2", func(c *im.Config) { c.Resource = "carbons" })
		waitFor[im.Connected](t, a2, nil)
		// Carbons are enabled asynchronously after connect: an IQ round trip
		// on a2 guarantees its enable went first.
		require.NoError(t, a2.Ping(t.Context()))
		require.NoError(t, a1.Ping(t.Context()))

		in, err := bob.SendText(t.Context(), jidOf("alice")+"/desk", "to the desk")
		require.NoError(t, err)
		waitFor[im.MessageReceived](t, a1, func(e im.MessageReceived) bool { return e.Message.ID == in && !e.Message.Carbon })
		cp := waitFor[im.MessageReceived](t, a2, func(e im.MessageReceived) bool { return e.Message.ID == in })
		assert.True(t, cp.Message.Carbon)
		assert.Equal(t, im.Incoming, cp.Message.Direction)

		out, err := a1.SendText(t.Context(), jidOf("bob")+"/carbons", "from the desk")
		require.NoError(t, err)
		cp = waitFor[im.MessageReceived](t, a2, func(e im.MessageReceived) bool { return e.Message.ID == out })
		assert.True(t, cp.Message.Carbon)
		assert.Equal(t, im.Outgoing, cp.Message.Direction)
		assert.Equal(t, "from the desk", cp.Message.Text)
	})

	t.Run("OfflineAndHistory", func(t *testing.T) {
		alice := startClient(t, p.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "hist" })
		var ids []string
		for i := range 5 {
			id, err := alice.SendText(t.Context(), jidOf("carol"), "offline "+string(rune('a'+i)))
			require.NoError(t, err)
			ids = append(ids, id)
		}
		require.NoError(t, alice.Ping(t.Context())) // all five reached the server
		carol := startClient(t, p.Addr, ca, "carol", "secret3", func(c *im.Config) { c.Resource = "hist" })
		got := waitCount(t, carol, 5, func(e im.MessageReceived) bool { return e.Message.From != "" && e.Message.Delayed })
		for i, e := range got {
			assert.Equal(t, ids[i], e.Message.ID, "offline messages in order")
		}

		// Page backwards, 2 archive entries at a time (receipts are archived
		// too and are not messages, so pages may hold fewer).
		var newestFirst []string
		before := ""
		pages := 0
		for range 20 {
			pg, err := alice.History(t.Context(), &im.HistoryOptions{With: jidOf("carol"), Max: 2, Before: before})
			require.NoError(t, err)
			pages++
			for i := len(pg.Messages) - 1; i >= 0; i-- {
				assert.Equal(t, im.Outgoing, pg.Messages[i].Direction)
				newestFirst = append(newestFirst, pg.Messages[i].ID)
			}
			if pg.Complete || pg.First == "" {
				break
			}
			before = pg.First
		}
		assert.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, newestFirst)
		assert.Greater(t, pages, 2)
	})

	t.Run("MUC", func(t *testing.T) {
		ctx := t.Context()
		room := "team@" + p.MUC
		alice := startClient(t, p.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "muc" })
		bob := startClient(t, p.Addr, ca, "bob", "secret2", func(c *im.Config) { c.Resource = "muc" })
		carol := startClient(t, p.Addr, ca, "carol", "secret3", func(c *im.Config) { c.Resource = "muc" })
		ra, err := alice.JoinRoom(ctx, room, "Alice", nil)
		require.NoError(t, err)
		require.NoError(t, ra.SetSubject(ctx, "release planning"))
		waitFor[im.RoomSubjectChanged](t, alice, func(e im.RoomSubjectChanged) bool { return e.Subject == "release planning" })
		_, err = ra.Send(ctx, "before bob came")
		require.NoError(t, err)
		waitFor[im.RoomMessageReceived](t, alice, func(e im.RoomMessageReceived) bool { return e.Message.Text == "before bob came" })

		rb, err := bob.JoinRoom(ctx, room, "Bob", &im.JoinOptions{History: 10})
		require.NoError(t, err)
		hist := waitFor[im.RoomMessageReceived](t, bob, func(e im.RoomMessageReceived) bool { return e.Message.Text == "before bob came" })
		assert.True(t, hist.Message.Delayed)
		assert.Equal(t, "Alice", hist.Nick)
		waitFor[im.RoomSubjectChanged](t, bob, func(e im.RoomSubjectChanged) bool { return e.Subject == "release planning" })
		assert.Equal(t, "release planning", rb.Subject())
		waitFor[im.OccupantChanged](t, alice, func(e im.OccupantChanged) bool { return e.Occupant.Nick == "Bob" && !e.Left })
		nicks := map[string]string{}
		for _, o := range ra.Occupants() {
			nicks[o.Nick] = o.Role
		}
		assert.Equal(t, map[string]string{"Alice": "moderator", "Bob": "participant"}, nicks)

		_, err = rb.Send(ctx, "hi all")
		require.NoError(t, err)
		m := waitFor[im.RoomMessageReceived](t, alice, func(e im.RoomMessageReceived) bool { return e.Message.Text == "hi all" })
		assert.Equal(t, "Bob", m.Nick)
		assert.Equal(t, room, m.Room)

		require.NoError(t, ra.Invite(ctx, jidOf("carol"), "join us"))
		inv := waitFor[im.InvitationReceived](t, carol, nil)
		assert.Equal(t, room, inv.Room)
		assert.Equal(t, "join us", inv.Reason)
		assert.NotEmpty(t, inv.From) // the room may show the occupant JID only

		require.NoError(t, rb.Leave(ctx))
		waitFor[im.OccupantChanged](t, alice, func(e im.OccupantChanged) bool { return e.Occupant.Nick == "Bob" && e.Left })
	})

	t.Run("PersistentRoom", func(t *testing.T) {
		ctx := t.Context()
		room := "persistent@" + p.MUC
		alice := startClient(t, p.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "persist" })
		r, err := alice.JoinRoom(ctx, room, "Alice", &im.JoinOptions{Persistent: true})
		require.NoError(t, err)
		_, err = r.Send(ctx, "kept for later")
		require.NoError(t, err)
		waitFor[im.RoomMessageReceived](t, alice, func(e im.RoomMessageReceived) bool { return e.Message.Text == "kept for later" })
		require.NoError(t, r.Leave(ctx))
		require.NoError(t, alice.Ping(ctx)) // the leave reached the room
		// Empty, the room still exists, and a newcomer gets its history.
		info, err := alice.Disco(ctx, room)
		require.NoError(t, err)
		assert.True(t, info.Has("muc_persistent"), "%v", info.Features)
		bob := startClient(t, p.Addr, ca, "bob", "secret2", func(c *im.Config) { c.Resource = "persist" })
		_, err = bob.JoinRoom(ctx, room, "Bob", &im.JoinOptions{History: 5})
		require.NoError(t, err)
		h := waitFor[im.RoomMessageReceived](t, bob, func(e im.RoomMessageReceived) bool { return e.Message.Text == "kept for later" })
		assert.True(t, h.Message.Delayed)
	})

	t.Run("Disco", func(t *testing.T) {
		alice := startClient(t, p.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "disco" })
		bob := startClient(t, p.Addr, ca, "bob", "secret2", func(c *im.Config) { c.Resource = "disco" })
		info, err := alice.Disco(t.Context(), p.Domain)
		require.NoError(t, err)
		assert.True(t, info.Has("urn:xmpp:ping"))
		acct, err := alice.Disco(t.Context(), jidOf("alice"))
		require.NoError(t, err)
		assert.True(t, acct.Has("urn:xmpp:mam:2"), "%v", acct.Features)
		items, err := alice.DiscoItems(t.Context(), p.Domain)
		require.NoError(t, err)
		assert.Contains(t, items, p.MUC)
		// A contact's client answers with our own features (XEP-0115).
		peer, err := alice.Disco(t.Context(), bob.JID())
		require.NoError(t, err)
		assert.True(t, peer.Has("urn:xmpp:receipts"))
		assert.True(t, peer.Has("http://jabber.org/protocol/chatstates"))
		require.NotEmpty(t, peer.Identities)
		assert.Equal(t, "client", peer.Identities[0].Category)
		_ = time.Second
	})
}
