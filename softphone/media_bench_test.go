package softphone

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/opencsf/opencsf/softphone/audio"
)

// BenchmarkStreamSend is one 20 ms frame of a call: read the source, encode
// G.711, marshal RTP, send it over loopback UDP.
func BenchmarkStreamSend(b *testing.B) {
	c := &Call{p: &Phone{log: slog.New(slog.DiscardHandler)}}
	s, err := newStream(c, "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	defer s.rtpConn.Close()
	defer s.rtcpConn.Close()
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	port := sink.LocalAddr().(*net.UDPAddr).Port
	s.configure(&remoteMedia{ip: "127.0.0.1", port: port, rtcp: port, dtmfPT: -1}, codec{"PCMU", 0, 8000}, sendrecv)
	s.setIO(&audio.Tone{Frequency: 440}, nil)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.tick(now, false)
	}
}

// BenchmarkStreamReceive is the receive side without the socket: parse an
// RTP packet, jitter-buffer it and play it out through G.711 decoding.
func BenchmarkStreamReceive(b *testing.B) {
	c := &Call{p: &Phone{log: slog.New(slog.DiscardHandler)}}
	s, err := newStream(c, "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	defer s.rtpConn.Close()
	defer s.rtcpConn.Close()
	s.configure(&remoteMedia{ip: "127.0.0.1", port: 9, rtcp: 9, dtmfPT: -1}, codec{"PCMU", 0, 8000}, recvonly)
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	payload := make([]byte, 160)
	raw := make([]byte, 200)
	var p rtp.Packet
	now := time.Now()
	var seq uint16
	b.ReportAllocs()
	for b.Loop() {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 1}, Payload: payload}
		n, _ := pkt.MarshalTo(raw)
		if err := p.Unmarshal(raw[:n]); err != nil {
			b.Fatal(err)
		}
		s.receive(&p, from, now)
		s.mu.Lock()
		s.playout()
		s.mu.Unlock()
		seq++
	}
}
