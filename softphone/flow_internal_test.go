package softphone

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
)

func TestShortBody(t *testing.T) {
	for _, tc := range []struct {
		msg           string
		declared, got int
		short         bool
	}{
		{"INFO sip:a@b SIP/2.0\r\nContent-Length: 400\r\n\r\nSignal=1\r\n", 400, 10, true},
		{"INFO sip:a@b SIP/2.0\r\nl:11\r\n\r\nSignal=1\r\n", 11, 10, true},
		{"INFO sip:a@b SIP/2.0\r\ncontent-length : 10\r\n\r\nSignal=1\r\n", 10, 10, false},
		// More body than declared is cut by the parser, not refused.
		{"INFO sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\nSignal=1\r\n", 2, 10, false},
		{"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", 0, 0, false},
		{"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n", 0, 0, false},
		{"no header end\r\nContent-Length: 9", 0, 0, false},
	} {
		d, g, short := shortBody([]byte(tc.msg))
		assert.Equal(t, tc.short, short, tc.msg)
		if short {
			assert.Equal(t, tc.declared, d, tc.msg)
			assert.Equal(t, tc.got, g, tc.msg)
		}
	}
}

func FuzzShortBody(f *testing.F) {
	f.Add([]byte("INFO sip:a@b SIP/2.0\r\nContent-Length: 400\r\n\r\nSignal=1\r\n"))
	f.Add([]byte("INFO sip:a@b SIP/2.0\r\nl: 3\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		declared, got, short := shortBody(b)
		if short && declared <= got {
			t.Fatalf("short with %d declared, %d got", declared, got)
		}
		if got > len(b) {
			t.Fatalf("%d body bytes in %d", got, len(b))
		}
	})
}

// TestIntegrationSIPSocketLost: the phone's UDP socket dies under sipgo
// (closed here, as a failing interface would make reads fail); the phone
// opens another and registers from it at once, without waiting for a
// keep-alive or a refresh.
func TestIntegrationSIPSocketLost(t *testing.T) {
	k := lab.Kamailio(t, nil)
	fw := csf.New(csf.Config{})
	defer fw.Close()
	sub := csf.SubscribeTo[Registered](fw.Bus(), 16)
	defer sub.Close()
	p, err := New(Config{
		Account:   Account{User: "alice", Domain: k.Domain, Password: config.Secret("secret1")},
		Registrar: k.UDPAddr,
		Expires:   time.Minute,
		KeepAlive: -1, // no keep-alives: the socket's failure alone must do it
		Events:    fw.Bus().NewPublisher("softphone"),
	})
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.Start(t.Context()))
	next := func() Registered {
		select {
		case ev := <-sub.Events():
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no Registered event")
			return Registered{}
		}
	}
	next()
	old := p.flow.Load()
	require.NoError(t, old.udp.Close())
	lost := time.Now()
	ev := next()
	assert.True(t, ev.Refresh)
	t.Logf("registered from a new socket %v after the old one failed", time.Since(lost).Round(time.Millisecond))
	now := p.flow.Load()
	assert.NotEqual(t, old.port, now.port)
	assert.Equal(t, int64(1), p.Health().Counters["socket_failures"])
	require.NoError(t, p.Shutdown(t.Context()))
}
