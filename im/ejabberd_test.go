package im_test

import (
	"testing"

	"github.com/opencsf/opencsf/im"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationEjabberd runs the interop subset against ejabberd:
// connect (both TLS modes), roster, chat with receipts, and MUC.
func TestIntegrationEjabberd(t *testing.T) {
	e := lab.Ejabberd(t, nil)
	ca := e.CA()

	t.Run("Connect", func(t *testing.T) {
		c := startClient(t, e.Addr, ca, "alice", "secret1", nil)
		ev := waitFor[im.Connected](t, c, nil)
		assert.Equal(t, jidOf("alice")+"/opencsf", ev.JID)
		require.NoError(t, c.Ping(t.Context()))
		d := startClient(t, e.TLSAddr, ca, "alice", "secret1", func(c *im.Config) { c.DirectTLS = true; c.Resource = "direct" })
		require.NoError(t, d.Ping(t.Context()))

		bad := newTestClient(t, clientConfig(t, e.Addr, ca, "alice", "nope"))
		err := bad.Start(t.Context())
		assert.ErrorIs(t, err, im.ErrAuth)
	})

	t.Run("ChatAndReceipts", func(t *testing.T) {
		alice := startClient(t, e.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "chat" })
		bob := startClient(t, e.Addr, ca, "bob", "secret2", func(c *im.Config) { c.Resource = "chat" })
		id, err := alice.SendText(t.Context(), jidOf("bob")+"/chat", "hello from alice")
		require.NoError(t, err)
		got := waitFor[im.MessageReceived](t, bob, func(ev im.MessageReceived) bool { return ev.Message.ID == id })
		assert.Equal(t, "hello from alice", got.Message.Text)
		waitFor[im.ReceiptReceived](t, alice, func(ev im.ReceiptReceived) bool { return ev.ID == id })
	})

	t.Run("Roster", func(t *testing.T) {
		alice := startClient(t, e.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "roster" })
		bob := startClient(t, e.Addr, ca, "bob", "secret2", func(c *im.Config) { c.Resource = "roster" })
		ctx := t.Context()
		_, err := alice.Roster(ctx)
		require.NoError(t, err)
		require.NoError(t, alice.SetContact(ctx, im.Contact{JID: jidOf("bob"), Name: "Bob", Groups: []string{"Team"}}))
		waitFor[im.RosterChanged](t, alice, func(ev im.RosterChanged) bool { return ev.Contact.JID == jidOf("bob") })
		require.NoError(t, alice.Subscribe(ctx, jidOf("bob")))
		waitFor[im.SubscriptionRequested](t, bob, func(ev im.SubscriptionRequested) bool { return ev.From == jidOf("alice") })
		require.NoError(t, bob.Approve(ctx, jidOf("alice")))
		waitFor[im.PresenceReceived](t, alice, func(ev im.PresenceReceived) bool { return ev.Presence.From == jidOf("bob")+"/roster" })
		roster, err := alice.Roster(ctx)
		require.NoError(t, err)
		require.Len(t, roster, 1)
		assert.Equal(t, "Bob", roster[0].Name)
		assert.Equal(t, "to", roster[0].Subscription)
		require.NoError(t, alice.RemoveContact(ctx, jidOf("bob")))
		waitFor[im.RosterChanged](t, alice, func(ev im.RosterChanged) bool { return ev.Removed })
	})

	t.Run("MUC", func(t *testing.T) {
		ctx := t.Context()
		room := "interop@" + e.MUC
		alice := startClient(t, e.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "muc" })
		bob := startClient(t, e.Addr, ca, "bob", "secret2", func(c *im.Config) { c.Resource = "muc" })
		ra, err := alice.JoinRoom(ctx, room, "Alice", nil)
		require.NoError(t, err)
		rb, err := bob.JoinRoom(ctx, room, "Bob", nil)
		require.NoError(t, err)
		waitFor[im.OccupantChanged](t, alice, func(ev im.OccupantChanged) bool { return ev.Occupant.Nick == "Bob" })
		_, err = rb.Send(ctx, "hi from bob")
		require.NoError(t, err)
		m := waitFor[im.RoomMessageReceived](t, alice, func(ev im.RoomMessageReceived) bool { return ev.Message.Text == "hi from bob" })
		assert.Equal(t, "Bob", m.Nick)
		require.NoError(t, ra.SetSubject(ctx, "interop"))
		waitFor[im.RoomSubjectChanged](t, bob, func(ev im.RoomSubjectChanged) bool { return ev.Subject == "interop" })
		require.NoError(t, rb.Leave(ctx))
		waitFor[im.OccupantChanged](t, alice, func(ev im.OccupantChanged) bool { return ev.Occupant.Nick == "Bob" && ev.Left })
	})
}
