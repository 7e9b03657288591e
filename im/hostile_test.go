package im

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationSpoofedStanzas has bob send, through a real prosody, the
// stanzas of the XMPP smuggling and spoofing attacks: a carbon and a
// roster push with his own from (the server stamps it), and a message in
// a namespace that is not ours. Alice drops each with a log line and
// stays connected.
func TestIntegrationSpoofedStanzas(t *testing.T) {
	p := lab.Prosody(t, nil)
	trust, err := csf.LoadTrust("", false)
	require.NoError(t, err)
	require.NoError(t, trust.AddPEM(p.CA().CertPEM()))
	fw := csf.New(csf.Config{})
	defer fw.Close()
	msgs := csf.SubscribeTo[MessageReceived](fw.Bus(), 100)
	defer msgs.Close()
	roster := csf.SubscribeTo[RosterChanged](fw.Bus(), 100)
	defer roster.Close()

	mk := func(user, pw string) *Client {
		c, err := New(Config{JID: user + "@" + lab.Domain, Password: "x", Server: p.Addr, Trust: trust,
			Resource: "hostile", Events: fw.Bus().NewPublisher("im")})
		require.NoError(t, err)
		c.cfg.Password = configSecret(pw)
		require.NoError(t, c.Start(t.Context()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Shutdown(ctx)
		})
		return c
	}
	alice := mk("alice", "secret1")
	bob := mk("bob", "secret2")
	_, err = alice.Roster(t.Context())
	require.NoError(t, err)

	to := alice.JID()
	bob.enqueue([]byte(`<message to='`+to+`' id='s1'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='carol@example.test/x' to='`+to+`' id='spoof1' type='chat'><body>I am carol</body></message></forwarded></received></message>`), false)
	bob.enqueue([]byte(`<iq type='set' id='s2' to='`+to+`'><query xmlns='jabber:iq:roster'><item jid='mallory@evil.test' name='trusted'/></query></iq>`), false)
	// A real message afterwards proves alice kept reading.
	id, err := bob.SendText(t.Context(), to, "still there?")
	require.NoError(t, err)

	select {
	case ev := <-msgs.Events():
		assert.Equal(t, id, ev.Message.ID, "the spoofed carbon was not delivered")
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	select {
	case ev := <-roster.Events():
		t.Fatalf("spoofed roster push accepted: %+v", ev)
	default:
	}
	assert.GreaterOrEqual(t, alice.Health().Counters["dropped"], int64(2))
	assert.True(t, alice.Health().Healthy)
}

// TestIntegrationOversizedStanza: bob sends alice a 100 KB message while
// alice accepts 16 KB stanzas. Alice drops it with a log line, counts it
// as handled (so that stream management does not bring it back), stays
// connected, and gets the next message.
func TestIntegrationOversizedStanza(t *testing.T) {
	p := lab.Prosody(t, nil)
	trust, err := csf.LoadTrust("", false)
	require.NoError(t, err)
	require.NoError(t, trust.AddPEM(p.CA().CertPEM()))
	fw := csf.New(csf.Config{})
	defer fw.Close()
	msgs := csf.SubscribeTo[MessageReceived](fw.Bus(), 100)
	defer msgs.Close()
	mk := func(user, pw string, max int) *Client {
		c, err := New(Config{JID: user + "@" + lab.Domain, Password: configSecret(pw), Server: p.Addr, Trust: trust,
			Resource: "big", Events: fw.Bus().NewPublisher("im"), MaxStanzaSize: max})
		require.NoError(t, err)
		require.NoError(t, c.Start(t.Context()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Shutdown(ctx)
		})
		return c
	}
	alice := mk("alice", "secret1", 16<<10)
	bob := mk("bob", "secret2", 0)
	_, err = bob.SendText(t.Context(), alice.JID(), strings.Repeat("big ", 25000))
	require.NoError(t, err)
	id, err := bob.SendText(t.Context(), alice.JID(), "small")
	require.NoError(t, err)
	select {
	case ev := <-msgs.Events():
		assert.Equal(t, id, ev.Message.ID, "the big one was dropped, the next one arrived")
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	h := alice.Health()
	assert.Equal(t, int64(1), h.Counters["dropped"])
	assert.Zero(t, h.Counters["reconnects"])
	assert.True(t, h.Healthy)
}
