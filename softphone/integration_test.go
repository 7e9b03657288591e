package softphone_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
	"github.com/opencsf/opencsf/softphone/audio"
)

func TestIntegrationRegister(t *testing.T) {
	k := lab.Kamailio(t, nil)
	for _, tp := range []string{"udp", "tcp", "tls"} {
		t.Run(tp, func(t *testing.T) {
			p := newPhone(t, k, "alice", "secret1", tp, nil)
			require.NoError(t, p.Start(t.Context()))
			waitFor[softphone.Registered](t, p, 5*time.Second, nil)
			assert.True(t, p.Health().Healthy)
			require.NoError(t, p.Shutdown(t.Context()))
			waitFor[softphone.Unregistered](t, p, 5*time.Second, nil)
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		p := newPhone(t, k, "alice", "wrong", "udp", nil)
		err := p.Start(t.Context())
		require.ErrorIs(t, err, softphone.ErrAuthFailed)
		var se *softphone.StatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 401, se.Code)
	})
	t.Run("refresh", func(t *testing.T) {
		// Kamailio grants at least 60 s; RefreshInterval brings the
		// refresh forward (the 2 s grant of a SIPp registrar is tested in
		// TestIntegrationSippRegistrar).
		p := newPhone(t, k, "bob", "secret2", "udp", func(c *softphone.Config) { c.RefreshInterval = time.Second })
		require.NoError(t, p.Start(t.Context()))
		first := waitFor[softphone.Registered](t, p, 5*time.Second, nil)
		assert.Equal(t, 60*time.Second, first.Expires)
		ev := waitFor[softphone.Registered](t, p, 3*time.Second, func(e softphone.Registered) bool { return e.Refresh })
		assert.True(t, ev.Refresh)
		assert.Equal(t, int64(1), p.Health().Counters["registrations"])
	})
}

func TestIntegrationCall(t *testing.T) {
	k := lab.Kamailio(t, nil)
	for _, tp := range []string{"udp", "tcp", "tls"} {
		t.Run(tp, func(t *testing.T) {
			alice := newPhone(t, k, "alice", "secret1", tp, nil)
			bob := newPhone(t, k, "bob", "secret2", tp, func(c *softphone.Config) { c.Codecs = []string{"PCMA", "PCMU"} })
			require.NoError(t, alice.Start(t.Context()))
			require.NoError(t, bob.Start(t.Context()))

			// Bob answers with a 1 kHz tone; alice sends 440 Hz.
			bobHears := &audio.ToneDetector{Frequency: 440}
			aliceHears := &audio.ToneDetector{Frequency: 1000}
			go func() {
				ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
				assert.NoError(t, ev.Call.Answer(t.Context(), &softphone.CallOptions{Source: &audio.Tone{Frequency: 1000}, Sink: bobHears}))
			}()
			call, err := alice.Dial(t.Context(), "sip:bob@example.test", &softphone.CallOptions{Source: &audio.Tone{Frequency: 440}, Sink: aliceHears})
			require.NoError(t, err)
			assert.Equal(t, softphone.CallActive, call.State())

			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			for {
				_, bt := bobHears.Counts()
				_, at := aliceHears.Counts()
				if bt >= 50 && at >= 50 {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("tones not heard: bob %d frames, alice %d frames", bt, at)
				case <-time.After(100 * time.Millisecond):
				}
			}
			st := call.Stats()
			t.Logf("alice stats: %+v", st)
			assert.Equal(t, "PCMU", st.Codec, "the offerer's first choice wins")
			assert.Equal(t, tp == "tls", st.SRTP, "SRTP exactly over TLS")
			assert.Zero(t, st.DecryptFailures)
			assert.LessOrEqual(t, st.PacketsLost, int64(1))

			require.NoError(t, call.Hangup(t.Context()))
			bobEnd := waitFor[softphone.CallStateChanged](t, bob, 5*time.Second, func(e softphone.CallStateChanged) bool { return e.State == softphone.CallEnded })
			assert.NoError(t, bobEnd.Err)
			require.NoError(t, alice.Shutdown(t.Context()))
			require.NoError(t, bob.Shutdown(t.Context()))
		})
	}
}

func TestIntegrationCallRejectedAndCancelled(t *testing.T) {
	k := lab.Kamailio(t, nil)
	alice := newPhone(t, k, "alice", "secret1", "udp", nil)
	bob := newPhone(t, k, "bob", "secret2", "udp", nil)
	require.NoError(t, alice.Start(t.Context()))
	require.NoError(t, bob.Start(t.Context()))

	t.Run("busy", func(t *testing.T) {
		go func() {
			ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
			assert.NoError(t, ev.Call.Reject(t.Context(), 486))
		}()
		_, err := alice.Dial(t.Context(), "bob", nil)
		var se *softphone.StatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 486, se.Code)
		assert.ErrorIs(t, err, &softphone.StatusError{Code: 486})
	})
	t.Run("decline", func(t *testing.T) {
		go func() {
			ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
			assert.NoError(t, ev.Call.Reject(t.Context(), 603))
		}()
		_, err := alice.Dial(t.Context(), "bob", nil)
		assert.ErrorIs(t, err, &softphone.StatusError{Code: 603})
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
			cancel()
		}()
		_, err := alice.Dial(ctx, "bob", nil)
		require.ErrorIs(t, err, context.Canceled)
		ev := waitFor[softphone.CallStateChanged](t, bob, 5*time.Second, func(e softphone.CallStateChanged) bool { return e.State == softphone.CallEnded })
		assert.ErrorIs(t, ev.Err, &softphone.StatusError{Code: 487})
	})
	t.Run("unknown user", func(t *testing.T) {
		_, err := alice.Dial(t.Context(), "nobody", nil)
		assert.ErrorIs(t, err, &softphone.StatusError{Code: 404})
	})
	t.Run("not registered", func(t *testing.T) {
		p := newPhone(t, k, "carol", "secret3", "udp", nil)
		_, err := p.Dial(t.Context(), "bob", nil)
		assert.ErrorIs(t, err, softphone.ErrNotRegistered)
	})
}
