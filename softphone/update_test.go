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

// TestIntegrationUpdate: between two phones through kamailio, which both
// allow UPDATE, session refreshes go as UPDATE, Hold and Resume too with
// MediaByUpdate, and Call.Update sends a new offer.
func TestIntegrationUpdate(t *testing.T) {
	k := lab.Kamailio(t, nil)
	t.Run("session refresh", func(t *testing.T) {
		short := func(c *softphone.Config) { c.SessionExpires = 2 * time.Second }
		_, bob, ac, bc := connect(t, k, nil, nil, short)
		eventually(t, 5*time.Second, func() bool { return ac.SessionRefreshes() >= 2 }, "no session refreshes")
		assert.GreaterOrEqual(t, bob.Health().Counters["updates_received"], int64(2))
		assert.Zero(t, bob.Health().Counters["reinvites_received"], "a refresh went as re-INVITE")
		assert.Equal(t, softphone.CallActive, bc.State())
		require.NoError(t, ac.Hangup(t.Context()))
	})
	t.Run("hold by UPDATE", func(t *testing.T) {
		aliceHears := &audio.ToneDetector{Frequency: 1000}
		byUpdate := func(c *softphone.Config) { c.MediaByUpdate = true }
		_, bob, ac, _ := connect(t, k, &softphone.CallOptions{Sink: aliceHears}, &softphone.CallOptions{Source: &audio.Tone{Frequency: 1000}}, byUpdate)
		eventually(t, 5*time.Second, func() bool { _, n := aliceHears.Counts(); return n > 10 }, "no tone before hold")

		require.NoError(t, ac.Hold(t.Context()))
		assert.Equal(t, softphone.CallHeld, ac.State())
		waitFor[softphone.CallStateChanged](t, bob, 5*time.Second, func(e softphone.CallStateChanged) bool { return e.State == softphone.CallRemoteHeld })
		time.Sleep(200 * time.Millisecond) // packets in flight
		_, before := aliceHears.Counts()
		time.Sleep(500 * time.Millisecond)
		_, after := aliceHears.Counts()
		assert.LessOrEqual(t, after-before, 2, "tone heard while held")

		require.NoError(t, ac.Resume(t.Context()))
		waitFor[softphone.CallStateChanged](t, bob, 5*time.Second, func(e softphone.CallStateChanged) bool { return e.State == softphone.CallActive })
		eventually(t, 5*time.Second, func() bool { _, n := aliceHears.Counts(); return n > after+10 }, "no tone after resume")
		assert.Equal(t, int64(2), bob.Health().Counters["updates_received"])
		assert.Zero(t, bob.Health().Counters["reinvites_received"])
		require.NoError(t, ac.Hangup(t.Context()))
	})
	t.Run("new offer", func(t *testing.T) {
		_, bob, ac, bc := connect(t, k, nil, nil, nil)
		require.NoError(t, ac.Update(t.Context()))
		assert.Equal(t, int64(1), bob.Health().Counters["updates_received"])
		assert.Equal(t, softphone.CallActive, ac.State())
		assert.Equal(t, softphone.CallActive, bc.State())
		require.NoError(t, ac.Refresh(t.Context()))
		assert.Equal(t, int64(2), bob.Health().Counters["updates_received"])
		assert.Equal(t, 1, ac.SessionRefreshes())
		require.NoError(t, ac.Hangup(t.Context()))
	})
}

// TestIntegrationSippSessionRefresh: SIPp answers with a 2 s session that
// we refresh; it allows UPDATE in one scenario, and the refresh must come
// as UPDATE without a body, and not in the other, where it must come as a
// re-INVITE with an offer. Call.Update is refused where UPDATE is not
// allowed.
func TestIntegrationSippSessionRefresh(t *testing.T) {
	for _, tc := range []struct {
		file        string
		allowUpdate bool
	}{{"update_refresh.xml", true}, {"reinvite_refresh.xml", false}} {
		t.Run(tc.file, func(t *testing.T) {
			s := lab.Sipp(t, lab.SippOptions{Scenario: scenario(t, tc.file), Calls: 1})
			p := peerPhone(t, s.Addr, func(c *softphone.Config) { c.SessionExpires = 2 * time.Second })
			require.NoError(t, p.Start(t.Context()))
			call, err := p.Dial(t.Context(), "sip:service@"+s.Addr, nil)
			require.NoError(t, err)
			if !tc.allowUpdate {
				assert.ErrorIs(t, call.Update(t.Context()), softphone.ErrBadState)
			}
			eventually(t, 5*time.Second, func() bool { return call.SessionRefreshes() >= 1 }, "no session refresh")
			require.NoError(t, call.Hangup(t.Context()))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			require.NoError(t, s.Wait(ctx))
		})
	}
}
