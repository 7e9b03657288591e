package softphone

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/opencsf/opencsf/softphone/audio"
)

// benchEngine is a media engine with one shard and its shared socket on
// loopback, without a phone around it; its loop is not run: the benchmark
// ticks the shard itself.
func benchEngine(tb testing.TB) *mediaEngine {
	tb.Helper()
	p := &Phone{log: slog.New(slog.DiscardHandler)}
	sock, err := listenMediaSocket("127.0.0.1")
	if err != nil {
		tb.Fatal(err)
	}
	m := &mediaEngine{p: p, ip: "127.0.0.1", shards: []*mediaShard{newShard(sock)}}
	p.media = m
	tb.Cleanup(m.closeSockets)
	return m
}

// BenchmarkStreamSend is one 20 ms frame of a call with a port of its own:
// read the source, encode G.711, marshal RTP, send it over loopback UDP
// with one sendto.
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
	sh := newShard(nil)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		s.tick(sh, now, false)
	}
}

// BenchmarkSharedSend is one pacing tick of 64 calls on a shared socket:
// each stream reads its source, encodes G.711 and marshals RTP into the
// shard's queue, and the queue goes out with one sendmmsg. Reported per
// packet.
func BenchmarkSharedSend(b *testing.B) {
	m := benchEngine(b)
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	port := sink.LocalAddr().(*net.UDPAddr).Port
	sh := m.shards[0]
	streams := make([]*stream, batchSize)
	for i := range streams {
		s, err := newStream(&Call{p: m.p}, "127.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		s.configure(&remoteMedia{ip: "127.0.0.1", port: port, rtcp: port, dtmfPT: -1, ssrc: uint32(i + 1)}, codec{"PCMU", 0, 8000}, sendonly)
		s.setIO(&audio.Tone{Frequency: 440}, nil)
		streams[i] = s
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range streams {
			s.tick(sh, now, false)
		}
		sh.flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(streams)), "ns/packet")
}

// BenchmarkSharedRoundTrip is the whole per-packet path both ways over
// loopback: 64 calls whose two ends sit on two shared sockets; each
// iteration is one tick of both ends (128 packets: sendmmsg, recvmmsg,
// demultiplexing by SSRC, jitter buffer, playout). Reported per packet;
// allocs/op includes golang.org/x/net's per-datagram source address.
func BenchmarkSharedRoundTrip(b *testing.B) {
	ma, mb := benchEngine(b), benchEngine(b)
	sha, shb := ma.shards[0], mb.shards[0]
	const calls = batchSize
	as, bs := make([]*stream, calls), make([]*stream, calls)
	for i := range calls {
		var err error
		if as[i], err = newStream(&Call{p: ma.p}, "127.0.0.1"); err != nil {
			b.Fatal(err)
		}
		if bs[i], err = newStream(&Call{p: mb.p}, "127.0.0.1"); err != nil {
			b.Fatal(err)
		}
	}
	for i := range calls {
		as[i].configure(&remoteMedia{ip: "127.0.0.1", port: shb.sock.port, rtcp: shb.sock.port, dtmfPT: -1, ssrc: bs[i].ssrc, rtcpMux: true}, codec{"PCMU", 0, 8000}, sendrecv)
		bs[i].configure(&remoteMedia{ip: "127.0.0.1", port: sha.sock.port, rtcp: sha.sock.port, dtmfPT: -1, ssrc: as[i].ssrc, rtcpMux: true}, codec{"PCMU", 0, 8000}, sendrecv)
		as[i].setIO(&audio.Tone{Frequency: 440}, nil)
		bs[i].setIO(&audio.Tone{Frequency: 1000}, nil)
	}
	received := func() (n uint64) {
		for i := range calls {
			n += as[i].snapshot().PacketsReceived + bs[i].snapshot().PacketsReceived
		}
		return n
	}
	now := time.Now()
	var want uint64
	b.ReportAllocs()
	for b.Loop() {
		for i := range calls {
			as[i].tick(sha, now, false)
			bs[i].tick(shb, now, false)
		}
		sha.flush()
		shb.flush()
		want += 2 * calls
		// Wait for the readers, yielding the CPU to them, so each round is
		// complete (nothing piles up in the socket buffers).
		for deadline := time.Now().Add(time.Second); received() < want && time.Now().Before(deadline); {
			time.Sleep(20 * time.Microsecond)
		}
	}
	if got := received(); got < want*99/100 {
		b.Fatalf("received %d of %d packets", got, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*calls), "ns/packet")
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
	sh := newShard(nil)
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
		s.playout(sh)
		s.mu.Unlock()
		seq++
	}
}
