package softphone

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/opencsf/opencsf/softphone/audio"
	"github.com/opencsf/opencsf/softphone/internal/g711"
	"github.com/opencsf/opencsf/softphone/internal/opus"
)

const (
	frameDur     = 20 * time.Millisecond
	rtcpInterval = 5 * time.Second
	rtcpFirst    = time.Second
	// jitterSlots is a power of two: 160 ms of audio, four times what
	// playout starts with. Each slot costs a payload (160 bytes of G.711)
	// per call, the largest part of an active call's memory.
	jitterSlots    = 8
	jitterStart    = 2  // frames buffered before playout starts (40 ms)
	idleResetTicks = 10 // ticks without packets after which playout restarts
	dtmfFrames     = 5  // 100 ms tone per digit
	dtmfGapFrames  = 3  // then 60 ms pause

	// framePhases splits a shard's streams into groups whose frames fall
	// due at evenly spaced instants of the 20 ms frame, the loop waking
	// once per group: with all streams due at once, a loop serving
	// thousands of calls worked through them for several milliseconds
	// (and one sendmmsg burst the receivers then had to absorb), so the
	// last of them went out late.
	framePhases = 4
)

// Stats are a call's media quality figures (RFC 3550 section 6.4).
type Stats struct {
	Codec           string
	PacketsSent     uint64
	PacketsReceived uint64
	// PacketsLost is expected minus received from the highest sequence
	// number seen (RFC 3550 appendix A.3).
	PacketsLost int64
	// Concealed counts playout frames with no packet (lost or late).
	Concealed uint64
	// Late counts packets that arrived after their playout time.
	Late uint64
	// Jitter is the interarrival jitter estimate (RFC 3550 appendix A.8).
	Jitter time.Duration
	// RTT is the round trip time from RTCP (RFC 3550 section 6.4.1), 0
	// until a report about our stream has come back.
	RTT time.Duration
	// RemoteLost and RemoteFractionLost are what the far end reports
	// about our stream in RTCP.
	RemoteLost         int64
	RemoteFractionLost float64
	// RemoteJitter is the far end's jitter estimate of our stream.
	RemoteJitter time.Duration
	// SendLate counts frames sent more than 5 ms off schedule.
	SendLate uint64
	// SRTP is true when the media is encrypted (RFC 3711, SDES keys).
	SRTP bool
	// DecryptFailures counts packets that failed SRTP authentication.
	DecryptFailures uint64
	// LocalAddr is where our RTP leaves from and what our SDP names; it
	// changes when the call follows the phone to a new address
	// ([CallMoved]). RemoteAddr is where we send it: the far end's SDP,
	// or where its packets come from (symmetric RTP, RFC 4961).
	LocalAddr, RemoteAddr netip.AddrPort
}

// mediaEngine paces every stream of a phone: one loop per core (shard),
// each with one timer for all its calls, rather than a goroutine and ticker
// per stream. Each shard owns one shared RTP port pair (mediaSocket) that
// its streams advertise, read by one goroutine and written in batches by
// the shard's loop.
type mediaEngine struct {
	p      *Phone
	ip     string // the shared ports' address
	shards []*mediaShard
	mu     sync.Mutex // guards next
	next   int        // round-robin shard for the next stream
}

// mediaShard is one pacing loop, its shared socket and its streams.
type mediaShard struct {
	mu sync.Mutex // guards streams
	// streams by phase of the frame (stream.phase), each in the order
	// added; a stream is removed when its call ends.
	streams [framePhases][]*stream

	// sock is the shard's shared port pair, nil in an engine made without
	// one; q batches the loop's sends to it.
	sock *mediaSocket
	q    *sendQueue
	// The loop's scratch space, so a call holds no buffer between ticks:
	// pcm and payload for the frame being sent, out for the frame played
	// out, pkt and enc to marshal and encrypt a packet before it is queued
	// or sent.
	pcm, out []int16
	payload  []byte
	pkt, enc []byte
}

func newShard(sock *mediaSocket) *mediaShard {
	sh := &mediaShard{sock: sock, pkt: make([]byte, recvSlot), enc: make([]byte, 0, recvSlot),
		pcm: make([]int16, audio.FrameSamples), out: make([]int16, audio.FrameSamples),
		payload: make([]byte, 0, maxPayload)}
	if sock != nil {
		sh.q = newSendQueue(sock.rtpB, gsoSupported(sock.rtp))
	}
	return sh
}

// newMediaEngine binds one shared port pair per shard on ip, the phone's
// address when it opens.
func newMediaEngine(p *Phone, ip string) (*mediaEngine, error) {
	m := &mediaEngine{p: p, ip: ip}
	for range max(runtime.GOMAXPROCS(0), 1) {
		sock, err := listenMediaSocket(ip)
		if err != nil {
			m.closeSockets()
			return nil, err
		}
		m.shards = append(m.shards, newShard(sock))
	}
	return m, nil
}

func (m *mediaEngine) closeSockets() {
	for _, sh := range m.shards {
		if sh.sock != nil {
			sh.sock.close()
		}
	}
}

// pick returns the shard for the next stream, round-robin.
func (m *mediaEngine) pick() *mediaShard {
	m.mu.Lock()
	defer m.mu.Unlock()
	sh := m.shards[m.next%len(m.shards)]
	m.next++
	return sh
}

func (m *mediaEngine) add(s *stream) {
	// A stream on a shared socket belongs to that socket's shard, whose
	// loop batches its sends.
	sh := s.home
	if sh == nil {
		sh = m.pick()
	}
	// A BYE can end the call while the INVITE's goroutine is still
	// starting its media: membership is decided under the stream's own
	// lock, so a removed stream is never added back.
	s.shardMu.Lock()
	defer s.shardMu.Unlock()
	if s.removed {
		return
	}
	sh.mu.Lock()
	// Join the phase with fewest streams, so the groups stay even.
	ph := 0
	for i := range sh.streams {
		if len(sh.streams[i]) < len(sh.streams[ph]) {
			ph = i
		}
	}
	s.phase = uint8(ph)
	sh.streams[ph] = append(sh.streams[ph], s)
	sh.mu.Unlock()
	s.shard = sh
}

func (m *mediaEngine) remove(s *stream) {
	s.shardMu.Lock()
	defer s.shardMu.Unlock()
	s.removed = true
	sh := s.shard
	s.shard = nil
	if sh == nil {
		return
	}
	sh.mu.Lock()
	group := sh.streams[s.phase]
	for i, x := range group {
		if x == s {
			sh.streams[s.phase] = append(group[:i], group[i+1:]...)
			break
		}
	}
	sh.mu.Unlock()
}

// run runs the shards' loops until ctx ends, waits for them and closes
// the shared sockets.
func (m *mediaEngine) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, sh := range m.shards {
		// Spread the shards' ticks over a phase so their bursts of sends
		// do not coincide.
		offset := phaseDur * time.Duration(i) / time.Duration(len(m.shards))
		wg.Go(func() { sh.run(ctx, offset) })
	}
	wg.Wait()
	m.closeSockets()
}

// phaseDur is how often a shard's loop wakes: once per phase of the
// frame, each time for the streams of that phase.
const phaseDur = frameDur / framePhases

// run wakes every phaseDur on a monotonic schedule until ctx ends, each
// time ticking the streams whose phase it is: every stream still ticks
// once per 20 ms frame. A frame counts as late when its stream's turn
// comes more than 5 ms after its phase was due.
func (sh *mediaShard) run(ctx context.Context, offset time.Duration) {
	start := time.Now().Add(offset)
	var n int64
	var batch []*stream
	t := time.NewTimer(phaseDur + offset)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n++
		due := start.Add(time.Duration(n) * phaseDur)
		now := time.Now()
		if behind := now.Sub(due); behind > 10*frameDur {
			// The machine stalled: skip the frames missed instead of
			// sending a burst, keeping each stream in its phase.
			n += int64(behind/frameDur) * framePhases
			due = start.Add(time.Duration(n) * phaseDur)
		}
		sh.mu.Lock()
		batch = append(batch[:0], sh.streams[n%framePhases]...)
		sh.mu.Unlock()
		for k, s := range batch {
			if k%32 == 0 && k > 0 {
				now = time.Now()
			}
			s.tick(sh, now, now.Sub(due) > 5*time.Millisecond)
		}
		sh.flush()
		clear(batch)
		t.Reset(max(time.Until(start.Add(time.Duration(n+1)*phaseDur)), 0))
	}
}

// flush sends what the loop queued for the shared socket.
func (sh *mediaShard) flush() {
	if sh.q != nil {
		sh.q.flush()
	}
}

// maxPayload bounds a received audio payload (20 ms of Opus at the
// bit rates we use, or 40 ms of G.711).
const maxPayload = 320

// g711Frame is the payload of 20 ms of G.711, the size the jitter
// buffer's slots start with.
const g711Frame = 160

// jitterSlot describes one received audio packet; its payload is
// stream.jbuf[slot*jslot:][:n].
type jitterSlot struct {
	valid bool
	seq   uint16
	n     uint16
}

// stream is one call's RTP session: its socket(s), codec state, jitter
// buffer and statistics.
//
// A stream either shares its shard's mediaSocket (home and sock set: no
// goroutine or socket of its own, sends batched by the shard's loop) or,
// when a shared port cannot be told apart safely, has its own port pair
// and two reader goroutines (rtpConn, rtcpConn).
type stream struct {
	call *Call
	// shardMu guards shard, removed and closed, and orders the changes of
	// the stream's sockets (rebind, close); taken before a shard's mu and
	// the stream's mu, never by the media loop or the readers.
	shardMu  sync.Mutex
	shard    *mediaShard // set by mediaEngine.add
	home     *mediaShard // the shard whose shared socket the stream uses
	sock     *mediaSocket
	key      sockKey // how sock finds the stream; guarded by sock.mu
	rtpConn  *net.UDPConn
	rtcpConn *net.UDPConn
	wg       sync.WaitGroup // the two readers of a stream with its own ports

	mu         sync.Mutex // guards everything below
	remote     *net.UDPAddr
	remoteRTCP *net.UDPAddr // nil while RTCP shares the RTP port (mux)
	remoteAddr net.UDPAddr  // where remote first points (see configure)
	remoteIP   [16]byte     // remoteAddr.IP's bytes
	codec      codec
	src        audio.Source
	sink       audio.Sink
	ssrc       uint32
	ts         uint32
	tsStep     uint32 // RTP clock ticks per frame: 160 at 8 kHz, 960 for Opus
	seq        uint16
	dtmfPT     int16 // -1: none
	dir        direction
	// Flags, kept together so the struct packs small.
	removed  bool // mediaEngine.remove ran: a late add must not revive the stream; under shardMu
	closed   bool // close ran: rebind must not open sockets again; under shardMu
	latched  bool
	mux      bool // RTCP on the RTP port (RFC 5761)
	running  bool
	muted    bool
	srcDone  bool
	marker   bool
	playing  bool
	haveSeq  bool
	dtmfSeen bool  // lastDTMFTS is set
	phase    uint8 // which of its shard's groups (mediaShard.streams) it is in; under shardMu

	// receive side
	slots      [jitterSlots]jitterSlot
	jbuf       []byte // the slots' payloads, jslot bytes each: jmem, or for larger payloads the heap
	jmem       [jitterSlots * g711Frame]byte
	jslot      uint16
	playSeq    uint16
	idle       int32
	buffered   int32
	ticks      int32
	baseSeq    uint32
	maxSeq     uint32 // extended
	received   uint64
	transit    int64
	jitter     float64 // in timestamp units
	remoteSSRC uint32
	lastDTMFTS uint32
	lastSR     uint32
	localPort  int32         // the port our SDP names
	lastSRAt   time.Duration // when lastSR arrived, since monoEpoch; 0 none
	expPrior   uint64
	recvPrior  uint64

	stats streamCounters

	// Cold parts, made only by the calls that need them, so that a plain
	// G.711 call carries no room for them: digits being sent, SRTP keys,
	// Opus codec state.
	dtmf *dtmfSender
	sec  *streamSRTP
	opus *opusState
}

// monoEpoch is the origin of the monotonic instants a stream keeps as
// durations (8 bytes where a time.Time takes 24).
var monoEpoch = time.Now()

// streamCounters are what Stats reports that the stream does not keep
// anyway; snapshot makes a Stats from them.
type streamCounters struct {
	sent, concealed, late, sendLate, decryptFailures uint64
	rtt, remoteJitter                                time.Duration
	remoteLost                                       int64
	remoteFractionLost                               float64
}

// dtmfSender is the RFC 4733 digits queued for sending and where the
// current one is; it exists while digits are queued.
type dtmfSender struct {
	queue []rune
	done  []chan struct{}
	tick  int
	ts    uint32
}

// streamSRTP holds a keyed stream's contexts. rtpOut encrypts RTP and
// RTCP on the engine's loop (under the stream's mu); rtpIn and rtcpIn
// belong to the readers: one port's reader each (a context is not safe
// for concurrent use). remoteKey is the far end's key they were made
// from. A re-key replaces the whole value, so a reader holding the old
// one keeps a consistent set.
type streamSRTP struct {
	rtpOut, rtpIn, rtcpIn *srtp.Context
	remoteKey             string
}

// opusState is an Opus call's codec state: the encoder belongs to the
// engine's loop, the decoder too (playout runs there); both under mu.
type opusState struct {
	enc *opus.Encoder
	dec *opus.Decoder
}

// setSRTP keys the stream; a repeated call with the same far-end key (a
// re-INVITE) keeps the running contexts.
func (s *stream) setSRTP(local, remote sdesCrypto) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sec != nil && s.sec.remoteKey == string(remote.key) {
		return nil
	}
	out, in, err := srtpContexts(local, remote)
	if err != nil {
		return err
	}
	_, in2, err := srtpContexts(local, remote)
	if err != nil {
		return err
	}
	s.sec = &streamSRTP{rtpOut: out, rtpIn: in, rtcpIn: in2, remoteKey: string(remote.key)}
	return nil
}

// newStream makes a call's stream. It shares a shard's port pair when the
// far end can be told apart there: always for a call we offer (our offer
// names our SSRC and rtcp-mux; an answer that names no SSRC is found by
// its address), and for an incoming offer that names its SSRC (RFC 5576).
// An incoming offer without one gets a port pair of its own, as its
// address may be shared with other calls (a media server's one port) or
// rewritten by a NAT, and only a port of its own is then unambiguous.
func newStream(c *Call, ip string) (*stream, error) {
	s := new(stream)
	if err := initStream(s, c, ip); err != nil {
		return nil, err
	}
	return s, nil
}

// initStream makes a call's stream in s, memory the caller allocated
// (see callWithStream).
func initStream(s *stream, c *Call, ip string) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	*s = stream{
		call: c, dtmfPT: -1, dir: sendrecv,
		ssrc: binary.BigEndian.Uint32(b[0:4]), seq: binary.BigEndian.Uint16(b[4:6]),
		ts: binary.BigEndian.Uint32(b[4:8]), marker: true,
		src: audio.Silence{}, sink: audio.Discard{},
	}
	// A phone that moved to another address since it opened gives new
	// calls ports of their own there: the shared ports stay on the old one.
	if m := c.p.media; m != nil && m.ip == ip && (c.remoteMedia == nil || c.remoteMedia.ssrc != 0) {
		s.home = m.pick()
		s.sock = s.home.sock
		s.localPort = int32(s.sock.port)
		return nil
	}
	rc, cc, port, err := listenPair(ip)
	if err != nil {
		return err
	}
	s.rtpConn, s.rtcpConn, s.localPort = rc, cc, int32(port)
	return nil
}

// callWithStream is a call and its stream in one allocation. Both live
// exactly as long (the call points at its stream, the stream at its
// call), and one larger object is less likely than two smaller ones to
// share heap spans with the SIP messages that set the call up, whose
// freed space would otherwise stay held by the call.
type callWithStream struct {
	call   Call
	stream stream
}

// parseMediaIP is the address an SDP c= line names, four bytes long for
// IPv4 (net.ParseIP makes sixteen), as each call keeps one.
func parseMediaIP(s string) net.IP {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil
	}
	return net.IP(a.Unmap().AsSlice())
}

// shared reports whether the stream uses its shard's shared port pair.
func (s *stream) shared() bool { return s.sock != nil }

// configure applies a negotiation result.
func (s *stream) configure(rm *remoteMedia, cd codec, dir direction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sock != nil {
		s.sock.bind(s, rm)
		// Both ends said rtcp-mux: RTCP shares the RTP port.
		s.mux = rm.rtcpMux
	} else {
		// A stream of its own never offers or accepts rtcp-mux, except
		// one that had it on a shared port and moved (rebind): it keeps
		// it while the far end does.
		s.mux = s.mux && rm.rtcpMux
	}
	if !s.latched || rm.port == 0 {
		ip := parseMediaIP(rm.ip)
		if !s.running {
			// Before the stream joins its loop no send can have queued
			// s.remote, so the first address may live in the stream
			// itself; later ones are new values, as a queued send may
			// still read the old one.
			s.remoteIP = [16]byte{}
			s.remoteAddr = net.UDPAddr{IP: s.remoteIP[:copy(s.remoteIP[:], ip)], Port: rm.port}
			s.remote = &s.remoteAddr
		} else {
			s.remote = &net.UDPAddr{IP: ip, Port: rm.port}
		}
		s.remoteRTCP = nil
		if !s.mux {
			s.remoteRTCP = &net.UDPAddr{IP: ip, Port: rm.rtcp}
		}
	} else if !s.mux && s.remoteRTCP == nil {
		s.remoteRTCP = &net.UDPAddr{IP: parseMediaIP(rm.ip), Port: rm.rtcp}
	}
	s.codec, s.dtmfPT, s.dir = cd, int16(rm.dtmfPT), dir
	s.tsStep = cd.rate / 50
	if cd.name == "opus" {
		// telephone-event is offered at 8 kHz; with Opus's 48 kHz clock
		// digits go by SIP INFO instead.
		s.dtmfPT = -1
		if s.opus == nil {
			enc, _ := opus.NewEncoder(audio.SampleRate, 0)
			dec, _ := opus.NewDecoder(audio.SampleRate)
			s.opus = &opusState{enc: enc, dec: dec}
		}
	}
}

func (s *stream) setIO(src audio.Source, sink audio.Sink) {
	s.mu.Lock()
	if src != nil {
		s.src = src
	}
	if sink != nil {
		s.sink = sink
	}
	s.mu.Unlock()
}

// start joins the engine's pacing (and, for a stream with ports of its
// own, begins their readers); the engine's tick does the rest.
func (s *stream) start(m *mediaEngine) {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return
	}
	s.running = true
	// Add under the lock that close takes before it waits: a BYE may end
	// the call while the answer is starting its media.
	if s.sock == nil {
		s.wg.Add(2)
	}
	s.mu.Unlock()
	if s.sock == nil {
		go s.readRTP(s.rtpConn)
		go s.readRTCP(s.rtcpConn)
	}
	m.add(s)
}

// close stops the stream and waits for its readers. After it returns the
// shared socket's reader no longer finds the stream (a packet it was
// delivering as close began may still complete).
func (s *stream) close(m *mediaEngine) {
	s.mu.Lock()
	s.running = true // a start racing this close starts nothing
	s.mu.Unlock()
	m.remove(s)
	// A rebind in progress finishes first; none starts after this.
	s.shardMu.Lock()
	s.closed = true
	s.shardMu.Unlock()
	if s.sock != nil {
		s.sock.unbind(s)
	} else {
		s.rtpConn.Close()
		s.rtcpConn.Close()
		s.wg.Wait()
	}
	s.mu.Lock()
	if s.dtmf != nil {
		for _, ch := range s.dtmf.done {
			close(ch)
		}
		s.dtmf = nil
	}
	if s.opus != nil {
		if s.opus.enc != nil {
			s.opus.enc.Close()
		}
		if s.opus.dec != nil {
			s.opus.dec.Close()
		}
		s.opus = nil
	}
	s.mu.Unlock()
}

// tick sends one frame and plays one out. It runs on the engine's loop,
// sh, whose scratch space and send queue it uses.
func (s *stream) tick(sh *mediaShard, now time.Time, late bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ticks++
	if late {
		s.stats.sendLate++
	}
	if s.remote != nil && s.remote.Port != 0 && s.dir.sends() {
		s.sendFrame(sh)
	}
	if s.tsStep == 0 {
		s.tsStep = audio.FrameSamples
	}
	s.ts += s.tsStep
	s.playout(sh)
	// First report after a second, to get RTT early in short calls; then at
	// the RFC 3550 minimum interval.
	first := int32(rtcpFirst / frameDur)
	if s.ticks == first || s.ticks > first && (s.ticks-first)%int32(rtcpInterval/frameDur) == 0 {
		s.sendRTCP(now)
	}
}

func (s *stream) sendFrame(sh *mediaShard) {
	if s.dtmf != nil && s.dtmfPT >= 0 {
		s.sendDTMF(sh)
		return
	}
	if s.muted || s.srcDone {
		clear(sh.pcm)
	} else if err := s.src.ReadFrame(sh.pcm); err != nil {
		if !errors.Is(err, io.EOF) {
			s.call.p.log.Warn("audio source failed", logCallID, s.call.id, "err", err)
		}
		s.srcDone = true
		clear(sh.pcm)
	}
	switch s.codec.name {
	case "PCMA":
		sh.payload = g711.EncodeALaw(sh.payload[:0], sh.pcm)
	case "opus":
		if s.opus == nil || s.opus.enc == nil {
			return
		}
		n, err := s.opus.enc.Encode(sh.pcm, sh.payload[:cap(sh.payload)])
		if err != nil {
			return
		}
		sh.payload = sh.payload[:n]
	default:
		sh.payload = g711.EncodeULaw(sh.payload[:0], sh.pcm)
	}
	s.writeRTP(sh, s.codec.pt, s.ts, sh.payload)
}

// writeRTP marshals (and encrypts) one packet in sh's scratch space and
// queues it on the shared socket's batch, or sends it from the stream's
// own port.
func (s *stream) writeRTP(sh *mediaShard, pt uint8, ts uint32, payload []byte) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, Marker: s.marker, PayloadType: pt,
		SequenceNumber: s.seq, Timestamp: ts, SSRC: s.ssrc}, Payload: payload}
	n, err := p.MarshalTo(sh.pkt)
	if err != nil {
		return
	}
	s.marker = false
	s.seq++
	b := sh.pkt[:n]
	if s.sec != nil {
		if b, err = s.sec.rtpOut.EncryptRTP(sh.enc[:0], b, nil); err != nil {
			return
		}
	}
	if s.sock != nil && sh.q != nil && sh.sock == s.sock && sh.q.add(b, s.remote) {
		s.stats.sent++
		return
	}
	if _, err := s.rtpPort().WriteToUDP(b, s.remote); err == nil {
		s.stats.sent++
	}
}

// rtpPort is the socket the stream's RTP leaves from.
func (s *stream) rtpPort() *net.UDPConn {
	if s.sock != nil {
		return s.sock.rtp
	}
	return s.rtpConn
}

// dtmfCode maps a digit to its RFC 4733 event code.
func dtmfCode(d rune) (uint8, bool) {
	switch {
	case d >= '0' && d <= '9':
		return uint8(d - '0'), true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	case d >= 'A' && d <= 'D':
		return uint8(12 + d - 'A'), true
	case d >= 'a' && d <= 'd':
		return uint8(12 + d - 'a'), true
	}
	return 0, false
}

func dtmfDigit(code uint8) rune {
	switch {
	case code <= 9:
		return rune('0' + code)
	case code == 10:
		return '*'
	case code == 11:
		return '#'
	case code <= 15:
		return rune('A' + code - 12)
	}
	return 0
}

// sendDTMF sends the current digit as telephone-event packets (RFC 4733
// section 2.5): one per frame with growing duration, the end packet three
// times, then a pause.
func (s *stream) sendDTMF(sh *mediaShard) {
	d := s.dtmf
	code, _ := dtmfCode(d.queue[0])
	if d.tick == 0 {
		d.ts = s.ts
		s.marker = true
	}
	d.tick++
	switch {
	case d.tick <= dtmfFrames:
		dur := uint16(d.tick * audio.FrameSamples)
		end := d.tick == dtmfFrames
		reps := 1
		if end {
			reps = 3
		}
		for range reps {
			sh.payload = append(sh.payload[:0], code, 10, byte(dur>>8), byte(dur))
			if end {
				sh.payload[1] |= 0x80
			}
			s.writeRTP(sh, uint8(s.dtmfPT), d.ts, sh.payload)
		}
	case d.tick < dtmfFrames+dtmfGapFrames:
		clear(sh.pcm)
		sh.payload = g711.EncodeULaw(sh.payload[:0], sh.pcm)
		if s.codec.name == "PCMA" {
			sh.payload = g711.EncodeALaw(sh.payload[:0], sh.pcm)
		}
		s.writeRTP(sh, s.codec.pt, s.ts, sh.payload)
	default:
		d.queue = d.queue[1:]
		d.tick = 0
		if len(d.queue) == 0 {
			for _, ch := range d.done {
				close(ch)
			}
			s.dtmf = nil
		}
		s.marker = true
	}
}

// playout takes one frame from the jitter buffer to the sink.
func (s *stream) playout(sh *mediaShard) {
	if !s.playing {
		if s.buffered < jitterStart {
			return
		}
		// Start with the oldest frame buffered.
		s.playing = true
		best, found := uint16(0), false
		for i := range s.slots {
			sl := &s.slots[i]
			if sl.valid && (!found || int16(sl.seq-best) < 0) {
				best, found = sl.seq, true
			}
		}
		s.playSeq = best
	}
	sl := &s.slots[s.playSeq%jitterSlots]
	if sl.valid && sl.seq == s.playSeq {
		out := sh.out
		switch {
		case s.codec.name == "PCMA":
			out = g711.DecodeALaw(out, s.slotPayload(sl))
		case s.codec.name == "opus" && s.opus != nil && s.opus.dec != nil:
			n, err := s.opus.dec.Decode(s.slotPayload(sl), sh.out)
			if err != nil {
				n = 0
			}
			out = sh.out[:n]
		default:
			out = g711.DecodeULaw(out, s.slotPayload(sl))
		}
		sl.valid = false
		s.buffered--
		s.idle = 0
		_ = s.sink.WriteFrame(out)
	} else {
		s.idle++
		if s.idle > idleResetTicks || s.buffered == 0 && s.idle > 1 {
			// The far end stopped sending (hold, silence suppression):
			// wait for packets again instead of counting silence as loss.
			s.playing = false
			s.idle = 0
			return
		}
		s.stats.concealed++
		clear(sh.out)
		_ = s.sink.WriteFrame(sh.out)
	}
	s.playSeq++
}

// readRTP serves a stream's own RTP port, conn. It takes the port as an
// argument because rebind replaces the stream's. RTCP arriving there is
// multiplexed (RFC 5761), which only a stream that moved off a shared
// port keeps (see rebind).
func (s *stream) readRTP(conn *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, recvSlot)
	rd := &rtpReader{dec: make([]byte, 0, recvSlot)}
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if isRTCP(buf[:n]) {
			// Not RTP either way: fed to onRTP it would count as a
			// packet received.
			if s.muxed() {
				s.onRTCP(buf[:n], unmapped(from), time.Now())
			}
			continue
		}
		rd.onRTP(s, buf[:n], unmapped(from), time.Now())
	}
}

// unmapped is ap with an IPv4-mapped IPv6 address as plain IPv4, so one
// sender always compares equal to itself.
func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// sameAddr reports whether a (from SDP or an earlier packet) is b.
func sameAddr(a *net.UDPAddr, b netip.AddrPort) bool {
	return a != nil && unmapped(a.AddrPort()) == b
}

func (s *stream) receive(p *rtp.Packet, from *net.UDPAddr, now time.Time) {
	s.receiveFrom(p, unmapped(from.AddrPort()), now)
}

func (s *stream) receiveFrom(p *rtp.Packet, from netip.AddrPort, now time.Time) {
	var dtmf rune
	s.mu.Lock()
	// Symmetric RTP (RFC 4961), comedia-style: send to where the far end
	// sends from, which a NAT may have changed. The address is made only
	// when it changes.
	if !sameAddr(s.remote, from) {
		s.remote = net.UDPAddrFromAddrPort(from)
	}
	s.latched = true
	s.remoteSSRC = p.SSRC
	s.updateSeq(p.SequenceNumber)
	if s.dtmfPT >= 0 && p.PayloadType == uint8(s.dtmfPT) {
		if len(p.Payload) >= 4 && p.Payload[1]&0x80 != 0 && (!s.dtmfSeen || s.lastDTMFTS != p.Timestamp) {
			s.lastDTMFTS, s.dtmfSeen = p.Timestamp, true
			dtmf = dtmfDigit(p.Payload[0])
		}
		s.mu.Unlock()
		if dtmf != 0 {
			s.call.dtmfReceived(dtmf, false)
		}
		return
	}
	if p.PayloadType != s.codec.pt || len(p.Payload) > maxPayload {
		s.mu.Unlock()
		return
	}
	// Interarrival jitter (RFC 3550 appendix A.8), in timestamp units.
	rate := int64(s.codec.rate)
	if rate == 0 {
		rate = audio.SampleRate
	}
	arrival := now.UnixNano() / (int64(time.Second) / rate)
	transit := arrival - int64(p.Timestamp)
	if s.transit != 0 {
		d := transit - s.transit
		if d < 0 {
			d = -d
		}
		s.jitter += (float64(d) - s.jitter) / 16
	}
	s.transit = transit
	if s.playing && int16(p.SequenceNumber-s.playSeq) < 0 {
		s.stats.late++
		s.mu.Unlock()
		return
	}
	if s.playing && int16(p.SequenceNumber-s.playSeq) >= jitterSlots {
		// Far ahead: the far end jumped; start over.
		s.playing = false
		for i := range s.slots {
			s.slots[i].valid = false
		}
		s.buffered = 0
	}
	sl := &s.slots[p.SequenceNumber%jitterSlots]
	if !sl.valid {
		s.buffered++
	}
	if len(p.Payload) > int(s.jslot) {
		s.growJitter(len(p.Payload))
	}
	i := int(p.SequenceNumber % jitterSlots)
	w := int(s.jslot)
	sl.valid, sl.seq, sl.n = true, p.SequenceNumber, uint16(copy(s.jbuf[i*w:(i+1)*w], p.Payload))
	s.mu.Unlock()
}

// slotPayload is the payload buffered in sl, one of s.slots.
func (s *stream) slotPayload(sl *jitterSlot) []byte {
	i := int(sl.seq % jitterSlots)
	return s.jbuf[i*int(s.jslot):][:sl.n]
}

// growJitter makes the slots hold n-byte payloads, keeping what they
// hold. The first packet sizes them (160 bytes for G.711's 20 ms); a
// larger one later (Opus varies) grows them once to maxPayload.
func (s *stream) growJitter(n int) {
	if s.jbuf == nil && n <= g711Frame {
		// Every active call receives, so the common case lives in the
		// stream itself rather than in an allocation of its own.
		s.jbuf, s.jslot = s.jmem[:], g711Frame
		return
	}
	size := maxPayload
	if s.jbuf == nil {
		size = n
	}
	buf := make([]byte, jitterSlots*size)
	for i := range s.slots {
		if sl := &s.slots[i]; sl.valid {
			copy(buf[i*size:], s.jbuf[i*int(s.jslot):][:sl.n])
		}
	}
	s.jbuf, s.jslot = buf, uint16(size)
}

// updateSeq keeps the extended highest sequence number (RFC 3550 A.1,
// simplified: no probation).
func (s *stream) updateSeq(seq uint16) {
	s.received++
	if !s.haveSeq {
		s.haveSeq = true
		s.baseSeq = uint32(seq)
		s.maxSeq = uint32(seq)
		return
	}
	cycles := s.maxSeq &^ 0xFFFF
	cand := cycles | uint32(seq)
	if d := int16(seq - uint16(s.maxSeq)); d > 0 {
		if uint16(s.maxSeq) > seq {
			cand += 1 << 16
		}
		s.maxSeq = cand
	}
}

func (s *stream) lostLocked() int64 {
	if !s.haveSeq {
		return 0
	}
	expected := int64(s.maxSeq-s.baseSeq) + 1
	return expected - int64(s.received)
}

// sendRTCP sends a sender report (or a receiver report while not
// sending) with one report block about the far end's stream.
func (s *stream) sendRTCP(now time.Time) {
	to, conn := s.remoteRTCP, s.rtcpConn
	switch {
	case s.mux:
		to, conn = s.remote, s.rtpPort()
	case s.sock != nil:
		conn = s.sock.rtcp
	}
	if to == nil || to.Port == 0 {
		return
	}
	var blocks []rtcp.ReceptionReport
	if s.haveSeq {
		expected := uint64(s.maxSeq-s.baseSeq) + 1
		expInt := expected - s.expPrior
		recvInt := s.received - s.recvPrior
		s.expPrior, s.recvPrior = expected, s.received
		var frac uint8
		if expInt > 0 && expInt > recvInt {
			frac = uint8((expInt - recvInt) << 8 / expInt)
		}
		rr := rtcp.ReceptionReport{SSRC: s.remoteSSRC, FractionLost: frac,
			TotalLost: uint32(max(s.lostLocked(), 0)) & 0xFFFFFF, LastSequenceNumber: s.maxSeq,
			Jitter: uint32(s.jitter), LastSenderReport: s.lastSR}
		if s.lastSRAt != 0 {
			rr.Delay = uint32((now.Sub(monoEpoch) - s.lastSRAt).Seconds() * 65536)
		}
		blocks = append(blocks, rr)
	}
	var pkt rtcp.Packet
	if s.stats.sent > 0 {
		pkt = &rtcp.SenderReport{SSRC: s.ssrc, NTPTime: ntpTime(now), RTPTime: s.ts,
			PacketCount: uint32(s.stats.sent), OctetCount: uint32(s.stats.sent * 160), Reports: blocks}
	} else {
		pkt = &rtcp.ReceiverReport{SSRC: s.ssrc, Reports: blocks}
	}
	b, err := pkt.Marshal()
	if err != nil {
		return
	}
	if s.sec != nil {
		if b, err = s.sec.rtpOut.EncryptRTCP(nil, b, nil); err != nil {
			return
		}
	}
	// Reports are rare (one per stream every 5 s): sent on their own.
	_, _ = conn.WriteToUDP(b, to)
}

func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	sec := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return sec<<32 | frac
}

// readRTCP serves a stream's own RTCP port, conn.
func (s *stream) readRTCP(conn *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, recvSlot)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.onRTCP(buf[:n], unmapped(from), time.Now())
	}
}

// onRTCP takes one (S)RTCP compound packet from the far end: RTT, and
// what it says about our stream.
func (s *stream) onRTCP(data []byte, from netip.AddrPort, now time.Time) {
	s.mu.Lock()
	sec := s.sec
	s.mu.Unlock()
	if sec != nil {
		in := sec.rtcpIn
		var err error
		if data, err = in.DecryptRTCP(nil, data, nil); err != nil {
			return
		}
	}
	pkts, err := rtcp.Unmarshal(data)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mux && !sameAddr(s.remoteRTCP, from) {
		s.remoteRTCP = net.UDPAddrFromAddrPort(from)
	}
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch p := p.(type) {
		case *rtcp.SenderReport:
			s.lastSR = uint32(p.NTPTime >> 16)
			s.lastSRAt = max(now.Sub(monoEpoch), 1)
			reports = p.Reports
		case *rtcp.ReceiverReport:
			reports = p.Reports
		}
		for _, r := range reports {
			if r.SSRC != s.ssrc {
				continue
			}
			s.stats.remoteLost = int64(r.TotalLost)
			s.stats.remoteFractionLost = float64(r.FractionLost) / 256
			s.stats.remoteJitter = time.Duration(float64(r.Jitter) / float64(max(s.codec.rate, 1)) * float64(time.Second))
			if r.LastSenderReport != 0 {
				nowNTP := uint32(ntpTime(now) >> 16)
				rtt := int64(nowNTP) - int64(r.LastSenderReport) - int64(r.Delay)
				if rtt >= 0 {
					s.stats.rtt = time.Duration(rtt * int64(time.Second) / 65536)
				}
			}
		}
	}
}

// snapshot returns the current statistics.
func (s *stream) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.stats
	st := Stats{Codec: s.codec.name, PacketsSent: c.sent, PacketsReceived: s.received,
		PacketsLost: s.lostLocked(), Concealed: c.concealed, Late: c.late, RTT: c.rtt,
		RemoteLost: c.remoteLost, RemoteFractionLost: c.remoteFractionLost, RemoteJitter: c.remoteJitter,
		SendLate: c.sendLate, SRTP: s.sec != nil, DecryptFailures: c.decryptFailures}
	rate := float64(s.codec.rate)
	if rate == 0 {
		rate = audio.SampleRate
	}
	st.Jitter = time.Duration(s.jitter / rate * float64(time.Second))
	return st
}

// addrs returns where the stream's RTP leaves from and goes to, for
// Stats: apart from snapshot, which the media benchmarks poll.
func (s *stream) addrs() (local, remote netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if conn := s.rtpPort(); conn != nil {
		if a, ok := conn.LocalAddr().(*net.UDPAddr); ok {
			local = unmapped(a.AddrPort())
		}
	}
	if s.remote != nil {
		remote = unmapped(s.remote.AddrPort())
	}
	return local, remote
}

func (s *stream) queueDTMF(digits []rune) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dtmfPT < 0 {
		return nil
	}
	ch := make(chan struct{})
	if s.dtmf == nil {
		s.dtmf = &dtmfSender{}
	}
	s.dtmf.queue = append(s.dtmf.queue, digits...)
	s.dtmf.done = append(s.dtmf.done, ch)
	return ch
}

func (s *stream) setMuted(m bool) {
	s.mu.Lock()
	s.muted = m
	s.mu.Unlock()
}

// unlatch makes the next configure send to the address the SDP names
// rather than to where the far end's packets last came from.
func (s *stream) unlatch() {
	s.mu.Lock()
	s.latched = false
	s.mu.Unlock()
}

func (s *stream) muxed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mux
}

func (s *stream) setDir(d direction) {
	s.mu.Lock()
	s.dir = d
	s.mu.Unlock()
}

func (s *stream) hasDTMF() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dtmfPT >= 0
}

func (s *stream) snapshotCodec() codec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.codec
}

// takeIO hands the stream's source and sink to another call (a transfer):
// from now on this stream sends silence and discards what it hears, so
// that no source is read by two pacing goroutines at once.
func (s *stream) takeIO() (audio.Source, audio.Sink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	src, sink := s.src, s.sink
	s.src, s.sink = audio.Silence{}, audio.Discard{}
	return src, sink
}
