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

// TestIntegrationRestart restarts kamailio during a call: the call's media
// keeps flowing (it never passed through kamailio), both phones are
// registered again within one refresh interval, a new call goes through
// and the first call still hangs up properly.
func TestIntegrationRestart(t *testing.T) {
	for _, tp := range []string{"udp", "tcp", "tls"} {
		t.Run(tp, func(t *testing.T) {
			k := lab.Kamailio(t, nil)
			const refresh = 2 * time.Second
			mod := func(c *softphone.Config) { c.RefreshInterval = refresh }
			alice := newPhone(t, k, "alice", "secret1", tp, mod)
			bob := newPhone(t, k, "bob", "secret2", tp, mod)
			require.NoError(t, alice.Start(t.Context()))
			require.NoError(t, bob.Start(t.Context()))
			heard := &audio.ToneDetector{Frequency: 600}
			go func() {
				ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
				assert.NoError(t, ev.Call.Answer(t.Context(), &softphone.CallOptions{Sink: heard}))
			}()
			call, err := alice.Dial(t.Context(), "bob", &softphone.CallOptions{Source: &audio.Tone{Frequency: 600}})
			require.NoError(t, err)
			eventually(t, 5*time.Second, func() bool { _, n := heard.Counts(); return n > 10 }, "no tone before the restart")

			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			require.NoError(t, k.Restart(ctx))
			restarted := time.Now()
			_, atRestart := heard.Counts()
			eventually(t, 2*time.Second, func() bool { _, n := heard.Counts(); return n > atRestart+25 }, "media stopped with kamailio")

			// Both phones come back within one refresh interval (plus a
			// retry's worth of slack for a refresh that hit the restart).
			for _, p := range []*testPhone{alice, bob} {
				waitFor[softphone.Registered](t, p, refresh+3*time.Second, func(e softphone.Registered) bool {
					return e.Header().Time.After(restarted)
				})
			}
			t.Logf("registered again %v after the restart", time.Since(restarted).Round(time.Millisecond))

			go func() {
				ev := waitFor[softphone.CallReceived](t, alice, 10*time.Second, nil)
				assert.NoError(t, ev.Call.Answer(t.Context(), nil))
			}()
			second, err := bob.Dial(t.Context(), "alice", nil)
			require.NoError(t, err)
			require.NoError(t, second.Hangup(t.Context()))

			st := call.Stats()
			t.Logf("first call across the restart: %+v", st)
			assert.LessOrEqual(t, st.PacketsLost, int64(2))
			require.NoError(t, call.Hangup(t.Context()))
			require.NoError(t, alice.Shutdown(t.Context()))
			require.NoError(t, bob.Shutdown(t.Context()))
		})
	}
}

// TestIntegrationRestartKeepAlive: over TCP and TLS with a long refresh
// interval, CRLF keep-alives find the flow broken by a kamailio restart and
// the phone registers again at once.
func TestIntegrationRestartKeepAlive(t *testing.T) {
	for _, tp := range []string{"tcp", "tls"} {
		t.Run(tp, func(t *testing.T) {
			k := lab.Kamailio(t, nil)
			p := newPhone(t, k, "alice", "secret1", tp, func(c *softphone.Config) { c.KeepAlive = 300 * time.Millisecond })
			require.NoError(t, p.Start(t.Context()))
			waitFor[softphone.Registered](t, p, 5*time.Second, nil)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			require.NoError(t, k.Restart(ctx))
			restarted := time.Now()
			waitFor[softphone.Registered](t, p, 5*time.Second, func(e softphone.Registered) bool { return e.Header().Time.After(restarted) })
			t.Logf("registered again %v after the restart (refresh due in 30 s)", time.Since(restarted).Round(time.Millisecond))
			assert.Positive(t, p.Health().Counters["flow_failures"])
		})
	}
}

// TestIntegrationRegistrarDownMidRegistration: kamailio goes down while
// the phone refreshes every second, so refreshes meet a registrar that is
// gone (UDP: REGISTER in flight, retransmitted; TCP and TLS: the
// connection refused, retried with backoff), and comes back without the
// registrations: the phone is registered again a few seconds later.
func TestIntegrationRegistrarDownMidRegistration(t *testing.T) {
	for _, tp := range []string{"udp", "tcp", "tls"} {
		t.Run(tp, func(t *testing.T) {
			k := lab.Kamailio(t, nil)
			const refresh = time.Second
			p := newPhone(t, k, "alice", "secret1", tp, func(c *softphone.Config) { c.RefreshInterval = refresh })
			require.NoError(t, p.Start(t.Context()))
			waitFor[softphone.Registered](t, p, 5*time.Second, nil)
			k.Stop()
			time.Sleep(2 * refresh)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			require.NoError(t, k.Start(ctx))
			back := time.Now()
			// UDP's REGISTER retransmissions back off to 4 s (RFC 3261
			// timer E), TCP's retries by the retry policy.
			waitFor[softphone.Registered](t, p, refresh+5*time.Second, func(e softphone.Registered) bool { return e.Header().Time.After(back) })
			t.Logf("registered again %v after kamailio came back", time.Since(back).Round(time.Millisecond))
			assert.True(t, p.Health().Healthy)
			require.NoError(t, p.Shutdown(t.Context()))
		})
	}
}
