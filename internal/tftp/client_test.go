package tftp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests here put a scripted peer on the wire for what tftpd-hpa cannot
// be made to do: malformed and hostile packets, lost packets, lies about
// the size. Normal transfers are tested against tftpd-hpa in
// integration_test.go.

// closedPort returns a UDP address on which nothing listens.
func closedPort(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := c.LocalAddr().String()
	require.NoError(t, c.Close())
	return addr
}

// peer is the server side of one scripted transfer: it answers the first
// read request from a fresh socket (its transfer ID), as servers do.
type peer struct {
	t      *testing.T
	listen *net.UDPConn
	conn   *net.UDPConn // the transfer socket
	client *net.UDPAddr
	req    packet
	done   chan struct{}
}

// newPeer starts a peer whose script runs on its own goroutine once the
// request arrives; the test waits for it in Cleanup.
func newPeer(t *testing.T, script func(p *peer)) string {
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	p := &peer{t: t, listen: l, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer l.Close()
		buf := make([]byte, 2048)
		l.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := l.ReadFromUDP(buf)
		if err != nil {
			return
		}
		p.req, err = parsePacket(append([]byte(nil), buf[:n]...))
		if err != nil {
			t.Errorf("peer: request: %v", err)
			return
		}
		p.client = from
		p.conn, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Errorf("peer: %v", err)
			return
		}
		defer p.conn.Close()
		script(p)
	}()
	t.Cleanup(func() { <-p.done })
	return l.LocalAddr().String()
}

func (p *peer) send(b []byte) {
	_, err := p.conn.WriteToUDP(b, p.client)
	if err != nil {
		p.t.Errorf("peer: send: %v", err)
	}
}

// recv reads the client's next packet on the transfer socket, or returns
// ok false after a second.
func (p *peer) recv() (packet, bool) {
	buf := make([]byte, 2048)
	p.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := p.conn.ReadFromUDP(buf)
	if err != nil {
		return packet{}, false
	}
	pk, err := parsePacket(buf[:n])
	if err != nil {
		p.t.Errorf("peer: client sent a malformed packet: %v", err)
		return packet{}, false
	}
	return pk, true
}

// expectACK reads an ACK for block.
func (p *peer) expectACK(block uint16) {
	pk, ok := p.recv()
	if !ok || pk.op != opACK || pk.block != block {
		p.t.Errorf("peer: want ACK %d, got %+v (ok %v)", block, pk, ok)
	}
}

// expectError reads an ERROR packet and returns its code.
func (p *peer) expectError(code uint16) {
	pk, ok := p.recv()
	if !ok || pk.op != opERROR || pk.code != code {
		p.t.Errorf("peer: want ERROR %d, got %+v (ok %v)", code, pk, ok)
	}
}

func fast() *Client { return &Client{Timeout: 100 * time.Millisecond, Retries: 3} }

func TestClientHostilePeers(t *testing.T) {
	block := bytes.Repeat([]byte("x"), 512)
	tests := []struct {
		name   string
		client *Client
		script func(p *peer)
		want   error  // errors.Is target
		has    string // in the message
		data   string // expected content on success
	}{
		{
			name: "error packet",
			script: func(p *peer) {
				p.send(appendError(nil, CodeAccessViolation, "go away"))
			},
			want: &Error{}, has: "server error 2: go away",
		},
		{
			name: "error packet without NUL",
			script: func(p *peer) {
				p.send(appendError(nil, CodeNotFound, "nope")[:8])
			},
			want: ErrNotFound, has: "server error 1: nope",
		},
		{
			name: "truncated: fewer bytes than tsize",
			script: func(p *peer) {
				p.send(appendOACK(nil, map[string]string{"blksize": "512", "tsize": "2000"}))
				p.expectACK(0)
				p.send(appendData(nil, 1, block))
				p.expectACK(1)
				p.send(appendData(nil, 2, []byte("short")))
				p.expectACK(2)
			},
			want: ErrTruncated, has: "517 of 2000 bytes",
		},
		{
			name: "more bytes than tsize",
			script: func(p *peer) {
				p.send(appendOACK(nil, map[string]string{"blksize": "512", "tsize": "10"}))
				p.expectACK(0)
				p.send(appendData(nil, 1, []byte("0123456789abc")))
				p.expectError(CodeIllegalOperation)
			},
			want: ErrProtocol, has: "announced",
		},
		{
			name: "block larger than negotiated blksize",
			script: func(p *peer) {
				p.send(appendOACK(nil, map[string]string{"blksize": "512"}))
				p.expectACK(0)
				p.send(appendData(nil, 1, append(block, 'y')))
				p.expectError(CodeIllegalOperation)
			},
			want: ErrProtocol, has: "513 bytes, blksize is 512",
		},
		{
			name: "options ignored: block larger than 512",
			script: func(p *peer) {
				p.send(appendData(nil, 1, bytes.Repeat([]byte("z"), 1000)))
				p.expectError(CodeIllegalOperation)
			},
			want: ErrProtocol, has: "blksize is 512",
		},
		{
			name: "blksize larger than asked",
			script: func(p *peer) {
				p.send(appendOACK(nil, map[string]string{"blksize": "9000"}))
				p.expectError(CodeOptionsRefused)
			},
			want: ErrProtocol, has: "blksize",
		},
		{
			name: "option not asked for",
			script: func(p *peer) {
				p.send(appendOACK(nil, map[string]string{"windowsize": "4"}))
				p.expectError(CodeOptionsRefused)
			},
			want: ErrProtocol, has: `"windowsize" was not asked for`,
		},
		{
			name:   "OACK without options asked",
			client: &Client{NoOptions: true, Timeout: 100 * time.Millisecond},
			script: func(p *peer) {
				p.send(appendOACK(nil, map[string]string{"blksize": "512"}))
				p.expectError(CodeIllegalOperation)
			},
			want: ErrProtocol, has: "unexpected OACK",
		},
		{
			name: "malformed packet",
			script: func(p *peer) {
				p.send([]byte{0})
				p.expectError(CodeIllegalOperation)
			},
			want: ErrProtocol, has: "malformed",
		},
		{
			name: "unknown opcode",
			script: func(p *peer) {
				p.send([]byte{0, 9, 1, 2})
			},
			want: ErrProtocol, has: "unknown opcode 9",
		},
		{
			name:   "announced size over MaxSize",
			client: &Client{MaxSize: 1000, Timeout: 100 * time.Millisecond},
			script: func(p *peer) {
				p.send(appendOACK(nil, map[string]string{"tsize": "1001"}))
				p.expectError(CodeDiskFull)
			},
			want: ErrTooLarge, has: "announced 1001 bytes, limit 1000",
		},
		{
			name:   "received size over MaxSize",
			client: &Client{MaxSize: 1000, NoOptions: true, Timeout: 100 * time.Millisecond},
			script: func(p *peer) {
				p.send(appendData(nil, 1, block))
				p.expectACK(1)
				p.send(appendData(nil, 2, block))
				p.expectError(CodeDiskFull)
			},
			want: ErrTooLarge, has: "more than 1000 bytes",
		},
		{
			name: "server stops answering mid-transfer",
			script: func(p *peer) {
				p.send(appendData(nil, 1, block))
				for range 4 { // the ACK and its 3 retransmissions
					p.expectACK(1)
				}
			},
			want: ErrTimeout, has: "waiting for block 2",
		},
		{
			name: "lost ACK: duplicate block acknowledged again",
			script: func(p *peer) {
				p.send(appendData(nil, 1, block))
				p.expectACK(1)
				p.send(appendData(nil, 1, block)) // as if ACK 1 were lost
				p.expectACK(1)
				p.send(appendData(nil, 2, []byte("end")))
				p.expectACK(2)
			},
			data: string(block) + "end",
		},
		{
			name: "lost DATA: client retransmits its ACK",
			script: func(p *peer) {
				p.send(appendOACK(nil, map[string]string{"blksize": "512", "tsize": "3"}))
				p.expectACK(0)
				p.expectACK(0) // retransmitted after the timeout
				p.send(appendData(nil, 1, []byte("abc")))
				p.expectACK(1)
			},
			data: "abc",
		},
		{
			name: "duplicate OACK",
			script: func(p *peer) {
				p.send(appendOACK(nil, map[string]string{"blksize": "512"}))
				p.expectACK(0)
				p.send(appendOACK(nil, map[string]string{"blksize": "512"}))
				p.expectACK(0)
				p.send(appendData(nil, 1, []byte("abc")))
				p.expectACK(1)
			},
			data: "abc",
		},
		{
			name: "stranger gets ERROR 5, transfer goes on",
			script: func(p *peer) {
				p.send(appendData(nil, 1, block))
				p.expectACK(1)
				s, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					p.t.Error(err)
					return
				}
				defer s.Close()
				s.WriteToUDP(appendData(nil, 2, []byte("evil")), p.client)
				buf := make([]byte, 100)
				s.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, _, err := s.ReadFromUDP(buf)
				if assert.NoError(p.t, err) {
					pk, err := parsePacket(buf[:n])
					assert.NoError(p.t, err)
					assert.Equal(p.t, uint16(CodeUnknownTransferID), pk.code)
				}
				p.send(appendData(nil, 2, []byte("good")))
				p.expectACK(2)
			},
			data: string(block) + "good",
		},
		{
			name: "options refused: asked again without",
			script: func(p *peer) {
				assert.Equal(p.t, "1428", p.req.options["blksize"])
				p.send(appendError(nil, CodeOptionsRefused, "no options"))
				// The plain request comes to the listening port again.
				buf := make([]byte, 600)
				p.listen.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, from, err := p.listen.ReadFromUDP(buf)
				if !assert.NoError(p.t, err) {
					return
				}
				req, err := parsePacket(buf[:n])
				assert.NoError(p.t, err)
				assert.Empty(p.t, req.options)
				p.client = from
				p.send(appendData(nil, 1, []byte("plain")))
				p.expectACK(1)
			},
			data: "plain",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := newPeer(t, tc.script)
			c := tc.client
			if c == nil {
				c = fast()
			}
			got, _, err := c.Get(t.Context(), addr, "CSFalice.cnf.xml")
			if tc.want == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.data, string(got))
				return
			}
			require.Error(t, err)
			var te *TransferError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, addr, te.Server)
			if se, ok := tc.want.(*Error); ok {
				assert.ErrorAs(t, err, &se)
			} else {
				assert.ErrorIs(t, err, tc.want)
			}
			assert.Contains(t, err.Error(), tc.has)
		})
	}
}

func TestClientServerDown(t *testing.T) {
	start := time.Now()
	_, res, err := (&Client{Timeout: 50 * time.Millisecond, Retries: 2}).Get(t.Context(), closedPort(t), "x")
	require.ErrorIs(t, err, ErrTimeout)
	assert.Contains(t, err.Error(), "no answer after 3 requests 50ms apart")
	assert.Equal(t, 2, res.Retransmits)
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestClientCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	addr := newPeer(t, func(p *peer) {
		p.send(appendData(nil, 1, bytes.Repeat([]byte("x"), 512)))
		p.expectACK(1)
		cancel()
		p.expectError(CodeNotDefined)
	})
	_, _, err := (&Client{Timeout: 10 * time.Second}).Get(ctx, addr, "f")
	require.ErrorIs(t, err, context.Canceled)
	var te *TransferError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, int64(512), te.Received)
}

func TestClientConfigErrors(t *testing.T) {
	for _, bs := range []int{-1, 7, MaxBlksize + 1} {
		t.Run(strconv.Itoa(bs), func(t *testing.T) {
			_, _, err := (&Client{Blksize: bs}).Get(t.Context(), "127.0.0.1:1", "f")
			assert.ErrorContains(t, err, "blksize")
		})
	}
	_, _, err := (&Client{}).Get(t.Context(), "127.0.0.1:1", "")
	assert.ErrorContains(t, err, "empty file name")
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestClientWriteError(t *testing.T) {
	addr := newPeer(t, func(p *peer) {
		p.send(appendData(nil, 1, []byte("abc")))
		p.expectError(CodeDiskFull)
	})
	_, err := fast().Fetch(t.Context(), addr, "f", errWriter{})
	assert.ErrorContains(t, err, "disk on fire")
}
