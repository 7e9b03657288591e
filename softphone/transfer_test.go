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

// TestIntegrationBlindTransfer: alice calls bob; bob transfers alice to
// carol; alice ends up talking to carol, bob's call ends.
func TestIntegrationBlindTransfer(t *testing.T) {
	k := lab.Kamailio(t, nil)
	carolHears := &audio.ToneDetector{Frequency: 750}
	alice, bob, ac, bc := connect(t, k, &softphone.CallOptions{Source: &audio.Tone{Frequency: 750}}, nil, nil)
	carol := newPhone(t, k, "carol", "secret3", "udp", nil)
	require.NoError(t, carol.Start(t.Context()))
	go func() {
		ev := waitFor[softphone.CallReceived](t, carol, 10*time.Second, nil)
		assert.Equal(t, "sip:alice@example.test", ev.From)
		assert.NoError(t, ev.Call.Answer(t.Context(), &softphone.CallOptions{Sink: carolHears}))
	}()
	require.NoError(t, bc.Transfer(t.Context(), "carol"))
	tr := waitFor[softphone.CallTransferred](t, alice, 10*time.Second, nil)
	require.NoError(t, tr.Err)
	assert.Equal(t, ac, tr.Call)
	// Alice's tone, sent on the new call from the same source, reaches carol.
	eventually(t, 5*time.Second, func() bool { _, n := carolHears.Counts(); return n > 20 }, "carol hears nothing")
	<-ac.Done()
	assert.Equal(t, softphone.CallEnded, bc.State())
	require.NoError(t, tr.New.Hangup(t.Context()))
	_ = bob
}

// TestIntegrationAttendedTransfer: alice calls bob; bob holds her, calls
// carol, then connects alice and carol (REFER with Replaces) and drops out.
func TestIntegrationAttendedTransfer(t *testing.T) {
	k := lab.Kamailio(t, nil)
	alice, bob, ab, ba := connect(t, k, nil, nil, nil)
	carol := newPhone(t, k, "carol", "secret3", "udp", nil)
	require.NoError(t, carol.Start(t.Context()))
	go func() {
		ev := waitFor[softphone.CallReceived](t, carol, 10*time.Second, nil)
		assert.NoError(t, ev.Call.Answer(t.Context(), nil))
	}()
	require.NoError(t, ba.Hold(t.Context()))
	bc, err := bob.Dial(t.Context(), "carol", nil)
	require.NoError(t, err)

	require.NoError(t, ba.TransferTo(t.Context(), bc))
	tr := waitFor[softphone.CallTransferred](t, alice, 10*time.Second, nil)
	require.NoError(t, tr.Err)
	rep := waitFor[softphone.CallReplaced](t, carol, 10*time.Second, nil)
	assert.Equal(t, "sip:alice@example.test", rep.New.Remote())
	<-ab.Done()
	<-bc.Done()
	assert.Equal(t, softphone.CallEnded, ba.State())
	assert.Equal(t, softphone.CallActive, tr.New.State())
	require.NoError(t, tr.New.Hangup(t.Context()))
	eventually(t, 5*time.Second, func() bool { return len(carol.Calls()) == 0 }, "carol still in a call")
}
