package softphone_test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
	"github.com/opencsf/opencsf/softphone/audio"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestIntegrationSRTP calls over TLS with SRTPRequired on both sides, with
// debug logging on: the tone goes through encrypted and no key or
// password reaches the log.
func TestIntegrationSRTP(t *testing.T) {
	k := lab.Kamailio(t, nil)
	logs := &lockedBuffer{}
	mod := func(c *softphone.Config) {
		c.SRTP = softphone.SRTPRequired
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	alice := newPhone(t, k, "alice", "secret1", "tls", mod)
	bob := newPhone(t, k, "bob", "secret2", "tls", mod)
	require.NoError(t, alice.Start(t.Context()))
	require.NoError(t, bob.Start(t.Context()))
	heard := &audio.ToneDetector{Frequency: 900}
	go func() {
		ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
		assert.NoError(t, ev.Call.Answer(t.Context(), &softphone.CallOptions{Sink: heard}))
	}()
	call, err := alice.Dial(t.Context(), "bob", &softphone.CallOptions{Source: &audio.Tone{Frequency: 900}})
	require.NoError(t, err)
	eventually(t, 5*time.Second, func() bool { _, n := heard.Counts(); return n > 25 }, "tone not heard over SRTP")
	eventually(t, 8*time.Second, func() bool { return call.Stats().RTT > 0 }, "no RTT: SRTCP reports not exchanged")
	require.NoError(t, call.Hold(t.Context()))
	require.NoError(t, call.Resume(t.Context()))
	st := call.Stats()
	assert.True(t, st.SRTP)
	assert.Zero(t, st.DecryptFailures)
	require.NoError(t, call.Hangup(t.Context()))
	require.NoError(t, alice.Shutdown(t.Context()))
	require.NoError(t, bob.Shutdown(t.Context()))

	out := logs.String()
	require.NotEmpty(t, out)
	assert.NotContains(t, out, "inline:")
	assert.NotContains(t, out, "secret1")
	assert.NotContains(t, out, "secret2")
}

func TestSRTPNeedsTLS(t *testing.T) {
	_, err := softphone.New(softphone.Config{Account: softphone.Account{User: "a", Domain: "example.test"},
		Registrar: "127.0.0.1:5060", Transport: "udp", SRTP: softphone.SRTPRequired})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Config.SRTP")
}
