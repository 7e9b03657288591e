package softphone_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
	"github.com/opencsf/opencsf/softphone/audio"
)

// TestIntegrationOpus calls with Opus only (go test -tags opus, with cgo
// and libopus-dev): a tone survives the codec; digits fall back to INFO.
func TestIntegrationOpus(t *testing.T) {
	if !softphone.CodecAvailable("opus") {
		_, err := softphone.New(softphone.Config{Account: softphone.Account{User: "a", Domain: "example.test"},
			Registrar: "127.0.0.1:5060", Codecs: []string{"opus"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "-tags opus")
		t.Skip("built without -tags opus")
	}
	k := lab.Kamailio(t, nil)
	opusOnly := func(c *softphone.Config) { c.Codecs = []string{"opus"} }
	heard := &audio.ToneDetector{Frequency: 440}
	_, bob, ac, _ := connect(t, k, &softphone.CallOptions{Source: &audio.Tone{Frequency: 440}}, &softphone.CallOptions{Sink: heard}, opusOnly)
	eventually(t, 5*time.Second, func() bool { _, n := heard.Counts(); return n > 25 }, "tone lost in Opus")
	st := ac.Stats()
	assert.Equal(t, "opus", st.Codec)
	require.NoError(t, ac.SendDTMF(t.Context(), "9"))
	ev := waitFor[softphone.DTMFReceived](t, bob, 5*time.Second, nil)
	assert.True(t, ev.INFO)
	require.NoError(t, ac.Hangup(t.Context()))
}
