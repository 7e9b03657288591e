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

// connect registers alice and bob and returns an answered call from alice
// to bob, with both calls.
func connect(t *testing.T, k *lab.KamailioServer, aliceOpts, bobOpts *softphone.CallOptions, mod func(*softphone.Config)) (alice, bob *testPhone, ac, bc *softphone.Call) {
	t.Helper()
	alice = newPhone(t, k, "alice", "secret1", "udp", mod)
	bob = newPhone(t, k, "bob", "secret2", "udp", mod)
	require.NoError(t, alice.Start(t.Context()))
	require.NoError(t, bob.Start(t.Context()))
	ac, bc = dialAnswered(t, alice, bob, "bob", aliceOpts, bobOpts)
	return alice, bob, ac, bc
}

// dialAnswered has from call user (the callee phone to) and to answer;
// it returns both ends of the call.
func dialAnswered(t *testing.T, from, to *testPhone, user string, fromOpts, toOpts *softphone.CallOptions) (caller, callee *softphone.Call) {
	t.Helper()
	got := make(chan *softphone.Call, 1)
	go func() {
		ev := waitFor[softphone.CallReceived](t, to, 10*time.Second, nil)
		assert.NoError(t, ev.Call.Answer(t.Context(), toOpts))
		got <- ev.Call
	}()
	caller, err := from.Dial(t.Context(), user, fromOpts)
	require.NoError(t, err)
	select {
	case callee = <-got:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not answer", user)
	}
	return caller, callee
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf(msg, args...)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestIntegrationHoldResume(t *testing.T) {
	k := lab.Kamailio(t, nil)
	aliceHears := &audio.ToneDetector{Frequency: 1000}
	alice, bob, ac, _ := connect(t, k, &softphone.CallOptions{Sink: aliceHears}, &softphone.CallOptions{Source: &audio.Tone{Frequency: 1000}}, nil)
	eventually(t, 5*time.Second, func() bool { _, n := aliceHears.Counts(); return n > 10 }, "no tone before hold")

	require.NoError(t, ac.Hold(t.Context()))
	assert.Equal(t, softphone.CallHeld, ac.State())
	waitFor[softphone.CallStateChanged](t, bob, 5*time.Second, func(e softphone.CallStateChanged) bool { return e.State == softphone.CallRemoteHeld })
	// Bob answered recvonly: his tone stops reaching alice.
	time.Sleep(200 * time.Millisecond) // let packets in flight drain
	_, before := aliceHears.Counts()
	time.Sleep(500 * time.Millisecond)
	_, after := aliceHears.Counts()
	assert.LessOrEqual(t, after-before, 2, "tone heard while held")

	require.NoError(t, ac.Resume(t.Context()))
	assert.Equal(t, softphone.CallActive, ac.State())
	waitFor[softphone.CallStateChanged](t, bob, 5*time.Second, func(e softphone.CallStateChanged) bool { return e.State == softphone.CallActive })
	eventually(t, 5*time.Second, func() bool { _, n := aliceHears.Counts(); return n > after+10 }, "no tone after resume")

	ac.Mute(true)
	require.NoError(t, ac.Hangup(t.Context()))
	require.NoError(t, alice.Shutdown(t.Context()))
	require.NoError(t, bob.Shutdown(t.Context()))
}

func TestIntegrationDTMF(t *testing.T) {
	k := lab.Kamailio(t, nil)
	t.Run("rfc4733 both ways", func(t *testing.T) {
		alice, bob, ac, bc := connect(t, k, nil, nil, nil)
		require.NoError(t, ac.SendDTMF(t.Context(), "123#"))
		var got []rune
		for range 4 {
			ev := waitFor[softphone.DTMFReceived](t, bob, 5*time.Second, nil)
			assert.False(t, ev.INFO)
			got = append(got, ev.Digit)
		}
		assert.Equal(t, "123#", string(got))
		require.NoError(t, bc.SendDTMF(t.Context(), "*9"))
		got = got[:0]
		for range 2 {
			got = append(got, waitFor[softphone.DTMFReceived](t, alice, 5*time.Second, nil).Digit)
		}
		assert.Equal(t, "*9", string(got))
		require.NoError(t, ac.Hangup(t.Context()))
	})
	t.Run("sip info fallback", func(t *testing.T) {
		// Without telephone-event offered, digits go as SIP INFO.
		alice, bob, ac, _ := connect(t, k, nil, nil, func(c *softphone.Config) { c.NoDTMFEvents = true })
		_ = alice
		require.NoError(t, ac.SendDTMF(t.Context(), "5"))
		ev := waitFor[softphone.DTMFReceived](t, bob, 5*time.Second, nil)
		assert.True(t, ev.INFO)
		assert.Equal(t, '5', ev.Digit)
		require.NoError(t, ac.Hangup(t.Context()))
	})
}

func TestIntegrationCallWaiting(t *testing.T) {
	k := lab.Kamailio(t, nil)
	bobHears := &audio.ToneDetector{Frequency: 900}
	alice, bob, ac, bc := connect(t, k, &softphone.CallOptions{Source: &audio.Tone{Frequency: 900}}, &softphone.CallOptions{Sink: bobHears}, nil)
	carol := newPhone(t, k, "carol", "secret3", "udp", nil)
	require.NoError(t, carol.Start(t.Context()))
	eventually(t, 5*time.Second, func() bool { _, n := bobHears.Counts(); return n > 10 }, "bob does not hear alice")
	// A second call reaches bob while the first is up; he holds the first
	// and answers the second.
	second := make(chan *softphone.Call, 1)
	go func() {
		ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
		assert.NoError(t, bc.Hold(t.Context()))
		assert.NoError(t, ev.Call.Answer(t.Context(), nil))
		second <- ev.Call
	}()
	cc, err := carol.Dial(t.Context(), "bob", nil)
	require.NoError(t, err)
	var bc2 *softphone.Call
	select {
	case bc2 = <-second:
	case <-time.After(10 * time.Second):
		t.Fatal("bob did not answer the second call")
	}
	assert.Len(t, bob.Calls(), 2)
	assert.Equal(t, softphone.CallHeld, bc.State())
	eventually(t, 2*time.Second, func() bool { return ac.State() == softphone.CallRemoteHeld }, "alice not held: %s", ac.State())
	assert.Equal(t, softphone.CallActive, bc2.State())

	// Carol hangs up; bob takes alice off hold and hears her again.
	require.NoError(t, cc.Hangup(t.Context()))
	<-bc2.Done()
	require.NoError(t, bc.Resume(t.Context()))
	_, before := bobHears.Counts()
	eventually(t, 5*time.Second, func() bool { _, n := bobHears.Counts(); return n > before+10 }, "bob does not hear alice after resuming")
	require.NoError(t, ac.Hangup(t.Context()))
	eventually(t, 5*time.Second, func() bool { return len(bob.Calls()) == 0 }, "bob still has calls")
	_ = alice
}
