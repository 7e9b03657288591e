package softphone_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
	"github.com/opencsf/opencsf/softphone/audio"
)

// peerPhone is a phone that does not register: SIPp talks to it directly.
func peerPhone(t *testing.T, proxy string, mod func(*softphone.Config)) *testPhone {
	t.Helper()
	return newPhoneAt(t, proxy, "alice", "", "udp", func(c *softphone.Config) {
		c.NoRegister = true
		c.ListenIP = "127.0.0.1"
		if mod != nil {
			mod(c)
		}
	})
}

func scenario(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sipp", name))
	require.NoError(t, err)
	return string(b)
}

func TestIntegrationSippRegistrar(t *testing.T) {
	s := lab.Sipp(t, lab.SippOptions{Scenario: scenario(t, "registrar.xml"), Calls: 1})
	p := newPhoneAt(t, s.Addr, "alice", "secret1", "udp", nil)
	require.NoError(t, p.Start(t.Context()))
	first := waitFor[softphone.Registered](t, p, 5*time.Second, nil)
	assert.Equal(t, 2*time.Second, first.Expires)
	waitFor[softphone.Registered](t, p, 3*time.Second, func(e softphone.Registered) bool { return e.Refresh })
	require.NoError(t, p.Shutdown(t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Wait(ctx))
}

func TestIntegrationSippUAS(t *testing.T) {
	// SIPp answers and echoes our RTP: the tone we send comes back.
	s := lab.Sipp(t, lab.SippOptions{Scenario: "uas", RTPEcho: true, Calls: 1})
	p := peerPhone(t, s.Addr, nil)
	require.NoError(t, p.Start(t.Context()))
	heard := &audio.ToneDetector{Frequency: 700}
	call, err := p.Dial(t.Context(), "sip:service@"+s.Addr, &softphone.CallOptions{Source: &audio.Tone{Frequency: 700}, Sink: heard})
	require.NoError(t, err)
	eventually(t, 5*time.Second, func() bool { _, n := heard.Counts(); return n >= 25 }, "echo not heard")
	require.NoError(t, call.Hangup(t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Wait(ctx))
}

func TestIntegrationSippUAC(t *testing.T) {
	p := peerPhone(t, "127.0.0.1:9", nil)
	require.NoError(t, p.Start(t.Context()))
	const calls = 3
	go func() {
		for range calls {
			ev := waitFor[softphone.CallReceived](t, p, 15*time.Second, nil)
			assert.NoError(t, ev.Call.Answer(t.Context(), nil))
		}
	}()
	s := lab.Sipp(t, lab.SippOptions{Scenario: "uac", Target: p.SIPAddr(), Calls: calls})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.Wait(ctx))
	eventually(t, 5*time.Second, func() bool { return len(p.Calls()) == 0 }, "calls left over")
}

// TestIntegrationSippHostile sends malformed and unexpected messages: each
// gets a clear answer, nothing crashes, and the phone goes on working.
func TestIntegrationSippHostile(t *testing.T) {
	p := peerPhone(t, "127.0.0.1:9", nil)
	require.NoError(t, p.Start(t.Context()))
	before := runtime.NumGoroutine()
	for _, tc := range []struct{ file, transport string }{
		{"bad_sdp.xml", "udp"},
		{"garbage_sdp.xml", "udp"},
		{"unknown_method.xml", "udp"},
		{"bye_no_dialog.xml", "udp"},
		{"no_contact.xml", "udp"},
		{"huge_header.xml", "udp"},
		{"wrong_length.xml", "udp"},
	} {
		t.Run(strings.TrimSuffix(tc.file, ".xml"), func(t *testing.T) {
			s := lab.Sipp(t, lab.SippOptions{Scenario: scenario(t, tc.file), Target: p.SIPAddr(), Transport: tc.transport})
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			assert.NoError(t, s.Wait(ctx))
		})
	}
	assert.Empty(t, p.Calls())
	// Transactions linger for their timers, not forever: goroutines come back.
	eventually(t, 40*time.Second, func() bool { return runtime.NumGoroutine() <= before+2 }, "goroutines: %d before, %d after", before, runtime.NumGoroutine())
}

// TestIntegrationSippRegistrarRefusing: 423 is retried with Min-Expires;
// credentials refused on a refresh stop the phone from retrying (no
// retry storm) and are reported as ErrAuthFailed.
func TestIntegrationSippRegistrarRefusing(t *testing.T) {
	s := lab.Sipp(t, lab.SippOptions{Scenario: scenario(t, "registrar_refusing.xml"), Calls: 1})
	p := newPhoneAt(t, s.Addr, "alice", "secret1", "udp", func(c *softphone.Config) { c.Expires = 30 * time.Second })
	require.NoError(t, p.Start(t.Context()))
	ev := waitFor[softphone.RegistrationFailed](t, p, 5*time.Second, nil)
	assert.ErrorIs(t, ev.Err, softphone.ErrAuthFailed)
	assert.False(t, ev.Retrying)
	assert.False(t, p.Health().Healthy)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Wait(ctx))
}

// TestIntegrationSippUpdate: SIPp refreshes the session with UPDATE and
// holds the call with an UPDATE offer; the phone answers both.
func TestIntegrationSippUpdate(t *testing.T) {
	p := peerPhone(t, "127.0.0.1:9", nil)
	require.NoError(t, p.Start(t.Context()))
	s := lab.Sipp(t, lab.SippOptions{Scenario: scenario(t, "update.xml"), Target: p.SIPAddr()})
	// One reader of the event stream: answer, then see the hold.
	ev := waitFor[softphone.CallReceived](t, p, 10*time.Second, nil)
	require.NoError(t, ev.Call.Answer(t.Context(), nil))
	waitFor[softphone.CallStateChanged](t, p, 10*time.Second, func(e softphone.CallStateChanged) bool { return e.State == softphone.CallRemoteHeld })
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	require.NoError(t, s.Wait(ctx))
}

// TestIntegrationSippEarlyMedia: 183 with SDP starts media before the
// answer (the echo is heard while the call is in early media), 200 then
// makes the call active.
func TestIntegrationSippEarlyMedia(t *testing.T) {
	s := lab.Sipp(t, lab.SippOptions{Scenario: scenario(t, "early_media.xml"), RTPEcho: true, Calls: 1})
	p := peerPhone(t, s.Addr, nil)
	require.NoError(t, p.Start(t.Context()))
	heard := &audio.ToneDetector{Frequency: 700}
	early := make(chan int, 1)
	go func() {
		waitFor[softphone.CallStateChanged](t, p, 5*time.Second, func(e softphone.CallStateChanged) bool { return e.State == softphone.CallEarlyMedia })
		time.Sleep(600 * time.Millisecond)
		_, n := heard.Counts()
		early <- n
	}()
	call, err := p.Dial(t.Context(), "sip:service@"+s.Addr, &softphone.CallOptions{Source: &audio.Tone{Frequency: 700}, Sink: heard})
	require.NoError(t, err)
	select {
	case n := <-early:
		assert.Greater(t, n, 5, "no early media heard before the answer")
	case <-time.After(5 * time.Second):
		t.Fatal("no early media state")
	}
	require.NoError(t, call.Hangup(t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Wait(ctx))
}

// TestIntegrationSippRedirect: a 302 is followed: the INVITE goes again,
// through the outbound proxy, to the Contact's URI, which answers.
func TestIntegrationSippRedirect(t *testing.T) {
	s := lab.Sipp(t, lab.SippOptions{Scenario: scenario(t, "redirect.xml"), Calls: 1})
	p := peerPhone(t, s.Addr, nil)
	require.NoError(t, p.Start(t.Context()))
	call, err := p.Dial(t.Context(), "sip:service@"+s.Addr, nil)
	require.NoError(t, err)
	assert.Equal(t, "sip:moved@"+s.Addr, call.Remote())
	require.NoError(t, call.Hangup(t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Wait(ctx))
}
