package tftp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Defaults of [Client].
const (
	DefaultRequestBlksize = 1428 // fits an Ethernet frame with IPv4/IPv6 and UDP headers
	DefaultTimeout        = time.Second
	DefaultRetries        = 4
	DefaultMaxSize        = 16 << 20
)

// Client reads files from TFTP servers (RFC 1350) with the option
// extension (RFC 2347) for the block size (RFC 2348), the transfer size and
// the timeout interval (RFC 2349). Only octet-mode reads are supported: a
// provisioning client has nothing to write.
//
// The zero Client is ready to use. A Client is safe for concurrent use and
// is not modified by its methods; each transfer uses its own socket.
type Client struct {
	// Blksize is the block size asked for; 0 means DefaultRequestBlksize.
	// It must be within [MinBlksize, MaxBlksize]. The server may choose a
	// smaller one, or ignore the option and use DefaultBlksize.
	Blksize int
	// NoOptions sends plain RFC 1350 requests: no blksize, tsize or timeout.
	NoOptions bool
	// Timeout is how long to wait for each reply before sending the last
	// packet again; 0 means DefaultTimeout. Whole seconds from 1 to 255 are
	// also asked of the server with the timeout option.
	Timeout time.Duration
	// Retries is how many times a packet is sent again before the transfer
	// fails with ErrTimeout; 0 means DefaultRetries, negative means none.
	Retries int
	// MaxSize is the largest file accepted, in bytes; 0 means
	// DefaultMaxSize. A larger announced size (tsize) or transfer is
	// aborted with ErrTooLarge.
	MaxSize int64
	// Logger receives Debug records of each transfer; nil means discard.
	Logger *slog.Logger
}

// Result describes a completed (or, with an error, partial) transfer.
type Result struct {
	Size        int64  // bytes written to the destination
	Blksize     int    // block size used
	TSize       int64  // size announced by the server (RFC 2349), -1 when it did not
	Retransmits int    // packets sent again after a timeout
	Peer        string // host:port the data came from (the server's transfer ID)
}

// Get reads the whole file named file from server (host:port) into memory.
// Errors are *[TransferError], wrapping an [*Error] from the server or
// [ErrTimeout], [ErrProtocol], [ErrTruncated], [ErrTooLarge], or ctx's error.
func (c *Client) Get(ctx context.Context, server, file string) ([]byte, Result, error) {
	var b bytes.Buffer
	res, err := c.Fetch(ctx, server, file, &b)
	if err != nil {
		return nil, res, err
	}
	return b.Bytes(), res, nil
}

// Fetch reads the file named file from server (host:port), writing it to w
// block by block. It blocks until the transfer ends or ctx is done; on
// cancellation it tells the server with an ERROR packet. On error w may
// have received part of the file. Errors are as for [Client.Get].
func (c *Client) Fetch(ctx context.Context, server, file string, w io.Writer) (Result, error) {
	t := &transfer{c: c, file: file, w: w, res: Result{TSize: -1}}
	err := t.run(ctx, server)
	if err != nil {
		return t.res, &TransferError{Server: server, File: file, Received: t.res.Size, Err: err}
	}
	return t.res, nil
}

func (c *Client) blksize() int {
	if c.Blksize == 0 {
		return DefaultRequestBlksize
	}
	return c.Blksize
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func (c *Client) retries() int {
	switch {
	case c.Retries == 0:
		return DefaultRetries
	case c.Retries < 0:
		return 0
	}
	return c.Retries
}

func (c *Client) maxSize() int64 {
	if c.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return c.MaxSize
}

// transfer is one read request's state.
type transfer struct {
	c    *Client
	file string
	w    io.Writer
	log  *slog.Logger
	res  Result

	conn   *net.UDPConn
	server netip.AddrPort // where requests go
	peer   netip.AddrPort // the server's transfer ID; invalid until it answers
	ack    [4]byte        // the last ACK, reused: a transfer allocates nothing per block
	last   []byte         // packet to send again on timeout
	opts   map[string]string
	tries  int

	blksize int    // in force
	expect  uint16 // next DATA block wanted
	oack    bool   // an OACK was received
}

func (t *transfer) run(ctx context.Context, server string) error {
	if bs := t.c.blksize(); bs < MinBlksize || bs > MaxBlksize {
		return fmt.Errorf("blksize %d out of range [%d, %d]", bs, MinBlksize, MaxBlksize)
	}
	if t.file == "" {
		return errors.New("empty file name")
	}
	t.log = t.c.Logger
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.log = t.log.With("server", server, "file", t.file)

	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", hostOf(server))
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("resolve %s: %w", server, err)
	}
	port, err := net.LookupPort("udp", portOf(server))
	if err != nil {
		return err
	}
	ip := addrs[0].Unmap()
	t.server = netip.AddrPortFrom(ip, uint16(port))
	laddr := &net.UDPAddr{}
	if ip.IsLoopback() {
		// Stay on the loopback interface when the server is there.
		laddr.IP = ip.AsSlice()
	}
	t.conn, err = net.ListenUDP("udp", laddr)
	if err != nil {
		return err
	}
	defer t.conn.Close()
	stop := context.AfterFunc(ctx, func() { t.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	err = t.get(ctx, !t.c.NoOptions)
	var se *Error
	if errors.As(err, &se) && se.Code == CodeOptionsRefused && !t.c.NoOptions && t.res.Size == 0 {
		// RFC 2347: a server refusing the options may be asked again without.
		t.log.Debug("tftp options refused, asking without", "message", se.Message)
		t.peer, t.oack = netip.AddrPort{}, false
		err = t.get(ctx, false)
	}
	if err != nil && ctx.Err() != nil {
		t.abort(CodeNotDefined, "transfer cancelled")
		return ctx.Err()
	}
	return err
}

func hostOf(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}

func portOf(hostport string) string {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil || p == "" {
		return "69"
	}
	return p
}

// get sends the read request and receives the file.
func (t *transfer) get(ctx context.Context, withOptions bool) error {
	t.opts = nil
	if withOptions {
		t.opts = map[string]string{
			"blksize": strconv.Itoa(t.c.blksize()),
			"tsize":   "0",
		}
		if d := t.c.timeout(); d >= time.Second && d <= 255*time.Second && d%time.Second == 0 {
			t.opts["timeout"] = strconv.Itoa(int(d / time.Second))
		}
	}
	t.blksize = DefaultBlksize
	t.expect = 1
	t.res.TSize = -1
	t.tries = 0
	if err := t.send(t.server, appendRequest(nil, opRRQ, t.file, "octet", t.opts)); err != nil {
		return err
	}
	buf := make([]byte, maxPacket+1)
	for {
		n, from, err := t.receive(ctx, buf)
		if err != nil {
			return err
		}
		if !t.peer.IsValid() {
			if from.Addr() != t.server.Addr() {
				continue // not from the server we asked
			}
			t.peer = from
			t.res.Peer = from.String()
		} else if from != t.peer {
			// RFC 1350 section 4: answer a stranger, keep the transfer.
			t.conn.WriteToUDPAddrPort(appendError(nil, CodeUnknownTransferID, "unknown transfer ID"), from)
			continue
		}
		p, err := parsePacket(buf[:n])
		if err != nil {
			t.abort(CodeIllegalOperation, "malformed packet")
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		done, err := t.handle(p)
		if err != nil || done {
			return err
		}
	}
}

// receive waits for a packet, sending the last one again on each timeout.
func (t *transfer) receive(ctx context.Context, buf []byte) (int, netip.AddrPort, error) {
	for {
		if err := ctx.Err(); err != nil {
			return 0, netip.AddrPort{}, err
		}
		t.conn.SetReadDeadline(time.Now().Add(t.c.timeout()))
		if ctx.Err() != nil { // the AfterFunc may have run before the line above
			return 0, netip.AddrPort{}, ctx.Err()
		}
		n, from, err := t.conn.ReadFromUDPAddrPort(buf)
		if err == nil {
			return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return 0, netip.AddrPort{}, err
		}
		if ctx.Err() != nil {
			return 0, netip.AddrPort{}, ctx.Err()
		}
		if t.tries >= t.c.retries() {
			if !t.peer.IsValid() {
				return 0, netip.AddrPort{}, fmt.Errorf("%w: no answer after %d requests %v apart", ErrTimeout, t.tries+1, t.c.timeout())
			}
			return 0, netip.AddrPort{}, fmt.Errorf("%w: waiting for block %d", ErrTimeout, t.expect)
		}
		t.tries++
		t.res.Retransmits++
		to := t.peer
		if !to.IsValid() {
			to = t.server
		}
		t.log.Debug("tftp retransmit", "try", t.tries, "block", t.expect)
		if _, err := t.conn.WriteToUDPAddrPort(t.last, to); err != nil {
			return 0, netip.AddrPort{}, err
		}
	}
}

// send sends pkt to addr and keeps it for retransmission.
func (t *transfer) send(addr netip.AddrPort, pkt []byte) error {
	t.last = pkt
	_, err := t.conn.WriteToUDPAddrPort(pkt, addr)
	return err
}

// abort tells the server the transfer is over, best effort.
func (t *transfer) abort(code uint16, msg string) {
	if t.peer.IsValid() {
		t.conn.WriteToUDPAddrPort(appendError(nil, code, msg), t.peer)
	}
}

// handle processes one packet from the peer and says whether the transfer
// is complete.
func (t *transfer) handle(p packet) (bool, error) {
	switch p.op {
	case opERROR:
		return false, &Error{Code: int(p.code), Message: p.msg}
	case opOACK:
		if t.opts == nil || t.expect != 1 {
			t.abort(CodeIllegalOperation, "unexpected OACK")
			return false, fmt.Errorf("%w: unexpected OACK", ErrProtocol)
		}
		if t.oack {
			// Our ACK 0 was lost; the server sent the OACK again.
			return false, t.send(t.peer, t.last)
		}
		if err := t.acceptOptions(p.options); err != nil {
			return false, err
		}
		t.oack = true
		t.tries = 0
		return false, t.send(t.peer, appendACK(t.ack[:0], 0))
	case opDATA:
		switch p.block {
		case t.expect:
		case t.expect - 1:
			// A duplicate: our ACK was lost. Acknowledge it again.
			if t.expect != 1 {
				return false, t.send(t.peer, t.last)
			}
			return false, nil
		default:
			return false, nil // stale or wild block; wait for the right one
		}
		if len(p.data) > t.blksize {
			t.abort(CodeIllegalOperation, "block larger than blksize")
			return false, fmt.Errorf("%w: block %d has %d bytes, blksize is %d", ErrProtocol, p.block, len(p.data), t.blksize)
		}
		if t.res.Size+int64(len(p.data)) > t.c.maxSize() {
			t.abort(CodeDiskFull, "file too large")
			return false, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, t.c.maxSize())
		}
		if t.res.TSize >= 0 && t.res.Size+int64(len(p.data)) > t.res.TSize {
			t.abort(CodeIllegalOperation, "more data than tsize")
			return false, fmt.Errorf("%w: more than the %d bytes announced", ErrProtocol, t.res.TSize)
		}
		if _, err := t.w.Write(p.data); err != nil {
			t.abort(CodeDiskFull, "write failed")
			return false, err
		}
		t.res.Size += int64(len(p.data))
		t.res.Blksize = t.blksize
		t.tries = 0
		if err := t.send(t.peer, appendACK(t.ack[:0], p.block)); err != nil {
			return false, err
		}
		t.expect++ // wraps to 0 after 65535, as most servers do
		if len(p.data) < t.blksize {
			if t.res.TSize >= 0 && t.res.Size != t.res.TSize {
				return false, fmt.Errorf("%w: %d of %d bytes announced", ErrTruncated, t.res.Size, t.res.TSize)
			}
			t.log.Debug("tftp transfer complete", "bytes", t.res.Size, "blksize", t.blksize, "retransmits", t.res.Retransmits)
			return true, nil
		}
		return false, nil
	default:
		t.abort(CodeIllegalOperation, "unexpected opcode")
		return false, fmt.Errorf("%w: unexpected opcode %d", ErrProtocol, p.op)
	}
}

// acceptOptions checks an OACK against what was asked (RFC 2347: the
// server may only acknowledge options the client sent).
func (t *transfer) acceptOptions(got map[string]string) error {
	fail := func(format string, args ...any) error {
		t.abort(CodeOptionsRefused, "bad option acknowledgement")
		return fmt.Errorf("%w: OACK: %s", ErrProtocol, fmt.Sprintf(format, args...))
	}
	for k, v := range got {
		asked, ok := t.opts[k]
		if !ok {
			return fail("option %q was not asked for", k)
		}
		switch k {
		case "blksize":
			max, _ := strconv.ParseInt(asked, 10, 64)
			n, err := parseOptionInt(k, v, MinBlksize, max)
			if err != nil {
				return fail("%v", err)
			}
			t.blksize = int(n)
		case "tsize":
			n, err := parseOptionInt(k, v, 0, math.MaxInt64)
			if err != nil {
				return fail("%v", err)
			}
			if n > t.c.maxSize() {
				t.abort(CodeDiskFull, "file too large")
				return fmt.Errorf("%w: server announced %d bytes, limit %d", ErrTooLarge, n, t.c.maxSize())
			}
			t.res.TSize = n
		case "timeout":
			if v != asked {
				return fail("timeout %q, asked %q", v, asked)
			}
		}
	}
	t.res.Blksize = t.blksize
	return nil
}
