package softphone_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
)

// TestIntegrationSIPS calls a sips: URI over TLS through kamailio.
func TestIntegrationSIPS(t *testing.T) {
	k := lab.Kamailio(t, nil)
	alice := newPhone(t, k, "alice", "secret1", "tls", nil)
	bob := newPhone(t, k, "bob", "secret2", "tls", nil)
	require.NoError(t, alice.Start(t.Context()))
	require.NoError(t, bob.Start(t.Context()))
	go func() {
		ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
		assert.NoError(t, ev.Call.Answer(t.Context(), nil))
	}()
	call, err := alice.Dial(t.Context(), "sips:bob@example.test", nil)
	require.NoError(t, err)
	assert.True(t, call.Stats().SRTP)
	require.NoError(t, call.Hangup(t.Context()))
}
