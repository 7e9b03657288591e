package im_test

import (
	"net"
	"testing"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/im"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntegrationProsody(t *testing.T) {
	p := lab.Prosody(t, nil)
	ca := p.CA()

	t.Run("ConnectSTARTTLS", func(t *testing.T) {
		c := startClient(t, p.Addr, ca, "alice", "secret1", nil)
		ev := waitFor[im.Connected](t, c, nil)
		assert.Equal(t, jidOf("alice")+"/opencsf", ev.JID)
		assert.False(t, ev.Resumed)
		h := c.Health()
		assert.True(t, h.Healthy)
		require.NotNil(t, h.TLS)
		assert.Contains(t, h.TLS.DNSNames, "example.test")
		require.NoError(t, c.Ping(t.Context()))
		require.NoError(t, c.Shutdown(t.Context()))
		assert.ErrorIs(t, c.Close(), net.ErrClosed)
	})

	t.Run("ConnectDirectTLS", func(t *testing.T) {
		c := startClient(t, p.TLSAddr, ca, "alice", "secret1", func(cfg *im.Config) {
			cfg.DirectTLS = true
			cfg.Resource = "direct"
		})
		ev := waitFor[im.Connected](t, c, nil)
		assert.Equal(t, jidOf("alice")+"/direct", ev.JID)
		require.NoError(t, c.Ping(t.Context()))
	})

	t.Run("WrongPasswordIsAuthError", func(t *testing.T) {
		cfg := clientConfig(t, p.Addr, ca, "alice", "wrong")
		c := newTestClient(t, cfg)
		start := time.Now()
		err := c.Start(t.Context())
		require.Error(t, err)
		assert.ErrorIs(t, err, im.ErrAuth)
		var ae *im.AuthError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, "SCRAM-SHA-1", ae.Mechanism, "prosody 0.12 offers SCRAM-SHA-1 only")
		assert.Less(t, time.Since(start), 10*time.Second, "no retry loop")
	})

	t.Run("UnknownCAIsTLSError", func(t *testing.T) {
		other, err := lab.NewCA(t.TempDir())
		require.NoError(t, err)
		cfg := clientConfig(t, p.Addr, other, "alice", "secret1")
		c := newTestClient(t, cfg)
		err = c.Start(t.Context())
		var te *csf.TLSError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, csf.TLSUnknownAuthority, te.Reason)
	})

	t.Run("ChatSendReceive", func(t *testing.T) {
		alice := startClient(t, p.Addr, ca, "alice", "secret1", func(c *im.Config) { c.Resource = "chat" })
		bob := startClient(t, p.Addr, ca, "bob", "secret2", func(c *im.Config) { c.Resource = "chat" })
		id, err := alice.SendText(t.Context(), jidOf("bob"), "hello <bob> & 'friends'")
		require.NoError(t, err)
		got := waitFor[im.MessageReceived](t, bob, func(e im.MessageReceived) bool { return e.Message.ID == id })
		assert.Equal(t, "hello <bob> & 'friends'", got.Message.Text)
		assert.Equal(t, jidOf("alice")+"/chat", got.Message.From)
		assert.Equal(t, "chat", got.Message.Type)
		assert.Equal(t, im.ChatActive, got.Message.State)
		// bob's client answers the receipt request (XEP-0184).
		rc := waitFor[im.ReceiptReceived](t, alice, func(e im.ReceiptReceived) bool { return e.ID == id })
		assert.Equal(t, jidOf("bob")+"/chat", rc.From)

		// Chat states (XEP-0085).
		require.NoError(t, bob.SendChatState(t.Context(), jidOf("alice")+"/chat", im.ChatComposing))
		cs := waitFor[im.ChatStateChanged](t, alice, nil)
		assert.Equal(t, im.ChatComposing, cs.State)
	})
}

func TestIntegrationTLSDiagnostics(t *testing.T) {
	ca, err := lab.NewCA(t.TempDir())
	require.NoError(t, err)
	bad, err := ca.MakeBadCerts()
	require.NoError(t, err)
	tests := []struct {
		name string
		leaf *lab.Leaf
		want csf.TLSReason
	}{
		{"expired", bad.Expired, csf.TLSExpired},
		{"wrong name", bad.WrongName, csf.TLSNameMismatch},
		{"unknown authority", bad.UnknownAuthority, csf.TLSUnknownAuthority},
		{"issuer not a CA", bad.NotCA, csf.TLSNotCA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Only a TLS endpoint presenting the bad certificate: the client
			// must refuse it before any XMPP is spoken.
			addr := tlsEndpoint(t, tt.leaf)
			cfg := clientConfig(t, addr, ca, "alice", "secret1")
			cfg.DirectTLS = true
			c := newTestClient(t, cfg)
			err := c.Start(t.Context())
			var te *csf.TLSError
			require.ErrorAs(t, err, &te, "%v", err)
			assert.Equal(t, tt.want, te.Reason, "%v", err)
			assert.Equal(t, "failed", c.Health().Status)
		})
	}
}
