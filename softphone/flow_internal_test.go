package softphone

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
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

// benchInvite is an INVITE with SDP of about 1 KB, as kamailio relays one.
var benchInvite = []byte("INVITE sip:bob@127.0.0.1:40000 SIP/2.0\r\n" +
	"Record-Route: <sip:127.0.0.1:5060;lr>\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK2f1a.0c3e7a4b000000000000000000000000.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:41234;rport=41234;branch=z9hG4bK.qwertyuiopasdfgh\r\n" +
	"Max-Forwards: 69\r\n" +
	"From: <sip:alice@example.test>;tag=abcdefghijklmnop\r\n" +
	"To: <sip:bob@example.test>\r\n" +
	"Call-ID: 0123456789abcdefghijklmn\r\n" +
	"CSeq: 2 INVITE\r\n" +
	"Contact: <sip:alice@127.0.0.1:41234>\r\n" +
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE\r\n" +
	"Supported: timer, replaces\r\n" +
	"Session-Expires: 1800\r\n" +
	"User-Agent: OpenCSF\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 237\r\n\r\n" +
	"v=0\r\no=- 1234567890 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 40002 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n" +
	"a=rtcp:40003\r\n")

// BenchmarkReadFilter measures what the read filter adds to every UDP
// datagram (the Content-Length check) next to sipgo's own parse of it.
func BenchmarkReadFilter(b *testing.B) {
	if _, _, short := shortBody(benchInvite); short {
		b.Fatal("bench INVITE is short")
	}
	b.Run("filter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			shortBody(benchInvite)
		}
	})
	b.Run("sipgo-parse", func(b *testing.B) {
		parser := sip.NewParser()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parser.ParseSIP(benchInvite); err != nil {
				b.Fatal(err)
			}
		}
	})
}
