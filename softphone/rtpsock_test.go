package softphone

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/softphone/audio"
)

// peerSocket is a far end on loopback sending raw RTP to a shared socket.
func peerSocket(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func sendRTP(t *testing.T, from *net.UDPConn, port int, ssrc uint32, seq uint16) {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc}, Payload: make([]byte, 160)}
	b, err := p.Marshal()
	require.NoError(t, err)
	_, err = from.WriteToUDP(b, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	require.NoError(t, err)
}

func received(s *stream) uint64 { return s.snapshot().PacketsReceived }

// sharedStream makes an outgoing call's stream on m's shared socket,
// configured from the far end's answer rm.
func sharedStream(t *testing.T, m *mediaEngine, rm *remoteMedia) *stream {
	t.Helper()
	s, err := newStream(&Call{p: m.p}, "127.0.0.1")
	require.NoError(t, err)
	require.True(t, s.shared())
	rm.dtmfPT = -1
	s.configure(rm, codec{"PCMU", 0, 8000}, sendrecv)
	t.Cleanup(func() { s.sock.unbind(s) })
	return s
}

func udpPort(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

// Two calls to one far-end port (one media server address) are told apart
// by the SSRCs their answers named; each latches to where its packets
// come from.
func TestSharedSocketRoutesBySSRC(t *testing.T) {
	m := benchEngine(t)
	port := m.shards[0].sock.port
	peer := peerSocket(t)
	a := sharedStream(t, m, &remoteMedia{ip: "127.0.0.1", port: 4000, rtcp: 4001, ssrc: 111})
	b := sharedStream(t, m, &remoteMedia{ip: "127.0.0.1", port: 4000, rtcp: 4001, ssrc: 222})
	assert.Equal(t, port, int(a.localPort))
	assert.Equal(t, port, int(b.localPort))
	for i := range 3 {
		sendRTP(t, peer, port, 111, uint16(i))
	}
	sendRTP(t, peer, port, 222, 7)
	sendRTP(t, peer, port, 333, 1) // nobody's
	require.Eventually(t, func() bool { return received(a) == 3 && received(b) == 1 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, uint64(3), received(a))
	assert.Equal(t, uint64(1), received(b))
	a.mu.Lock()
	assert.Equal(t, udpPort(peer), a.remote.Port, "latched to the packets' source")
	a.mu.Unlock()
}

// A far end that names no SSRC is found by the address in its SDP; its
// RTCP, on the RTCP port, by the SSRC learned from its RTP.
func TestSharedSocketRoutesByAddress(t *testing.T) {
	m := benchEngine(t)
	sock := m.shards[0].sock
	p1, p2 := peerSocket(t), peerSocket(t)
	a := sharedStream(t, m, &remoteMedia{ip: "127.0.0.1", port: udpPort(p1), rtcp: udpPort(p1) + 1})
	b := sharedStream(t, m, &remoteMedia{ip: "127.0.0.1", port: udpPort(p2), rtcp: udpPort(p2) + 1})
	sendRTP(t, p2, sock.port, 50, 1)
	sendRTP(t, p1, sock.port, 60, 1)
	sendRTP(t, p1, sock.port, 60, 2)
	require.Eventually(t, func() bool { return received(a) == 2 && received(b) == 1 }, 5*time.Second, 5*time.Millisecond)

	sr := &rtcp.SenderReport{SSRC: 60, NTPTime: 1 << 40, Reports: []rtcp.ReceptionReport{{SSRC: a.ssrc, TotalLost: 9}}}
	raw, err := sr.Marshal()
	require.NoError(t, err)
	_, err = p1.WriteToUDP(raw, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sock.port + 1})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return a.snapshot().RemoteLost == 9 }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, b.snapshot().RemoteLost)
}

// Two calls to one far-end port, neither naming an SSRC: the first
// packet with a new SSRC goes to the first call, the next new SSRC to the
// second, and each keeps its own from then on.
func TestSharedSocketUnkeyedFirstCome(t *testing.T) {
	m := benchEngine(t)
	port := m.shards[0].sock.port
	peer := peerSocket(t)
	a := sharedStream(t, m, &remoteMedia{ip: "127.0.0.1", port: udpPort(peer), rtcp: udpPort(peer) + 1})
	b := sharedStream(t, m, &remoteMedia{ip: "127.0.0.1", port: udpPort(peer), rtcp: udpPort(peer) + 1})
	sendRTP(t, peer, port, 1, 1)
	require.Eventually(t, func() bool { return received(a) == 1 }, 5*time.Second, 5*time.Millisecond)
	sendRTP(t, peer, port, 2, 1)
	require.Eventually(t, func() bool { return received(b) == 1 }, 5*time.Second, 5*time.Millisecond)
	sendRTP(t, peer, port, 1, 2)
	sendRTP(t, peer, port, 2, 2)
	sendRTP(t, peer, port, 2, 3)
	require.Eventually(t, func() bool { return received(a) == 2 && received(b) == 3 }, 5*time.Second, 5*time.Millisecond)
}

// The one stream that has heard nothing takes packets from an address
// nobody named: its far end is behind a NAT (RFC 4961 latching).
func TestSharedSocketLatchesThroughNAT(t *testing.T) {
	m := benchEngine(t)
	port := m.shards[0].sock.port
	natted := peerSocket(t)
	a := sharedStream(t, m, &remoteMedia{ip: "10.0.0.1", port: 4000, rtcp: 4001})
	sendRTP(t, natted, port, 5, 1)
	require.Eventually(t, func() bool { return received(a) == 1 }, 5*time.Second, 5*time.Millisecond)
	a.mu.Lock()
	assert.Equal(t, natted.LocalAddr().String(), a.remote.String())
	a.mu.Unlock()
}

// An ended call's stream is no longer found: its far end's late packets
// are dropped.
func TestSharedSocketForgetsClosedStream(t *testing.T) {
	m := benchEngine(t)
	port := m.shards[0].sock.port
	peer := peerSocket(t)
	a := sharedStream(t, m, &remoteMedia{ip: "127.0.0.1", port: 4000, rtcp: 4001, ssrc: 7})
	a.close(m)
	sendRTP(t, peer, port, 7, 1)
	time.Sleep(100 * time.Millisecond)
	assert.Zero(t, received(a))
	assert.Empty(t, m.shards[0].sock.bySSRC)
}

// Our offer shares the port; an incoming offer shares it only when it
// names its SSRC, as only then can its packets be told apart for sure.
func TestNewStreamSharesWhenUnambiguous(t *testing.T) {
	m := benchEngine(t)
	out, err := newStream(&Call{p: m.p}, "127.0.0.1")
	require.NoError(t, err)
	assert.True(t, out.shared())
	withSSRC, err := newStream(&Call{p: m.p, remoteMedia: &remoteMedia{ssrc: 9}}, "127.0.0.1")
	require.NoError(t, err)
	assert.True(t, withSSRC.shared())
	without, err := newStream(&Call{p: m.p, remoteMedia: &remoteMedia{}}, "127.0.0.1")
	require.NoError(t, err)
	defer without.rtpConn.Close()
	defer without.rtcpConn.Close()
	assert.False(t, without.shared())
	assert.NotEqual(t, m.shards[0].sock.port, int(without.localPort))
	assert.Zero(t, without.localPort%2)
}

// With rtcp-mux agreed RTCP goes out of, and comes in on, the RTP port.
func TestSharedSocketRTCPMux(t *testing.T) {
	m := benchEngine(t)
	sh := m.shards[0]
	peer := peerSocket(t)
	a := sharedStream(t, m, &remoteMedia{ip: "127.0.0.1", port: udpPort(peer), rtcp: udpPort(peer) + 1, ssrc: 44, rtcpMux: true})
	a.mu.Lock()
	a.sendRTCP(time.Now())
	a.mu.Unlock()
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 1500)
	n, from, err := peer.ReadFromUDP(buf)
	require.NoError(t, err)
	assert.Equal(t, sh.sock.port, from.Port, "RTCP leaves from the RTP port")
	assert.True(t, isRTCP(buf[:n]))
	rr := &rtcp.ReceiverReport{SSRC: 44, Reports: []rtcp.ReceptionReport{{SSRC: a.ssrc, TotalLost: 3}}}
	raw, err := rr.Marshal()
	require.NoError(t, err)
	_, err = peer.WriteToUDP(raw, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sh.sock.port})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return a.snapshot().RemoteLost == 3 }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, received(a), "RTCP is not counted as RTP")
}

func TestIsRTCP(t *testing.T) {
	sr, err := (&rtcp.SenderReport{SSRC: 1}).Marshal()
	require.NoError(t, err)
	assert.True(t, isRTCP(sr))
	for _, pt := range []uint8{0, 8, 101, 111, 127} {
		p, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, Marker: true}, Payload: []byte{1}}).Marshal()
		require.NoError(t, err)
		assert.False(t, isRTCP(p), "payload type %d", pt)
	}
	assert.False(t, isRTCP([]byte{0x80, 200}))
}

// Sending on a shared socket allocates nothing: marshalling into the
// shard's scratch space, queueing and sendmmsg.
func TestSharedSendAllocationFree(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	m := benchEngine(t)
	sh := m.shards[0]
	sink := peerSocket(t)
	s := sharedStream(t, m, &remoteMedia{ip: "127.0.0.1", port: udpPort(sink), rtcp: udpPort(sink), ssrc: 1})
	s.setIO(&audio.Tone{Frequency: 440}, nil)
	now := time.Now()
	s.tick(sh, now, false) // first use sizes the buffers
	sh.flush()
	allocs := testing.AllocsPerRun(1000, func() {
		s.tick(sh, now, false)
		sh.flush()
	})
	assert.Zero(t, allocs)
	assert.Positive(t, s.snapshot().PacketsSent)
}

func TestSDPAnnouncesSSRCAndMux(t *testing.T) {
	l := localMedia{sessionID: 5, version: 1, ip: "127.0.0.1", port: 4000, codecs: []codec{{"PCMU", 0, 8000}},
		dtmfPT: -1, dir: sendrecv, ssrc: 3735928559, rtcpMux: true}
	b := l.marshal()
	assert.Contains(t, string(b), "a=rtcp-mux\r\n")
	assert.True(t, strings.Contains(string(b), "a=ssrc:3735928559 cname:"))
	rm, err := parseSDP(b)
	require.NoError(t, err)
	assert.Equal(t, uint32(3735928559), rm.ssrc)
	assert.True(t, rm.rtcpMux)
	l.ssrc, l.rtcpMux = 0, false
	rm, err = parseSDP(l.marshal())
	require.NoError(t, err)
	assert.Zero(t, rm.ssrc)
	assert.False(t, rm.rtcpMux)
}

// A flush sends every queued packet as its own datagram, whether the
// kernel segments runs of one size to one address (UDP_SEGMENT) or not.
func TestSendQueueDeliversEachDatagram(t *testing.T) {
	for _, gso := range []bool{false, true} {
		t.Run(map[bool]string{false: "one by one", true: "segmented"}[gso], func(t *testing.T) {
			src := peerSocket(t)
			if gso && !gsoSupported(src) {
				skipOrFail(t, "no UDP_SEGMENT here")
			}
			q := newSendQueue(newBatchConn(src), gso)
			p1, p2 := peerSocket(t), peerSocket(t)
			want := map[*net.UDPConn][]string{}
			for i := range 150 { // more than one batch
				to, size := p1, 172
				switch {
				case i%3 == 0:
					to = p2
				case i%7 == 0:
					size = 16 // a DTMF event among audio
				}
				b := []byte(strings.Repeat(string(rune('a'+i%26)), size))
				b[0] = byte(i)
				require.True(t, q.add(b, to.LocalAddr().(*net.UDPAddr)))
				want[to] = append(want[to], string(b))
			}
			q.flush()
			assert.Zero(t, q.failed)
			for _, c := range []*net.UDPConn{p1, p2} {
				var got []string
				buf := make([]byte, 1500)
				require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
				for len(got) < len(want[c]) {
					n, err := c.Read(buf)
					require.NoError(t, err)
					got = append(got, string(buf[:n]))
				}
				assert.ElementsMatch(t, want[c], got)
			}
		})
	}
}
