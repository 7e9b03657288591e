package softphone_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
)

// TestIntegrationLines: one phone, one socket, two lines (alice and
// carol). Bob calls carol and reaches the carol line; the phone calls bob
// from carol's line.
func TestIntegrationLines(t *testing.T) {
	k := lab.Kamailio(t, nil)
	p := newPhone(t, k, "alice", "secret1", "udp", func(c *softphone.Config) {
		c.Lines = []softphone.Account{{User: "carol", Domain: k.Domain, Password: config.Secret("secret3")}}
	})
	bob := newPhone(t, k, "bob", "secret2", "udp", nil)
	require.NoError(t, p.Start(t.Context()))
	require.NoError(t, bob.Start(t.Context()))
	assert.Equal(t, []string{"sip:alice@example.test", "sip:carol@example.test"}, p.Lines())
	assert.True(t, p.Health().Healthy)

	go func() {
		ev := waitFor[softphone.CallReceived](t, p, 10*time.Second, nil)
		assert.Equal(t, "sip:carol@example.test", ev.Line)
		assert.NoError(t, ev.Call.Answer(t.Context(), nil))
	}()
	c, err := bob.Dial(t.Context(), "carol", nil)
	require.NoError(t, err)
	require.NoError(t, c.Hangup(t.Context()))

	go func() {
		ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
		assert.Equal(t, "sip:carol@example.test", ev.From)
		assert.NoError(t, ev.Call.Answer(t.Context(), nil))
	}()
	c, err = p.Dial(t.Context(), "bob", &softphone.CallOptions{Line: "carol"})
	require.NoError(t, err)
	require.NoError(t, c.Hangup(t.Context()))

	_, err = p.Dial(t.Context(), "bob", &softphone.CallOptions{Line: "dave"})
	assert.Error(t, err)
	require.NoError(t, p.Shutdown(t.Context()))
	for range 2 {
		waitFor[softphone.Unregistered](t, p, 5*time.Second, nil)
	}
}
