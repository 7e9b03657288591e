package softphone

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzDispatch feeds a shared socket's demultiplexer any datagram, on the
// RTP port or the RTCP port, from the far end's address or another: it
// must drop what is not for a stream and never disturb the routing of a
// stream's own packets.
func FuzzDispatch(f *testing.F) {
	good, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 77, SequenceNumber: 9}, Payload: make([]byte, 160)}).Marshal()
	sr, _ := (&rtcp.SenderReport{SSRC: 77, Reports: []rtcp.ReceptionReport{{SSRC: 1}}}).Marshal()
	f.Add(good, false, true)
	f.Add(sr, false, true)
	f.Add(sr, true, false)
	f.Add([]byte{0x80, 200, 0, 1, 0, 0, 0, 77}, false, true)
	f.Add([]byte{0x80}, true, true)
	f.Fuzz(func(t *testing.T, data []byte, rtcpPort, fromPeer bool) {
		ms := &mediaSocket{bySSRC: map[uint32]*stream{}, byAddr: map[netip.AddrPort]*stream{}, fresh: map[*stream]struct{}{}}
		a := &stream{call: &Call{}, dtmfPT: -1, ssrc: 1}
		b := &stream{call: &Call{}, dtmfPT: -1, ssrc: 2}
		for _, s := range []*stream{a, b} {
			s.sock = ms
			s.configure(&remoteMedia{ip: "127.0.0.1", port: 4000, rtcp: 4001, dtmfPT: -1, ssrc: 77 + s.ssrc - 1}, codec{"PCMU", 0, 8000}, sendrecv)
		}
		from := netip.MustParseAddrPort("127.0.0.1:4000")
		if !fromPeer {
			from = netip.MustParseAddrPort("10.9.9.9:1234")
		}
		rd := &rtpReader{dec: make([]byte, 0, recvSlot)}
		ms.dispatch(rd, append([]byte(nil), data...), from, time.Now(), rtcpPort)
		// b's packets still reach b, and only b.
		before := a.snapshot().PacketsReceived
		ms.dispatch(rd, good[:8:8], from, time.Now(), false) // too short to be anything
		pkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 78, SequenceNumber: 3}, Payload: make([]byte, 160)}).Marshal()
		require.NoError(t, err)
		nb := b.snapshot().PacketsReceived
		ms.dispatch(rd, pkt, from, time.Now(), false)
		assert.Equal(t, nb+1, b.snapshot().PacketsReceived, "ssrc 78 goes to b ("+strconv.Itoa(len(data))+" fuzz bytes)")
		assert.Equal(t, before, a.snapshot().PacketsReceived)
	})
}

// FuzzSSRCAttribute: whatever an a=ssrc line holds, parsing keeps the
// first non-zero 32-bit id or nothing, and ours round-trips.
func FuzzSSRCAttribute(f *testing.F) {
	f.Add("3735928559 cname:x@opencsf", uint32(5))
	f.Add("0 cname:", uint32(0))
	f.Add("99999999999 msid:a b", uint32(1))
	f.Fuzz(func(t *testing.T, value string, ours uint32) {
		if strings.ContainsAny(value, "\r\n") {
			return // another line, not this attribute's value
		}
		sdp := "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=ssrc:" + value + "\r\n"
		if rm, err := parseSDP([]byte(sdp)); err == nil && rm.ssrc != 0 {
			id, _, _ := strings.Cut(value, " ")
			n, err := strconv.ParseUint(id, 10, 32)
			require.NoError(t, err)
			assert.Equal(t, uint32(n), rm.ssrc)
		}
		l := localMedia{sessionID: 1, version: 1, ip: "127.0.0.1", port: 4000, codecs: []codec{{"PCMU", 0, 8000}}, dtmfPT: -1, dir: sendrecv, ssrc: ours, rtcpMux: true}
		rm, err := parseSDP(l.marshal())
		require.NoError(t, err)
		assert.Equal(t, ours, rm.ssrc)
		assert.True(t, rm.rtcpMux)
	})
}
