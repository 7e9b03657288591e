package softphone

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/softphone/audio"
)

// CallState is a step of a call's state machine:
//
//	outgoing: Dialing → Ringing → (EarlyMedia →) Active ⇄ Held/RemoteHeld → Ended
//	incoming: Incoming → Active ⇄ Held/RemoteHeld → Ended
//
// Any state may go to Ended.
type CallState int

// Call states.
const (
	CallDialing    CallState = iota // INVITE sent, nothing heard yet
	CallRinging                     // the far end rings (180)
	CallEarlyMedia                  // the far end sends early media (183)
	CallIncoming                    // an incoming call rings here
	CallActive                      // answered, media both ways
	CallHeld                        // we put the call on hold
	CallRemoteHeld                  // the far end put the call on hold
	CallEnded                       // over; see Call.Err
)

var callStateNames = [...]string{"dialing", "ringing", "early media", "incoming", "active", "held", "held by remote", "ended"}

func (s CallState) String() string {
	if int(s) < len(callStateNames) {
		return callStateNames[s]
	}
	return "unknown"
}

// Direction says who placed a call.
type Direction int

// Directions.
const (
	Outgoing Direction = iota
	Incoming
)

func (d Direction) String() string {
	if d == Incoming {
		return "incoming"
	}
	return "outgoing"
}

// CallOptions are per-call choices; nil means defaults.
type CallOptions struct {
	// Source is what we send; nil means silence.
	Source audio.Source
	// Sink receives what the far end sends; nil means discard.
	Sink audio.Sink
	// Line picks the line an outgoing call is placed from, by user name or
	// address of record; empty means the first line (Config.Account).
	Line string
}

// Call is one call, outgoing ([Phone.Dial]) or incoming ([CallReceived]).
// Its methods are safe for concurrent use.
type Call struct {
	p      *Phone
	line   *line
	id     string // Call-ID
	dir    Direction
	remote string
	stream *stream

	mu          sync.Mutex // guards the fields below
	state       CallState
	err         error
	dlg         dialog
	answer      chan answerDecision // incoming, before the answer
	local       localMedia
	remoteMedia *remoteMedia
	ending      bool
	moving      bool // a goroutine is moving the call's media (move.go)
	// offering: a goroutine has the call's offer turn (glare.go); pending:
	// our offer is sent and not yet answered; answering: we are answering
	// the far end's offer (onReinvite). All in the padding before started,
	// so that the call does not grow.
	offering    bool
	pending     bool
	answering   bool
	started     time.Time
	answered    time.Time
	referResult chan int // a transfer we asked for waits here for the final NOTIFY

	sessionTimer *time.Timer // RFC 4028
	seInterval   time.Duration
	seRefresher  bool   // we refresh
	moveGen      uint32 // counts the phone's moves this call was asked to follow (move.go); beside the bool, in its padding
	refreshes    int

	done chan struct{} // closed when the call ends
}

type answerDecision struct {
	code int
	opts *CallOptions
	res  chan error
}

// dialog is the SIP dialog state (RFC 3261 section 12). The URIs are kept
// as their text, not as sip.Uri values: a parsed URI is three times the
// size and holds on to the received header it came from, for every active
// call, while only the rare in-dialog request needs them parsed (see uri).
type dialog struct {
	localURI, remoteURI string
	localTag, remoteTag string
	remoteTarget        string
	routeSet            []string
	localSeq            uint32
	inviteSeq           uint32
	// peerUpdate: the far end listed UPDATE in Allow (RFC 3311 section
	// 5.1), so session refreshes and, with Config.MediaByUpdate, offers
	// may go as UPDATE.
	peerUpdate bool
}

// ID returns the call's SIP Call-ID.
func (c *Call) ID() string { return c.id }

// Direction says who placed the call.
func (c *Call) Direction() Direction { return c.dir }

// Remote returns the far end's address (sip:bob@example.test).
func (c *Call) Remote() string { return c.remote }

// State returns the call's current state.
func (c *Call) State() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Err returns why the call ended: nil for a normal hang-up by either side
// or while the call goes on, a *StatusError for a refused call.
func (c *Call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stats returns the media quality figures so far.
func (c *Call) Stats() Stats {
	if c.stream == nil {
		return Stats{}
	}
	st := c.stream.snapshot()
	st.LocalAddr, st.RemoteAddr = c.stream.addrs()
	return st
}

// Duration returns how long the call has been answered, 0 before.
func (c *Call) Duration() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answered.IsZero() {
		return 0
	}
	return time.Since(c.answered)
}

func (c *Call) setState(s CallState, err error) {
	c.mu.Lock()
	prev := c.state
	if prev == s || prev == CallEnded {
		c.mu.Unlock()
		return
	}
	c.state = s
	if s == CallActive && c.answered.IsZero() {
		c.answered = time.Now()
	}
	c.mu.Unlock()
	c.p.log.Debug("call state", logCallID, c.id, "from", prev.String(), "to", s.String())
	csf.Publish(c.p.cfg.Events, CallStateChanged{Call: c, From: prev, State: s, Err: err})
}

// end moves the call to Ended, frees its media and, when bye is true and
// the call was answered, sends BYE first.
func (c *Call) end(err error, bye bool) {
	c.mu.Lock()
	if c.state == CallEnded || c.ending {
		c.mu.Unlock()
		return
	}
	c.ending = true
	c.err = err
	if c.sessionTimer != nil {
		c.sessionTimer.Stop()
	}
	c.mu.Unlock()
	if c.stream != nil {
		c.stream.close(c.p.media)
	}
	c.p.mu.Lock()
	delete(c.p.calls, c.id)
	c.p.mu.Unlock()
	c.mu.Lock()
	prev := c.state
	c.state = CallEnded
	c.mu.Unlock()
	c.p.log.Info("call ended", logCallID, c.id, "err", err)
	csf.Publish(c.p.cfg.Events, CallStateChanged{Call: c, From: prev, State: CallEnded, Err: err})
	close(c.done)
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// Dial calls to ("bob", "bob@example.test" or a SIP URI) and returns once
// the far end answered. Cancelling ctx before the answer sends CANCEL
// (RFC 3261 section 9). A refusal gives a *StatusError (486 Busy Here, 603
// Decline…); 3xx redirects are followed up to three times. opts nil means
// silence out, received audio discarded.
func (p *Phone) Dial(ctx context.Context, to string, opts *CallOptions) (*Call, error) {
	return p.dial(ctx, to, opts, "")
}

// dial places a call; replaces, when set, is the Replaces header value of
// an attended transfer.
func (p *Phone) dial(ctx context.Context, to string, opts *CallOptions, replaces string) (*Call, error) {
	if opts == nil {
		opts = &CallOptions{}
	}
	l, ok := p.lineFor(opts.Line)
	if !ok {
		return nil, fmt.Errorf("softphone: dial: no line %q", opts.Line)
	}
	p.mu.Lock()
	closed, registered, stopping := p.closed, l.reg.registered, p.shutdowns
	p.mu.Unlock()
	if closed || stopping {
		return nil, fmt.Errorf("softphone: dial: %w", net.ErrClosed)
	}
	if p.flow.Load() == nil || (!registered && !p.cfg.NoRegister) {
		return nil, fmt.Errorf("softphone: dial %s: %w", to, ErrNotRegistered)
	}
	target, err := p.parseURI(to)
	if err != nil {
		return nil, err
	}
	cs := new(callWithStream)
	c := &cs.call
	id, remote := packPair(sip.GenerateTagN(24), target.String())
	*c = Call{p: p, line: l, id: id, dir: Outgoing, remote: remote, state: CallDialing,
		done: make(chan struct{}), started: time.Now()}
	ip := p.localIP()
	if err = initStream(&cs.stream, c, ip); err != nil {
		return nil, err
	}
	c.stream = &cs.stream
	c.stream.setIO(opts.Source, opts.Sink)
	c.local = localMedia{sessionID: uint64(randUint32()), version: 1, ip: ip, port: int(c.stream.localPort),
		codecs: p.codecs, dtmfPT: dtmfPT, dir: sendrecv, ssrc: c.stream.ssrc, rtcpMux: c.stream.shared()}
	if p.cfg.NoDTMFEvents {
		c.local.dtmfPT = -1
	}
	if p.useSRTP() {
		cr, err := newCrypto(1, "AES_CM_128_HMAC_SHA1_80")
		if err != nil {
			return nil, err
		}
		c.local.crypto = &cr
	}
	p.mu.Lock()
	p.calls[c.id] = c
	p.mu.Unlock()
	csf.Publish(p.cfg.Events, CallStateChanged{Call: c, From: CallDialing, State: CallDialing})
	p.count("calls_outgoing")

	res, req, err := c.invite(ctx, target, replaces)
	if err != nil {
		c.end(err, false)
		return nil, err
	}
	if err := c.established(req, res); err != nil {
		c.sendBye(context.WithoutCancel(ctx))
		c.end(err, false)
		return nil, err
	}
	return c, nil
}

// invite runs the INVITE transaction(s) until a 2xx, following
// authentication challenges and redirects.
func (c *Call) invite(ctx context.Context, target sip.Uri, replaces string) (*sip.Response, *sip.Request, error) {
	p := c.p
	req := p.newRequest(c.line, sip.INVITE, target)
	if replaces != "" {
		req.AppendHeader(sip.NewHeader("Replaces", replaces))
	}
	cid := sip.CallIDHeader(c.id)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(p.contactHeader(c.line))
	req.AppendHeader(sip.NewHeader("Allow", allowed))
	if se := p.sessionInterval(); se > 0 {
		req.AppendHeader(sip.NewHeader("Supported", "timer, replaces"))
		req.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(se/time.Second))))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.local.marshal())
	ringCtx, cancel := context.WithTimeout(ctx, p.cfg.RingTimeout)
	defer cancel()
	authTried, redirects, tooSmallTried := false, 0, false
	for {
		res, err := c.inviteOnce(ringCtx, req)
		if err != nil {
			if ctx.Err() == nil && ringCtx.Err() != nil {
				err = fmt.Errorf("softphone: call %s: no answer in %v: %w", target.String(), p.cfg.RingTimeout, ErrTimeout)
			}
			return nil, nil, err
		}
		switch {
		case res.IsSuccess():
			return res, req, nil
		case (res.StatusCode == 401 || res.StatusCode == 407) && c.line.acct.Password != "" && (!authTried || challengeStale(res)):
			authTried = true
			if err := p.authorize(c.line, req, res); err != nil {
				return nil, nil, err
			}
		case res.StatusCode == 422 && res.GetHeader("Min-SE") != nil && !tooSmallTried:
			// Session Interval Too Small: ask for the far end's minimum.
			tooSmallTried = true
			v, _, _ := strings.Cut(res.GetHeader("Min-SE").Value(), ";")
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				req.RemoveHeader("Session-Expires")
				req.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(n)))
				req.AppendHeader(sip.NewHeader("Min-SE", strconv.Itoa(n)))
			}
			req.RemoveHeader("Via")
			req.CSeq().SeqNo++
		case res.StatusCode >= 300 && res.StatusCode < 400 && redirects < 3:
			ct := res.Contact()
			if ct == nil {
				return nil, nil, statusError("INVITE", res, nil)
			}
			redirects++
			p.log.Info("call redirected", logCallID, c.id, "to", ct.Address.String())
			req.Recipient = *ct.Address.Clone()
			req.RemoveHeader("Via")
			req.CSeq().SeqNo++
			c.remote = ct.Address.String()
		case res.StatusCode == 401 || res.StatusCode == 407:
			return nil, nil, statusError("INVITE", res, ErrAuthFailed)
		default:
			return nil, nil, statusError("INVITE", res, nil)
		}
	}
}

// inviteOnce sends one INVITE and waits for its final response, sending
// CANCEL if ctx ends first.
func (c *Call) inviteOnce(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	p := c.p
	tx, err := p.client().TransactionRequest(ctx, req)
	if err != nil {
		return nil, p.classify(fmt.Errorf("softphone: INVITE: %w", err))
	}
	defer tx.Terminate()
	provisional := false
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				provisional = provisional || res.StatusCode > 100
				c.provisional(res)
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); errors.Is(err, sip.ErrTransactionTimeout) {
				return nil, fmt.Errorf("softphone: INVITE: %w", ErrTimeout)
			} else if err != nil {
				return nil, fmt.Errorf("softphone: INVITE: %w", err)
			}
			return nil, errors.New("softphone: INVITE: transaction ended without a final response")
		case <-ctx.Done():
			return nil, c.cancelInvite(ctx, req, tx, provisional)
		}
	}
}

// cancelInvite sends CANCEL (RFC 3261 section 9.1: only after a
// provisional response) and waits briefly for the 487.
func (c *Call) cancelInvite(ctx context.Context, req *sip.Request, tx sip.ClientTransaction, provisional bool) error {
	cause := context.Cause(ctx)
	wait := time.NewTimer(4 * time.Second)
	defer wait.Stop()
	for !provisional {
		select {
		case res := <-tx.Responses():
			if !res.IsProvisional() {
				if res.IsSuccess() {
					// Answered as we gave up: take the call down properly.
					c.cancelledAnswered(req, res)
				}
				return cause
			}
			provisional = res.StatusCode >= 100
		case <-tx.Done():
			return cause
		case <-wait.C:
			return cause
		}
	}
	cancel := sip.NewRequest(sip.CANCEL, req.Recipient)
	cancel.AppendHeader(sip.HeaderClone(req.Via()))
	for _, h := range req.GetHeaders("Route") {
		cancel.AppendHeader(sip.HeaderClone(h))
	}
	cancel.AppendHeader(sip.HeaderClone(req.From()))
	cancel.AppendHeader(sip.HeaderClone(req.To()))
	cancel.AppendHeader(sip.HeaderClone(req.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&mf)
	cancel.SetTransport(req.Transport())
	cancel.SetDestination(req.Destination())
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 4*time.Second)
	defer ccancel()
	ctx2 := cctx
	if ctx2 == nil {
		ctx2 = c.p.ctx
	}
	ctx2, ccancel2 := context.WithCancel(ctx2)
	defer ccancel2()
	// Send CANCEL as built: no header rewriting.
	if ctx, err := c.p.client().TransactionRequest(ctx2, cancel, func(*sipgo.Client, *sip.Request) error { return nil }); err == nil {
		defer ctx.Terminate()
	}
	for {
		select {
		case res := <-tx.Responses():
			if res.IsSuccess() {
				c.cancelledAnswered(req, res)
				return cause
			}
			if !res.IsProvisional() {
				return cause
			}
		case <-tx.Done():
			return cause
		case <-wait.C:
			return cause
		}
	}
}

// cancelledAnswered acknowledges and ends a call answered just as we
// cancelled it.
func (c *Call) cancelledAnswered(req *sip.Request, res *sip.Response) {
	c.setDialogUAC(req, res)
	c.sendAck()
	c.sendBye(c.p.ctx)
}

// provisional handles 180 and 183 (early media when it carries SDP).
func (c *Call) provisional(res *sip.Response) {
	switch {
	case res.StatusCode == 180:
		c.setState(CallRinging, nil)
	case res.StatusCode == 183 && len(res.Body()) > 0:
		rm, err := parseSDP(res.Body())
		if err != nil {
			return
		}
		cd, err := choose(rm, c.local.codecs)
		if err != nil {
			return
		}
		if c.applyAnswerCrypto(rm) != nil {
			return
		}
		c.stream.configure(rm, cd, rm.dir.answer(sendrecv))
		c.stream.start(c.p.media)
		c.setState(CallEarlyMedia, nil)
	case res.StatusCode > 100:
		c.setState(CallRinging, nil)
	}
}

// setDialogUAC makes the dialog from our INVITE and the 2xx (RFC 3261
// section 12.1.2).
func (c *Call) setDialogUAC(req *sip.Request, res *sip.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dlg.localURI = req.From().Address.String()
	c.dlg.localTag = keepParam(req.From().Params, "tag")
	c.dlg.remoteURI = req.To().Address.String()
	if to := res.To(); to != nil {
		c.dlg.remoteTag = keepParam(to.Params, "tag")
	}
	if ct := res.Contact(); ct != nil {
		c.dlg.remoteTarget = ct.Address.String()
	} else {
		c.dlg.remoteTarget = req.Recipient.String()
	}
	rr := res.GetHeaders("Record-Route")
	c.dlg.routeSet = nil
	for i := len(rr) - 1; i >= 0; i-- {
		if h, ok := rr[i].(*sip.RecordRouteHeader); ok {
			c.dlg.routeSet = append(c.dlg.routeSet, h.Address.String())
		}
	}
	c.dlg.localSeq = req.CSeq().SeqNo
	c.dlg.inviteSeq = req.CSeq().SeqNo
	c.dlg.peerUpdate = allowsUpdate(res)
	c.dlg.pack()
}

// packPair returns a and b sharing one allocation (see dialog.pack).
func packPair(a, b string) (string, string) {
	ab := a + b
	return ab[:len(a)], ab[len(a):]
}

// pack puts the dialog's strings into one allocation. They are kept for
// the whole call, and one object holds less of the heap than six small
// ones each pinning a span among the freed SIP messages that set the call
// up.
func (d *dialog) pack() {
	fields := [...]*string{&d.localURI, &d.remoteURI, &d.remoteTarget, &d.localTag, &d.remoteTag}
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	for _, r := range d.routeSet {
		n += len(r)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(*f)
	}
	for _, r := range d.routeSet {
		b.WriteString(r)
	}
	all, off := b.String(), 0
	next := func(l int) string {
		s := all[off : off+l]
		off += l
		return s
	}
	for _, f := range fields {
		*f = next(len(*f))
	}
	for i, r := range d.routeSet {
		d.routeSet[i] = next(len(r))
	}
}

// allowsUpdate reports whether a message's Allow lists UPDATE.
func allowsUpdate(m sip.Message) bool {
	for _, h := range m.GetHeaders("Allow") {
		for method := range strings.SplitSeq(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(method), "UPDATE") {
				return true
			}
		}
	}
	return false
}

// established completes an answered outgoing call: dialog, ACK, media.
func (c *Call) established(req *sip.Request, res *sip.Response) error {
	c.setDialogUAC(req, res)
	rm, err := parseSDP(res.Body())
	if err != nil {
		c.sendAck()
		return fmt.Errorf("softphone: answer to %s: %w", c.remote, err)
	}
	cd, err := choose(rm, c.local.codecs)
	if err != nil {
		c.sendAck()
		return fmt.Errorf("softphone: answer to %s: %w", c.remote, err)
	}
	if err := c.applyAnswerCrypto(rm); err != nil {
		c.sendAck()
		return fmt.Errorf("softphone: answer to %s: %w", c.remote, err)
	}
	c.mu.Lock()
	c.remoteMedia = rm
	c.mu.Unlock()
	c.stream.configure(rm, cd, rm.dir.answer(sendrecv))
	// Active before the ACK leaves: the far end may send a re-INVITE or
	// UPDATE the moment it has it.
	c.setState(CallActive, nil)
	c.sendAck()
	c.stream.start(c.p.media)
	// RFC 4028 section 7.2: with Session-Expires in the 2xx the refresher
	// is as it says; without it the far end does not do timers and we
	// refresh ourselves only if we asked for them.
	if se, who, ok := sessionExpires(res.GetHeader("Session-Expires")); ok {
		c.armSessionTimer(se, who != "uas")
	}
	return nil
}

// useSRTP says whether we offer SRTP.
func (p *Phone) useSRTP() bool {
	return p.cfg.SRTP == SRTPRequired || p.cfg.SRTP == SRTPAuto && p.cfg.Transport == "tls"
}

// applyAnswerCrypto keys the stream from an answer to our offer: an offer
// of RTP/SAVP must be answered with RTP/SAVP and the crypto tag we sent
// (RFC 4568 section 5.1.3).
func (c *Call) applyAnswerCrypto(rm *remoteMedia) error {
	c.mu.Lock()
	local := c.local.crypto
	c.mu.Unlock()
	if local == nil {
		if rm.savp {
			return fmt.Errorf("%w: RTP/SAVP answer to an RTP/AVP offer", ErrBadSDP)
		}
		return nil
	}
	if !rm.savp {
		return fmt.Errorf("%w: the far end refused SRTP", ErrBadSDP)
	}
	for _, rc := range rm.cryptos {
		if rc.tag == local.tag && rc.suite == local.suite && len(rc.key) == 30 {
			return c.stream.setSRTP(*local, rc)
		}
	}
	return fmt.Errorf("%w: no usable crypto attribute in the answer", ErrBadSDP)
}

// inDialog makes a request within the dialog (RFC 3261 section 12.2.1.1).
func (c *Call) inDialog(method sip.RequestMethod) *sip.Request {
	c.mu.Lock()
	d := c.dlg
	if method != sip.ACK {
		c.dlg.localSeq++
		d.localSeq = c.dlg.localSeq
	}
	c.mu.Unlock()
	target := uri(d.remoteTarget)
	req := sip.NewRequest(method, target)
	from := &sip.FromHeader{Address: uri(d.localURI), Params: sip.NewParams()}
	from.Params.Add("tag", d.localTag)
	to := &sip.ToHeader{Address: uri(d.remoteURI), Params: sip.NewParams()}
	if d.remoteTag != "" {
		to.Params.Add("tag", d.remoteTag)
	}
	req.AppendHeader(from)
	req.AppendHeader(to)
	cid := sip.CallIDHeader(c.id)
	req.AppendHeader(&cid)
	seq := d.localSeq
	if method == sip.ACK {
		seq = d.inviteSeq
	}
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	for _, r := range d.routeSet {
		req.AppendHeader(&sip.RouteHeader{Address: uri(r)})
	}
	req.AppendHeader(c.p.contactHeader(c.line))
	req.AppendHeader(sip.NewHeader("User-Agent", c.p.cfg.UserAgent))
	req.SetTransport(c.p.tp)
	if len(d.routeSet) == 0 {
		req.SetDestination(hostPort(target, c.p.tp))
	}
	return req
}

// uri parses a URI the dialog kept as text. It was written by
// sip.Uri.String from a parsed URI, so it parses again; a failure would
// leave the zero Uri, which the request then fails on visibly.
func uri(s string) sip.Uri {
	var u sip.Uri
	_ = sip.ParseUri(s, &u)
	return u
}

// keepParam is a header parameter's value copied out of the message, so
// that keeping it does not keep the whole header alive.
func keepParam(p sip.HeaderParams, name string) string {
	v, _ := p.Get(name)
	return strings.Clone(v)
}

func hostPort(u sip.Uri, tp string) string {
	port := u.Port
	if port == 0 {
		port = 5060
		if tp == "TLS" || u.Scheme == "sips" {
			port = 5061
		}
	}
	return u.Host + ":" + strconv.Itoa(port)
}

func (c *Call) sendAck() {
	ack := c.inDialog(sip.ACK)
	if err := c.p.client().WriteRequest(ack); err != nil {
		c.p.log.Warn("ACK not sent", logCallID, c.id, "err", err)
	}
}

func (c *Call) sendBye(ctx context.Context) error {
	bye := c.inDialog(sip.BYE)
	ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	res, err := c.p.transact(ctx, bye, nil)
	if err != nil {
		return fmt.Errorf("softphone: hang up %s: %w", c.remote, err)
	}
	if !res.IsSuccess() && res.StatusCode != 481 {
		return fmt.Errorf("softphone: hang up %s: %w", c.remote, statusError("BYE", res, nil))
	}
	return nil
}

// Hangup ends the call: BYE when answered, a decline (603) for an
// incoming call still ringing. It returns once the far end confirmed or
// ctx ended; the call is over either way. A call already over gives
// [ErrCallEnded].
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	state, ending, answer := c.state, c.ending, c.answer
	c.mu.Unlock()
	if state == CallEnded || ending {
		return ErrCallEnded
	}
	if state == CallIncoming && answer != nil {
		return c.Reject(ctx, 603)
	}
	err := c.sendBye(ctx)
	c.end(nil, false)
	return err
}

// Hold puts the call on hold with an offer of sendonly (RFC 3264 section
// 8.4); the far end stops sending. The offer goes in a re-INVITE, or in
// UPDATE with Config.MediaByUpdate when the far end allows it.
func (c *Call) Hold(ctx context.Context) error {
	return c.offer(ctx, c.offerMethod(), offerHold)
}

// Resume takes the call off hold (sendrecv again), as Hold sends its offer.
func (c *Call) Resume(ctx context.Context) error {
	return c.offer(ctx, c.offerMethod(), offerResume)
}

// offerMethod is how Hold and Resume send their offer.
func (c *Call) offerMethod() sip.RequestMethod {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p.cfg.MediaByUpdate && c.dlg.peerUpdate {
		return sip.UPDATE
	}
	return sip.INVITE
}

// Update sends the call's current media as a new offer in UPDATE (RFC
// 3311), as after a change of address or codec, keeping the call's state.
// It fails with ErrBadState when the far end did not list UPDATE in Allow.
func (c *Call) Update(ctx context.Context) error {
	c.mu.Lock()
	allowed := c.dlg.peerUpdate
	c.mu.Unlock()
	if !allowed {
		return fmt.Errorf("softphone: UPDATE: the far end does not allow it: %w", ErrBadState)
	}
	return c.offer(ctx, sip.UPDATE, offerKeep)
}

// Refresh refreshes the session now (RFC 4028), as the session timer
// does: UPDATE without a body when the far end allows UPDATE (section
// 7.4: no offer, no ACK), else a re-INVITE with the current offer. Both
// sides restart their session timers.
func (c *Call) Refresh(ctx context.Context) error {
	c.mu.Lock()
	byUpdate := c.dlg.peerUpdate
	c.mu.Unlock()
	var err error
	if byUpdate {
		err = c.refreshByUpdate(ctx)
	} else {
		err = c.offer(ctx, sip.INVITE, offerKeep)
	}
	if err == nil {
		c.mu.Lock()
		c.refreshes++
		c.mu.Unlock()
	}
	return err
}

// refreshByUpdate refreshes the session with an UPDATE without a body
// (RFC 4028 section 7.4): no offer to make, no ACK to send.
func (c *Call) refreshByUpdate(ctx context.Context) error {
	c.mu.Lock()
	state := c.state
	if state == CallEnded || c.ending {
		c.mu.Unlock()
		return ErrCallEnded
	}
	if state != CallActive && state != CallHeld && state != CallRemoteHeld {
		c.mu.Unlock()
		return fmt.Errorf("softphone: UPDATE in state %s: %w", state, ErrBadState)
	}
	interval := c.seInterval
	c.mu.Unlock()
	req := c.inDialog(sip.UPDATE)
	if interval > 0 {
		req.AppendHeader(sip.NewHeader("Supported", "timer"))
		req.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(interval/time.Second))+";refresher=uac"))
	}
	res, err := c.p.transact(ctx, req, nil)
	if err != nil {
		return fmt.Errorf("softphone: UPDATE: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("softphone: UPDATE: %w", statusError("UPDATE", res, nil))
	}
	weRefresh := true
	if se, who, ok := sessionExpires(res.GetHeader("Session-Expires")); ok {
		interval, weRefresh = se, who != "uas"
	}
	c.armSessionTimer(interval, weRefresh)
	return nil
}

// offerIntent is what an offer asks for: hold, resume, or the call's
// present state again (a move, a new offer, a session refresh). The
// direction and the state after are read when the offer goes, not when it
// was asked for: an offer that waited for another's turn (glare.go) must
// not undo it (a move's offer after a Hold must keep the call held).
type offerIntent uint8

const (
	offerKeep offerIntent = iota
	offerHold
	offerResume
)

// offerOnce sends a new offer within the dialog, in a re-INVITE or an
// UPDATE (RFC 3311: same offer and answer, one transaction, no ACK), and
// moves the call to the state intent asks for once answered. The caller
// has the call's offer turn (glare.go).
func (c *Call) offerOnce(ctx context.Context, method sip.RequestMethod, intent offerIntent) error {
	if err := c.waitAnswered(ctx); err != nil {
		return err
	}
	state := c.state
	if state == CallEnded || c.ending {
		c.mu.Unlock()
		return ErrCallEnded
	}
	if state != CallActive && state != CallHeld && state != CallRemoteHeld {
		c.mu.Unlock()
		return fmt.Errorf("softphone: re-INVITE in state %s: %w", state, ErrBadState)
	}
	var dir direction
	var next CallState
	switch intent {
	case offerHold:
		dir, next = sendonly, CallHeld
	case offerResume:
		dir, next = sendrecv, CallActive
	default:
		dir, next = sendrecv, state
		if state == CallHeld {
			dir = sendonly
		}
	}
	prevVersion, prevDir := c.local.version, c.local.dir
	c.local.version++
	c.local.dir = dir
	lm := c.local
	if cd := c.stream.snapshotCodec(); cd.name != "" {
		lm.codecs = []codec{cd}
	}
	// An offer from the far end that comes before this one's answer is
	// applied is refused with 491 (onReinvite).
	c.pending = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.pending = false
		c.mu.Unlock()
	}()
	req := c.inDialog(method)
	c.mu.Lock()
	interval := c.seInterval
	c.mu.Unlock()
	if interval > 0 {
		req.AppendHeader(sip.NewHeader("Supported", "timer"))
		req.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(interval/time.Second))+";refresher=uac"))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(lm.marshal())
	what := "re-INVITE"
	if method == sip.UPDATE {
		what = "UPDATE"
	}
	c.p.count("offers_sent")
	res, err := c.p.transact(ctx, req, nil)
	c.mu.Lock()
	if (err != nil || !res.IsSuccess()) && c.local.version == lm.version {
		// Not accepted: the session is as it was, and the next offer is
		// the next version of that (RFC 3264 section 8).
		c.local.version, c.local.dir = prevVersion, prevDir
	}
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("softphone: %s: %w", what, err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("softphone: %s: %w", what, statusError(method.String(), res, nil))
	}
	if method == sip.INVITE {
		c.mu.Lock()
		c.dlg.inviteSeq = req.CSeq().SeqNo
		c.dlg.peerUpdate = allowsUpdate(res) || c.dlg.peerUpdate
		c.mu.Unlock()
		c.sendAck()
	}
	rm, err := parseSDP(res.Body())
	if err != nil {
		return fmt.Errorf("softphone: %s answer: %w", what, err)
	}
	cd, err := choose(rm, lm.codecs)
	if err != nil {
		return fmt.Errorf("softphone: %s answer: %w", what, err)
	}
	if err := c.applyAnswerCrypto(rm); err != nil {
		return fmt.Errorf("softphone: %s answer: %w", what, err)
	}
	c.mu.Lock()
	c.remoteMedia = rm
	c.mu.Unlock()
	c.stream.configure(rm, cd, rm.dir.answer(dir))
	c.setState(next, nil)
	c.mu.Lock()
	interval, weRefresh := c.seInterval, c.seRefresher
	c.mu.Unlock()
	if se, who, ok := sessionExpires(res.GetHeader("Session-Expires")); ok {
		interval, weRefresh = se, who == "uac"
	}
	c.armSessionTimer(interval, weRefresh)
	return nil
}

// Mute stops (true) or restarts (false) sending our audio; silence goes
// instead, so the far end's jitter buffer and NAT bindings stay warm.
func (c *Call) Mute(mute bool) {
	if c.stream != nil {
		c.stream.setMuted(mute)
	}
}

// SendDTMF sends digits (0-9, *, #, A-D) as RFC 4733 telephone-events
// when the far end accepted them, else as SIP INFO (application/dtmf-relay)
// one digit at a time. It returns when the digits were sent.
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	var rs []rune
	for _, d := range digits {
		if _, ok := dtmfCode(d); !ok {
			return fmt.Errorf("softphone: DTMF digit %q: want 0-9, *, #, A-D", d)
		}
		rs = append(rs, d)
	}
	if c.State() == CallEnded {
		return ErrCallEnded
	}
	if c.stream.hasDTMF() {
		ch := c.stream.queueDTMF(rs)
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return ErrCallEnded
		}
	}
	return c.sendINFO(ctx, rs)
}

func (c *Call) sendINFO(ctx context.Context, digits []rune) error {
	for _, d := range digits {
		req := c.inDialog(sip.INFO)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
		req.SetBody([]byte("Signal=" + string(d) + "\r\nDuration=100\r\n"))
		res, err := c.p.transact(ctx, req, nil)
		if err != nil {
			return fmt.Errorf("softphone: DTMF by INFO: %w", err)
		}
		if !res.IsSuccess() {
			return fmt.Errorf("softphone: DTMF by INFO: %w", statusError("INFO", res, nil))
		}
	}
	return nil
}

func (c *Call) dtmfReceived(d rune, info bool) {
	c.p.log.Debug("dtmf received", logCallID, c.id, "info", info)
	csf.Publish(c.p.cfg.Events, DTMFReceived{Call: c, Digit: d, INFO: info})
}

// Answer answers an incoming call with 200 OK and starts its media. opts
// nil means silence out, received audio discarded.
func (c *Call) Answer(ctx context.Context, opts *CallOptions) error {
	return c.decide(ctx, answerDecision{code: 200, opts: opts})
}

// Reject refuses an incoming call that has not been answered: code 486
// (Busy Here), 603 (Decline) or another 4xx-6xx; 0 means 486.
func (c *Call) Reject(ctx context.Context, code int) error {
	if code == 0 {
		code = 486
	}
	if code < 400 || code > 699 {
		return fmt.Errorf("softphone: reject with %d: want a 4xx-6xx code", code)
	}
	return c.decide(ctx, answerDecision{code: code})
}

func (c *Call) decide(ctx context.Context, d answerDecision) error {
	c.mu.Lock()
	ch := c.answer
	state := c.state
	c.mu.Unlock()
	if state == CallEnded {
		return ErrCallEnded
	}
	if c.dir != Incoming || ch == nil || state != CallIncoming {
		return fmt.Errorf("softphone: answer in state %s: %w", state, ErrBadState)
	}
	d.res = make(chan error, 1)
	select {
	case ch <- d:
	case <-c.done:
		return ErrCallEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	// The INVITE handler always answers on d.res at once, having sent the
	// response: wait for it even if ctx ends meanwhile.
	return <-d.res
}

const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE"

// reasonPhrase gives the standard phrase for the codes we send.
func reasonPhrase(code int) string {
	switch code {
	case 180:
		return "Ringing"
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 202:
		return "Accepted"
	case 415:
		return "Unsupported Media Type"
	case 482:
		return "Loop Detected"
	case 489:
		return "Bad Event"
	case 503:
		return "Service Unavailable"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 491:
		return "Request Pending"
	case 500:
		return "Server Internal Error"
	case 501:
		return "Not Implemented"
	case 603:
		return "Decline"
	}
	return strings.TrimSpace(fmt.Sprintf("Status %d", code))
}
