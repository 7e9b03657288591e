package softphone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/opencsf/opencsf/softphone/internal/stun"
)

// The UDP flow to the registrar: STUN keep-alives (RFC 5626 section
// 4.4.2), the address the registrar sees us at, and the datagrams sipgo's
// parser would drop without a word.

// defaultUDPKeepAlive is the STUN keep-alive interval on UDP: NATs and
// firewalls commonly forget a UDP binding after 30 s of silence.
const defaultUDPKeepAlive = 25 * time.Second

// readFilter sees every datagram and stream chunk before sipgo parses it.
// On UDP it takes STUN responses (they share the SIP socket, RFC 5626
// section 4.4.2) and answers 400 to requests whose body is shorter than
// their Content-Length, which sipgo's parser drops silently (RFC 3261
// section 18.3: the UAS SHOULD answer 400). It never returns an error:
// that would stop sipgo reading the socket.
func (p *Phone) readFilter(props sip.TransportReadProps, data []byte) ([]byte, error) {
	if props.Transport != "UDP" {
		return data, nil
	}
	if stun.Is(data) {
		p.stunReceived(data)
		return nil, nil
	}
	if declared, got, short := shortBody(data); short {
		p.badLength(props.LocalAddr, props.RemoteAddr, data, declared, got)
		return nil, nil
	}
	return data, nil
}

// shortBody reports a datagram whose Content-Length (or its compact form
// l) claims more body than it carries. It looks at raw bytes only, so that
// the common case costs a scan of the headers, not a second parse.
func shortBody(data []byte) (declared, got int, short bool) {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, 0, false
	}
	got = len(data) - end - 4
	// Bytes, not a string of the headers: this runs on every datagram.
	for line := range bytes.SplitSeq(data[:end], []byte("\r\n")) {
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if !bytes.EqualFold(name, []byte("Content-Length")) && !bytes.EqualFold(name, []byte("l")) {
			continue
		}
		n, err := strconv.Atoi(string(bytes.TrimSpace(val)))
		if err != nil {
			return 0, 0, false // sipgo's parser reports that one
		}
		return n, got, n > got
	}
	return 0, got, false
}

// badLength answers 400 to a request cut short, when its headers are
// enough to build a response; a short response is only dropped (RFC 3261
// section 18.3).
func (p *Phone) badLength(local, from net.Addr, data []byte, declared, got int) {
	p.count("bad_messages")
	end := bytes.Index(data, []byte("\r\n\r\n"))
	msg, _, err := p.parser.ParseHeaders(data[:end+4], false)
	req, isReq := msg.(*sip.Request)
	if err != nil || !isReq || req.Method == sip.ACK || req.Via() == nil || req.From() == nil ||
		req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		p.log.Warn("dropped a message shorter than its Content-Length", "from", from.String(), "declared", declared, "got", got)
		return
	}
	res := sip.NewResponseFromRequest(req, 400, "Bad Request", nil)
	res.AppendHeader(sip.NewHeader("Warning", fmt.Sprintf(`399 opencsf "Content-Length %d but %d body bytes"`, declared, got)))
	p.log.Warn("answered 400 to a request shorter than its Content-Length", logMethod, req.Method.String(),
		logCallID, req.CallID().Value(), "from", from.String(), "declared", declared, "got", got)
	// Back to the source address, as rport would (RFC 3581): the request
	// is not passed to sipgo, so no transaction answers it.
	if u := p.udpAt(local); u != nil {
		_, _ = u.WriteTo([]byte(res.String()), from)
	}
}

// udpAt returns our SIP socket at local: the current one or one we moved
// from.
func (p *Phone) udpAt(local net.Addr) net.PacketConn {
	if f := p.flow.Load(); f != nil && f.udp != nil && f.udp.LocalAddr().String() == local.String() {
		return f.udp
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.oldUDP {
		if c.LocalAddr().String() == local.String() {
			return c
		}
	}
	return nil
}

// stunReceived hands a Binding response to the keep-alive waiting for it.
func (p *Phone) stunReceived(data []byte) {
	r, err := stun.Parse(data)
	if err != nil && !errors.Is(err, stun.ErrFailed) {
		return
	}
	p.stunMu.Lock()
	ch := p.stunWait[r.ID]
	delete(p.stunWait, r.ID)
	p.stunMu.Unlock()
	if ch != nil {
		ch <- stunResult{mapped: r.Mapped, err: err}
	}
}

type stunResult struct {
	mapped netip.AddrPort
	err    error
}

// stunRetransmits are the waits after each Binding request sent: 0.5 s
// doubling (RFC 5389 section 7.2.1), four sends, 7.5 s in all.
var stunRetransmits = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}

// stunPing sends a Binding request to the registrar on the SIP socket and
// returns the address the registrar saw it come from.
func (p *Phone) stunPing(ctx context.Context) (netip.AddrPort, error) {
	raddr, err := net.ResolveUDPAddr("udp", p.cfg.Registrar)
	if err != nil {
		return netip.AddrPort{}, err
	}
	id := stun.NewTxID()
	ch := make(chan stunResult, 1)
	p.stunMu.Lock()
	p.stunWait[id] = ch
	p.stunMu.Unlock()
	defer func() {
		p.stunMu.Lock()
		delete(p.stunWait, id)
		p.stunMu.Unlock()
	}()
	req := stun.BindingRequest(id)
	conn := p.flow.Load().udp
	for _, wait := range stunRetransmits {
		if _, err := conn.WriteTo(req, raddr); err != nil {
			return netip.AddrPort{}, fmt.Errorf("softphone: STUN keep-alive: %w", err)
		}
		t := time.NewTimer(wait)
		select {
		case r := <-ch:
			t.Stop()
			return r.mapped, r.err
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return netip.AddrPort{}, ctx.Err()
		}
	}
	return netip.AddrPort{}, fmt.Errorf("softphone: STUN keep-alive to %s: %w", p.cfg.Registrar, ErrTimeout)
}

// flowCheck is the outcome of one keep-alive on the flow to the registrar.
type flowCheck struct {
	ok     bool           // the flow is up
	mapped netip.AddrPort // UDP: where the registrar sees us, when it answered STUN
	reason string         // why the flow counts as failed
}

// checkUDPFlow sends a STUN keep-alive. A registrar that never answered
// STUN gets a CRLF instead (it keeps a NAT binding open, though RFC 5626
// defines CRLF keep-alives for streams only), and its silence is not taken
// for a failure; once it has answered, silence is one.
func (p *Phone) checkUDPFlow(stunSeen bool) flowCheck {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	mapped, err := p.stunPing(ctx)
	switch {
	case err == nil:
		return flowCheck{ok: true, mapped: mapped}
	case p.ctx.Err() != nil:
		return flowCheck{ok: true}
	case !stunSeen:
		if raddr, rerr := net.ResolveUDPAddr("udp", p.cfg.Registrar); rerr == nil {
			_, _ = p.flow.Load().udp.WriteTo([]byte("\r\n\r\n"), raddr)
		}
		return flowCheck{ok: true}
	default:
		return flowCheck{reason: err.Error()}
	}
}

// newRoute returns the local address the system now routes to the
// registrar from when it is not the one in use (another interface, a new
// address), else "". Config.ListenIP pins the address: then always "".
func (p *Phone) newRoute() string {
	if p.cfg.ListenIP != "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(p.ctx, time.Second)
	defer cancel()
	ip, err := localIPFor(ctx, p.cfg.Registrar)
	if err != nil || ip == p.localIP() {
		return ""
	}
	return ip
}

// moveTo makes ip the phone's local address: a new SIP socket (UDP) or
// local port (TCP, TLS) there and a client bound to it. Calls placed or
// received from now on use it, and each registered line's old contact is
// removed by its next REGISTER, which the caller starts at once. Calls in
// progress follow once the caller runs moveCalls; the old UDP socket stays
// open until Close for requests the far ends still send to it meanwhile.
func (p *Phone) moveTo(ctx context.Context, ip string) error {
	old := p.flow.Load()
	f, err := p.bind(ctx, ip)
	if err != nil {
		if f != nil && f.udp != nil {
			f.udp.Close()
		}
		return err
	}
	p.mu.Lock()
	for _, l := range p.lines {
		if l.reg.registered && l.reg.stale == nil {
			u := p.contactURIAt(old, l)
			l.reg.stale = &u
		}
	}
	if old.udp != nil {
		p.oldUDP = append(p.oldUDP, old.udp)
	}
	p.mu.Unlock()
	p.flow.Store(f)
	return nil
}
