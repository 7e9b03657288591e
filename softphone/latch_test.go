package softphone

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSymmetricRTPLatching: media is sent to where the far end's RTP comes
// from (a NAT's mapping), not to the address its SDP named (RFC 4961).
func TestSymmetricRTPLatching(t *testing.T) {
	c := &Call{p: &Phone{log: slog.New(slog.DiscardHandler)}}
	s, err := newStream(c, "127.0.0.1")
	require.NoError(t, err)
	defer s.rtpConn.Close()
	defer s.rtcpConn.Close()
	s.configure(&remoteMedia{ip: "10.0.0.1", port: 4000, rtcp: 4001, dtmfPT: -1}, codec{"PCMU", 0, 8000}, sendrecv)
	assert.Equal(t, "10.0.0.1:4000", s.remote.String())
	natted := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	p := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 5}, Payload: make([]byte, 160)}
	s.receive(p, natted, time.Now())
	assert.Equal(t, natted.String(), s.remote.String())
	// A re-INVITE naming the SDP address again does not undo the latch.
	s.configure(&remoteMedia{ip: "10.0.0.1", port: 4000, rtcp: 4001, dtmfPT: -1}, codec{"PCMU", 0, 8000}, sendrecv)
	assert.Equal(t, natted.String(), s.remote.String())
}
