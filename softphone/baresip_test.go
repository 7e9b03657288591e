package softphone_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
	"github.com/opencsf/opencsf/softphone/audio"
)

func TestIntegrationBaresip(t *testing.T) {
	k := lab.Kamailio(t, nil)
	// Started after kamailio, so stopped before it.
	b := lab.Baresip(t, &lab.BaresipOptions{Registrar: k.UDPAddr, ToneHz: 800})
	alice := newPhone(t, k, "alice", "secret1", "udp", nil)
	require.NoError(t, alice.Start(t.Context()))

	t.Run("we call baresip", func(t *testing.T) {
		heard := &audio.ToneDetector{Frequency: 800}
		call, err := alice.Dial(t.Context(), "bob", &softphone.CallOptions{Source: &audio.Tone{Frequency: 440}, Sink: heard})
		require.NoError(t, err)
		eventually(t, 10*time.Second, func() bool { _, n := heard.Counts(); return n >= 50 }, "baresip's tone not heard")
		st := call.Stats()
		t.Logf("stats: %+v", st)
		assert.LessOrEqual(t, st.PacketsLost, int64(2))
		require.NoError(t, call.Hangup(t.Context()))
	})

	t.Run("baresip calls us", func(t *testing.T) {
		before := len(b.Received())
		got := make(chan *softphone.Call, 1)
		go func() {
			ev := waitFor[softphone.CallReceived](t, alice, 10*time.Second, nil)
			assert.NoError(t, ev.Call.Answer(t.Context(), &softphone.CallOptions{Source: &audio.Tone{Frequency: 440}}))
			got <- ev.Call
		}()
		require.NoError(t, b.Dial(t.Context(), "sip:alice@"+k.UDPAddr))
		var call *softphone.Call
		select {
		case call = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("no call from baresip")
		}
		// Let baresip record two seconds of our tone, then hang up from its side.
		time.Sleep(2 * time.Second)
		require.NoError(t, b.Hangup(t.Context()))
		<-call.Done()
		files := b.Received()
		require.Greater(t, len(files), before)
		f, err := os.Open(files[len(files)-1])
		require.NoError(t, err)
		defer f.Close()
		src, err := audio.NewWAVSource(f)
		if err != nil {
			t.Fatalf("baresip recorded in a format we do not read: %v", err)
		}
		det := &audio.ToneDetector{Frequency: 440}
		frame := make([]int16, audio.FrameSamples)
		for src.ReadFrame(frame) == nil {
			_ = det.WriteFrame(frame)
		}
		frames, tone := det.Counts()
		t.Logf("baresip recorded %d frames, %d with our tone", frames, tone)
		assert.Greater(t, tone, 50)
	})
}
