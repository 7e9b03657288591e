package softphone

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

const (
	// batchSize is how many datagrams one recvmmsg or sendmmsg carries.
	batchSize = 64
	// sendSlot is the room for one queued packet: G.711 (172 bytes), DTMF
	// and SRTP's tag fit; a larger packet is sent on its own.
	sendSlot = 512
	// recvSlot is the room for one received datagram: a full Ethernet
	// MTU, so nothing a peer sends is truncated.
	recvSlot = 1500
)

// batchConn is the batched half of golang.org/x/net's ipv4 and ipv6
// PacketConn (recvmmsg and sendmmsg on Linux, one datagram a call
// elsewhere).
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

func newBatchConn(c *net.UDPConn) batchConn {
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		return ipv6.NewPacketConn(c)
	}
	return ipv4.NewPacketConn(c)
}

// mediaSocket is an RTP port pair (RTP on an even port, RTCP on the next,
// RFC 3550 section 11) shared by many streams: every call on it
// advertises the same port. Received packets go to their stream by the
// sender's SSRC, which both ends name in SDP (a=ssrc, RFC 5576), or else
// by the address the far end's SDP named. RTCP arrives on the RTP port
// when both ends agreed to rtcp-mux (RFC 5761), on the RTCP port when not.
//
// One reader goroutine per port serves all the streams, in batches; the
// owning shard's pacing loop sends for all of them, in batches.
type mediaSocket struct {
	rtp, rtcp *net.UDPConn
	rtpB      batchConn // for sendmmsg
	port      int
	wg        sync.WaitGroup // the two readers
	// delivering is held by each reader (RTP, RTCP) while it hands a
	// batch to streams, so that quiesce can wait out a delivery begun
	// before unbind. Once per batch, not per packet: cheap.
	delivering [2]sync.Mutex

	mu sync.RWMutex // guards the maps and every stream's sockKey
	// bySSRC finds a stream by the far end's SSRC: named in its SDP or
	// learned from its first packet.
	bySSRC map[uint32]*stream
	// byAddr finds a stream by the RTP address in the far end's SDP, for
	// peers that name no SSRC.
	byAddr map[netip.AddrPort]*stream
	// unkeyed are streams neither map can find: their peer named no SSRC
	// and another stream here already has its address (several calls to
	// one media port). They take packets from that address first come,
	// first served, and keep the SSRC they learn.
	unkeyed []*stream
	// fresh are the streams found by address (or not at all) that have
	// heard nothing yet: when there is exactly one, a packet from an
	// unknown source is its far end behind a NAT.
	fresh map[*stream]struct{}
}

// sockKey is how a mediaSocket finds one stream.
type sockKey struct {
	sdpSSRC    uint32 // the SSRC the far end's SDP named, when bySSRC holds it
	hasSDP     bool
	learned    uint32 // the SSRC its packets carry, when bySSRC holds it
	hasLearned bool
	addr       netip.AddrPort // the RTP address its SDP named
	hasAddr    bool           // byAddr holds addr
	unkeyed    bool           // in unkeyed, waiting at addr
	received   bool           // a packet has been routed to the stream
}

// listenMediaSocket binds an even/odd port pair on ip.
func listenMediaSocket(ip string) (*mediaSocket, error) {
	rc, cc, port, err := listenPair(ip)
	if err != nil {
		return nil, err
	}
	// Many calls' packets queue on one socket: room for a few frames of
	// every call keeps a scheduling hiccup from dropping packets.
	_ = rc.SetReadBuffer(4 << 20)
	_ = rc.SetWriteBuffer(4 << 20)
	ms := &mediaSocket{rtp: rc, rtcp: cc, rtpB: newBatchConn(rc), port: port,
		bySSRC: map[uint32]*stream{}, byAddr: map[netip.AddrPort]*stream{}, fresh: map[*stream]struct{}{}}
	// RTCP is one report per stream every 5 s: a short batch will do,
	// and saves the memory of a long one.
	rtpDs, rtcpDs := datagrams(batchSize), datagrams(4)
	rtpR, err := newBatchReader(rc, rtpDs)
	if err != nil {
		rc.Close()
		cc.Close()
		return nil, fmt.Errorf("softphone: rtp socket: %w", err)
	}
	rtcpR, err := newBatchReader(cc, rtcpDs)
	if err != nil {
		rc.Close()
		cc.Close()
		return nil, fmt.Errorf("softphone: rtcp socket: %w", err)
	}
	ms.wg.Add(2)
	go ms.read(rtpR, rtpDs, false)
	go ms.read(rtcpR, rtcpDs, true)
	return ms, nil
}

func datagrams(n int) []datagram {
	ds := make([]datagram, n)
	for i := range ds {
		ds[i].buf = make([]byte, recvSlot)
	}
	return ds
}

// listenPair binds an RTP/RTCP port pair on ip (even RTP port, RTCP the
// next one, RFC 3550 section 11).
func listenPair(ip string) (rtpConn, rtcpConn *net.UDPConn, port int, err error) {
	var lastErr error
	for range 50 {
		rc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			return nil, nil, 0, fmt.Errorf("softphone: rtp socket: %w", err)
		}
		port := rc.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || port == 65535 {
			rc.Close()
			continue
		}
		cc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip), Port: port + 1})
		if err != nil {
			rc.Close()
			lastErr = err
			continue
		}
		return rc, cc, port, nil
	}
	return nil, nil, 0, fmt.Errorf("softphone: no free RTP port pair: %v", lastErr)
}

// close closes both ports and waits for the readers.
func (ms *mediaSocket) close() {
	ms.rtp.Close()
	ms.rtcp.Close()
	ms.wg.Wait()
}

// bind (re)keys s from the far end's description: by the SSRC it names
// and by its address, whichever no other stream here holds. Called with
// s.mu held.
func (ms *mediaSocket) bind(s *stream, rm *remoteMedia) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.unbindLocked(s)
	k := &s.key
	if rm.ssrc != 0 {
		if o := ms.bySSRC[rm.ssrc]; o == nil {
			ms.bySSRC[rm.ssrc] = s
			k.sdpSSRC, k.hasSDP = rm.ssrc, true
		}
	}
	ip, err := netip.ParseAddr(rm.ip)
	if err != nil || rm.port == 0 {
		return
	}
	k.addr = netip.AddrPortFrom(ip.Unmap(), uint16(rm.port))
	if o := ms.byAddr[k.addr]; o == nil {
		ms.byAddr[k.addr] = s
		k.hasAddr = true
	} else if !k.hasSDP {
		k.unkeyed = true
		ms.unkeyed = append(ms.unkeyed, s)
	}
	if !k.received && !k.hasSDP {
		ms.fresh[s] = struct{}{}
	}
}

// unbind forgets s.
func (ms *mediaSocket) unbind(s *stream) {
	ms.mu.Lock()
	ms.unbindLocked(s)
	ms.mu.Unlock()
}

func (ms *mediaSocket) unbindLocked(s *stream) {
	k := &s.key
	if k.hasSDP && ms.bySSRC[k.sdpSSRC] == s {
		delete(ms.bySSRC, k.sdpSSRC)
	}
	if k.hasLearned && ms.bySSRC[k.learned] == s {
		delete(ms.bySSRC, k.learned)
	}
	if k.hasAddr && ms.byAddr[k.addr] == s {
		delete(ms.byAddr, k.addr)
	}
	if k.unkeyed {
		ms.dropUnkeyed(s)
	}
	delete(ms.fresh, s)
	*k = sockKey{received: k.received}
}

func (ms *mediaSocket) dropUnkeyed(s *stream) {
	for i, o := range ms.unkeyed {
		if o == s {
			ms.unkeyed = append(ms.unkeyed[:i], ms.unkeyed[i+1:]...)
			break
		}
	}
	s.key.unkeyed = false
}

// route finds the stream a packet from `from` with sender SSRC ssrc
// belongs to, or nil. The common case, a known SSRC, takes a read lock.
func (ms *mediaSocket) route(ssrc uint32, from netip.AddrPort) *stream {
	ms.mu.RLock()
	s := ms.bySSRC[ssrc]
	settled := s != nil && s.key.received
	ms.mu.RUnlock()
	if settled {
		return s
	}
	return ms.adopt(ssrc, from)
}

// adopt finds the stream for a packet whose SSRC nothing holds yet, and
// makes the SSRC find it from then on. In order: the stream that named
// the SSRC; the stream that named the packet's address and has no SSRC
// yet; an unkeyed stream waiting at that address (first come, first
// served); the stream that named the address (its SSRC changed); and,
// from an address nobody named (a NAT rewrote it, RFC 4961), the one
// stream here that has heard nothing yet, if there is exactly one.
func (ms *mediaSocket) adopt(ssrc uint32, from netip.AddrPort) *stream {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	s := ms.bySSRC[ssrc]
	if s == nil {
		if o := ms.byAddr[from]; o != nil && !o.key.hasSDP && !o.key.hasLearned {
			s = o
		}
	}
	if s == nil {
		for _, o := range ms.unkeyed {
			if o.key.addr == from {
				s = o
				break
			}
		}
	}
	if s == nil {
		s = ms.byAddr[from]
	}
	if s == nil && len(ms.fresh) == 1 {
		for o := range ms.fresh {
			s = o
		}
	}
	if s == nil {
		return nil
	}
	k := &s.key
	if k.unkeyed {
		ms.dropUnkeyed(s)
	}
	k.received = true
	delete(ms.fresh, s)
	if ms.bySSRC[ssrc] == nil {
		if k.hasLearned && ms.bySSRC[k.learned] == s {
			delete(ms.bySSRC, k.learned)
		}
		ms.bySSRC[ssrc] = s
		k.learned, k.hasLearned = ssrc, true
	}
	return s
}

// isRTCP tells RTCP from RTP on a multiplexed port: RTCP packet types
// 192–223 occupy the RTP marker bit and payload type 64–95, which RTP
// does not use (RFC 5761 section 4).
func isRTCP(b []byte) bool {
	return len(b) >= 8 && b[1] >= 192 && b[1] <= 223
}

// read serves one port: batches of datagrams, each handed to its stream.
// The scratch space is the reader's, so the SRTP decrypting contexts,
// used only here, need no lock of their own.
func (ms *mediaSocket) read(r batchReader, ds []datagram, rtcpPort bool) {
	defer ms.wg.Done()
	rd := &rtpReader{dec: make([]byte, 0, recvSlot)}
	mu := &ms.delivering[0]
	if rtcpPort {
		mu = &ms.delivering[1]
	}
	for {
		n, err := r.readBatch(ds)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (an ICMP-induced ECONNREFUSED): go on.
			continue
		}
		now := time.Now()
		mu.Lock()
		for i := range ds[:n] {
			if d := &ds[i]; d.n >= 0 {
				ms.dispatch(rd, d.buf[:d.n], d.from, now, rtcpPort)
			}
		}
		mu.Unlock()
	}
}

// quiesce waits until neither reader is delivering a batch. After unbind
// and quiesce no packet from this socket reaches the stream any more, so
// its SRTP contexts may pass to readers of its own (rebind).
func (ms *mediaSocket) quiesce() {
	for i := range ms.delivering {
		// Empty on purpose: taking the lock is the wait.
		ms.delivering[i].Lock()
		ms.delivering[i].Unlock()
	}
}

// dispatch hands one datagram that arrived on the RTP port (or, with
// rtcpPort, the RTCP port) to its stream; anything else is dropped.
func (ms *mediaSocket) dispatch(rd *rtpReader, data []byte, from netip.AddrPort, now time.Time, rtcpPort bool) {
	rtcpPkt := rtcpPort || isRTCP(data)
	var ssrc uint32
	switch {
	case rtcpPkt && len(data) >= 8:
		ssrc = binary.BigEndian.Uint32(data[4:8])
	case !rtcpPkt && len(data) >= 12:
		ssrc = binary.BigEndian.Uint32(data[8:12])
	default:
		return
	}
	s := ms.route(ssrc, from)
	if s == nil {
		return
	}
	if rtcpPkt {
		s.onRTCP(data, from, now)
	} else {
		rd.onRTP(s, data, from, now)
	}
}

// rtpReader is one reader's scratch space for decrypting and parsing.
type rtpReader struct {
	dec []byte
	pkt rtp.Packet
}

// onRTP decrypts, parses and delivers one RTP datagram to s.
func (rd *rtpReader) onRTP(s *stream, data []byte, from netip.AddrPort, now time.Time) {
	s.mu.Lock()
	sec := s.sec
	s.mu.Unlock()
	if sec != nil {
		var err error
		if data, err = sec.rtpIn.DecryptRTP(rd.dec[:0], data, nil); err != nil {
			s.mu.Lock()
			s.stats.decryptFailures++
			s.mu.Unlock()
			return
		}
	}
	if err := rd.pkt.Unmarshal(data); err != nil || rd.pkt.Version != 2 {
		return
	}
	s.receiveFrom(&rd.pkt, from, now)
}

// sendQueue gathers one pacing tick's packets for a shared socket and
// writes them with sendmmsg, batchSize at a time. Where the kernel allows
// (UDP_SEGMENT, Linux 4.18+), packets of one size to one address (many
// calls to one far-end port: a media server, another fleet) go as one
// message the kernel cuts apart, which saves most of the per-datagram
// cost of sending. Only the owning shard's loop uses a queue.
type sendQueue struct {
	c   batchConn
	gso bool

	// The queued packets, their destinations and slab slots.
	n     int
	pkts  [batchSize][]byte
	dests [batchSize]*net.UDPAddr
	keys  [batchSize]netip.AddrPort
	slab  []byte

	// One flush's messages: ms[i].Buffers are slices of bufs, OOB of oob.
	ms   []ipv4.Message
	bufs [batchSize][]byte
	oob  []byte
	used [batchSize]bool

	// failed counts datagrams the kernel refused.
	failed uint64
}

func newSendQueue(c batchConn, gso bool) *sendQueue {
	return &sendQueue{c: c, gso: gso, ms: make([]ipv4.Message, batchSize),
		slab: make([]byte, batchSize*sendSlot), oob: make([]byte, batchSize*gsoControlLen)}
}

// add queues a copy of b for to; it reports false when b does not fit a
// slot (the caller then sends it alone).
func (q *sendQueue) add(b []byte, to *net.UDPAddr) bool {
	if len(b) > sendSlot {
		return false
	}
	if q.n == batchSize {
		q.flush()
	}
	i := q.n
	q.pkts[i] = q.slab[i*sendSlot : i*sendSlot+copy(q.slab[i*sendSlot:(i+1)*sendSlot], b)]
	q.dests[i] = to
	ap := to.AddrPort()
	q.keys[i] = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	q.n++
	return true
}

// flush writes what is queued.
func (q *sendQueue) flush() {
	if q.n == 0 {
		return
	}
	nm, nb := 0, 0
	clear(q.used[:q.n])
	for i := range q.n {
		if q.used[i] {
			continue
		}
		q.used[i] = true
		first := nb
		q.bufs[nb] = q.pkts[i]
		nb++
		if q.gso {
			size := len(q.pkts[i])
			for j := i + 1; j < q.n && nb-first < gsoMaxSegments; j++ {
				if !q.used[j] && q.keys[j] == q.keys[i] && len(q.pkts[j]) == size {
					q.used[j] = true
					q.bufs[nb] = q.pkts[j]
					nb++
				}
			}
		}
		m := &q.ms[nm]
		m.Buffers, m.Addr, m.OOB = q.bufs[first:nb:nb], q.dests[i], nil
		if nb-first > 1 {
			m.OOB = q.oob[nm*gsoControlLen : (nm+1)*gsoControlLen]
			putGSOControl(m.OOB, len(q.pkts[i]))
		}
		nm++
	}
	q.write(q.ms[:nm])
	for i := range q.ms[:nm] {
		q.ms[i] = ipv4.Message{}
	}
	clear(q.dests[:q.n])
	q.n = 0
}

// write sends ms. A message the kernel refuses is skipped so the rest
// still go; a refused segmented one (a device that cannot checksum it)
// turns segmentation off for good and goes again datagram by datagram.
func (q *sendQueue) write(ms []ipv4.Message) {
	for len(ms) > 0 {
		n, err := q.c.WriteBatch(ms, 0)
		if err == nil {
			ms = ms[min(max(n, 1), len(ms)):]
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if m := ms[0]; m.OOB != nil {
			q.gso = false
			for _, b := range m.Buffers {
				one := []ipv4.Message{{Buffers: [][]byte{b}, Addr: m.Addr}}
				if _, err := q.c.WriteBatch(one, 0); err != nil {
					q.failed++
				}
			}
		} else {
			q.failed += uint64(len(m.Buffers))
		}
		ms = ms[1:]
	}
}
