package softphone

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/opencsf/opencsf/csf"
)

// handle installs the request handlers. sipgo calls each on a goroutine of
// its own per request; they find the call by Call-ID under p.mu.
func (p *Phone) handle() {
	p.srv.OnInvite(p.tracked(p.onInvite))
	p.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	p.srv.OnCancel(func(*sip.Request, sip.ServerTransaction) {}) // the transaction layer answers CANCEL and the INVITE
	p.srv.OnBye(p.tracked(p.onBye))
	p.srv.OnInfo(p.tracked(p.onInfo))
	p.srv.OnRefer(p.tracked(p.onRefer))
	p.srv.OnUpdate(p.tracked(p.onUpdate))
	p.srv.OnNotify(p.tracked(p.onNotify))
	p.srv.OnOptions(p.tracked(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		respond(tx, res)
	}))
	p.srv.OnNoRoute(p.tracked(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		respond(tx, res)
	}))
}

// tracked lets Close wait for a handler before it closes the SIP stack. A
// handler answering after that (an INVITE still ringing when the phone
// closes answers it) would find its socket gone, and sipgo would open a
// fresh one for the response and leave its reader running. Requests that
// arrive once the phone is closing go unanswered; their transactions end
// with the stack.
func (p *Phone) tracked(h func(*sip.Request, sip.ServerTransaction)) func(*sip.Request, sip.ServerTransaction) {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.handlers.Add(1)
		p.mu.Unlock()
		defer p.handlers.Done()
		h(req, tx)
	}
}

func respond(tx sip.ServerTransaction, res *sip.Response) {
	_ = tx.Respond(res)
}

func reply(req *sip.Request, tx sip.ServerTransaction, code int, warning string) {
	res := sip.NewResponseFromRequest(req, code, reasonPhrase(code), nil)
	if warning != "" {
		// RFC 3261 section 20.43: 399 is a miscellaneous warning.
		res.AppendHeader(sip.NewHeader("Warning", `399 opencsf "`+strings.ReplaceAll(warning, `"`, "'")+`"`))
	}
	respond(tx, res)
}

func (p *Phone) lookup(req *sip.Request) *Call {
	cid := req.CallID()
	if cid == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[cid.Value()]
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		reply(req, tx, 481, "")
		return
	}
	// End before answering, so that the far end, once it has our 200,
	// finds the call gone here too.
	c.end(nil, false)
	reply(req, tx, 200, "")
}

// onInfo takes DTMF sent as SIP INFO (application/dtmf-relay, or
// application/dtmf with the digit alone).
func (p *Phone) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		reply(req, tx, 481, "")
		return
	}
	var digit rune
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	body := string(req.Body())
	switch {
	case strings.HasPrefix(ct, "application/dtmf-relay"):
		for line := range strings.SplitSeq(body, "\n") {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "Signal") {
				if v = strings.TrimSpace(v); len(v) == 1 {
					digit = rune(v[0])
				}
			}
		}
	case strings.HasPrefix(ct, "application/dtmf"):
		if v := strings.TrimSpace(body); len(v) == 1 {
			digit = rune(v[0])
		}
	default:
		reply(req, tx, 415, "")
		return
	}
	if _, ok := dtmfCode(digit); !ok {
		reply(req, tx, 400, "no DTMF signal in body")
		return
	}
	reply(req, tx, 200, "")
	c.dtmfReceived(digit, true)
}

func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		p.onReinvite(req, tx)
		return
	}
	p.mu.Lock()
	unavailable := p.closed || p.shutdowns
	_, dup := p.calls[req.CallID().Value()]
	p.mu.Unlock()
	if unavailable {
		reply(req, tx, 480, "shutting down")
		return
	}
	if dup {
		reply(req, tx, 482, "")
		return
	}
	from, contact := req.From(), req.Contact()
	if from == nil || contact == nil {
		reply(req, tx, 400, "missing From or Contact")
		return
	}
	se, refresher, hasSE := sessionExpires(req.GetHeader("Session-Expires"))
	if hasSE && se < p.minSessionExpires() {
		res := sip.NewResponseFromRequest(req, 422, "Session Interval Too Small", nil)
		res.AppendHeader(sip.NewHeader("Min-SE", strconv.Itoa(int(p.minSessionExpires()/time.Second))))
		respond(tx, res)
		return
	}
	rm, err := parseSDP(req.Body())
	if err != nil {
		reply(req, tx, 488, err.Error())
		return
	}
	cd, err := choose(rm, p.codecs)
	if err != nil {
		reply(req, tx, 488, err.Error())
		return
	}

	cs := new(callWithStream)
	c := &cs.call
	id, remote := packPair(req.CallID().Value(), from.Address.String())
	*c = Call{p: p, line: p.lineForUser(req.Recipient.User), id: id, dir: Incoming, remote: remote, state: CallIncoming,
		done: make(chan struct{}), started: time.Now(), answer: make(chan answerDecision), remoteMedia: rm}
	ip := p.localIP()
	c.stream = &cs.stream
	if err = initStream(c.stream, c, ip); err != nil {
		reply(req, tx, 500, "no media port")
		return
	}
	c.local = localMedia{sessionID: uint64(randUint32()), version: 1, ip: ip, port: int(c.stream.localPort),
		codecs: []codec{cd}, dtmfPT: rm.dtmfPT, dir: rm.dir.answer(sendrecv),
		ssrc: c.stream.ssrc, rtcpMux: c.stream.shared() && rm.rtcpMux}
	if p.cfg.NoDTMFEvents {
		c.local.dtmfPT, rm.dtmfPT = -1, -1
	}
	if reason := p.offerCrypto(c, rm); reason != "" {
		c.stream.close(p.media)
		reply(req, tx, 488, reason)
		return
	}
	tag := sip.GenerateTagN(16)
	treq := req.Clone()
	treq.To().Params.Add("tag", tag)
	c.dlg = dialog{localURI: req.To().Address.String(), localTag: tag, remoteURI: from.Address.String(),
		remoteTarget: contact.Address.String(), localSeq: randUint32() & 0x7FFF}
	c.dlg.remoteTag = keepParam(from.Params, "tag")
	c.dlg.peerUpdate = allowsUpdate(req)
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			c.dlg.routeSet = append(c.dlg.routeSet, rr.Address.String())
		}
	}
	c.dlg.pack()
	cancelled := make(chan struct{})
	if !tx.OnCancel(func(*sip.Request) { close(cancelled) }) {
		c.stream.close(p.media)
		return
	}
	p.mu.Lock()
	p.calls[c.id] = c
	p.counters["calls_incoming"]++
	p.mu.Unlock()

	if h := req.GetHeader("Replaces"); h != nil {
		old := p.replacedCall(h.Value())
		if old == nil {
			p.mu.Lock()
			delete(p.calls, c.id)
			p.mu.Unlock()
			c.stream.close(p.media)
			reply(treq, tx, 481, "nothing to replace")
			return
		}
		// An attended transfer: the new call takes the old one's place
		// and its audio, without ringing (RFC 3891 section 3).
		c.stream.setIO(old.stream.takeIO())
		c.mu.Lock()
		c.answer = nil
		body := c.local.marshal()
		c.mu.Unlock()
		c.stream.configure(rm, cd, c.local.dir)
		res := sip.NewSDPResponseFromRequest(treq, body)
		res.AppendHeader(p.contactHeader(c.line))
		if err := tx.Respond(res); err != nil {
			c.end(err, false)
			return
		}
		c.stream.start(p.media)
		c.setState(CallActive, nil)
		csf.Publish(p.cfg.Events, CallReplaced{Old: old, New: c})
		bctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		old.sendBye(bctx)
		cancel()
		old.end(nil, false)
		return
	}

	ringing := sip.NewResponseFromRequest(treq, 180, "Ringing", nil)
	ringing.AppendHeader(p.contactHeader(c.line))
	respond(tx, ringing)
	p.log.Info("call received", logCallID, c.id, "from", c.remote)
	csf.Publish(p.cfg.Events, CallReceived{Call: c, From: c.remote, Line: c.line.acct.AOR(), Caller: p.resolveCaller(c.remote)})
	csf.Publish(p.cfg.Events, CallStateChanged{Call: c, From: CallIncoming, State: CallIncoming})

	for {
		select {
		case d := <-c.answer:
			if d.code != 200 {
				reply(treq, tx, d.code, "")
				c.end(nil, false)
				d.res <- nil
				return
			}
			if d.opts != nil {
				c.stream.setIO(d.opts.Source, d.opts.Sink)
			}
			c.stream.configure(rm, cd, c.local.dir)
			c.mu.Lock()
			c.answer = nil
			body := c.local.marshal()
			c.mu.Unlock()
			res := sip.NewSDPResponseFromRequest(treq, body)
			res.AppendHeader(p.contactHeader(c.line))
			res.AppendHeader(sip.NewHeader("Allow", allowed))
			if hasSE && p.sessionInterval() > 0 {
				// RFC 4028 section 9: the UAC refreshes when it said so or
				// said nothing but supports timers; else we do.
				if refresher == "" {
					refresher = "uas"
					if supportsTimer(req) {
						refresher = "uac"
					}
				}
				res.AppendHeader(sip.NewHeader("Require", "timer"))
				res.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(se/time.Second))+";refresher="+refresher))
			}
			// Active before the 200 leaves: the far end may send a
			// re-INVITE or UPDATE the moment it has it, and those are
			// refused (491) while the call still rings.
			c.setState(CallActive, nil)
			if err := tx.Respond(res); err != nil {
				c.end(err, false)
				d.res <- err
				return
			}
			c.stream.start(p.media)
			if hasSE && p.sessionInterval() > 0 {
				c.armSessionTimer(se, refresher == "uas")
			}
			d.res <- nil
			return
		case <-cancelled:
			c.end(&StatusError{Method: "INVITE", Code: 487, Reason: "Request Terminated"}, false)
			return
		case <-tx.Done():
			c.end(tx.Err(), false)
			return
		case <-p.ctx.Done():
			reply(treq, tx, 480, "")
			return
		}
	}
}

// onReinvite answers an offer within the dialog: hold and resume from the
// far end, or a changed address (RFC 3264 section 8).
func (p *Phone) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		reply(req, tx, 481, "")
		return
	}
	if req.Method == sip.INVITE {
		p.count("reinvites_received")
	}
	rm, err := parseSDP(req.Body())
	if err != nil {
		reply(req, tx, 488, err.Error())
		return
	}
	// The far end may send its next offer as soon as it has our answer
	// to the last one, which can be before this phone has finished with
	// that answer (answering is cleared just after the response leaves).
	// That offer is legitimate (RFC 3261 section 14.1 is about
	// transactions, and the far end's has ended), so it waits the moments
	// it takes; only an answer that is stuck gets 500 with Retry-After
	// (RFC 3261 section 14.2, RFC 3311 section 5.2).
	wait, cancel := context.WithTimeout(p.ctx, answerWait)
	err = c.waitAnswered(wait)
	cancel()
	if err != nil {
		if errors.Is(err, ErrCallEnded) {
			reply(req, tx, 481, "")
			return
		}
		res := sip.NewResponseFromRequest(req, 500, reasonPhrase(500), nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "1"))
		respond(tx, res)
		return
	}
	state := c.state
	if state == CallEnded || c.ending || state == CallIncoming {
		c.mu.Unlock()
		reply(req, tx, 491, "")
		return
	}
	if c.pending {
		// Glare: our own offer is out, unanswered. Its answer and this
		// offer cannot both be applied; the far end retries after a
		// random delay (RFC 3261 section 14.2, RFC 3311 section 5.2),
		// as we do when it refuses ours.
		c.mu.Unlock()
		p.count("glare_refused")
		reply(req, tx, 491, "")
		return
	}
	cd, err := choose(rm, c.local.codecs)
	if err != nil {
		c.mu.Unlock()
		reply(req, tx, 488, err.Error())
		return
	}
	if rm.savp != (c.local.crypto != nil) {
		c.mu.Unlock()
		reply(req, tx, 488, "re-INVITE changes RTP/SAVP")
		return
	}
	var lc, rc sdesCrypto
	if rm.savp {
		var ok bool
		if rc, ok = chooseCrypto(rm.cryptos); !ok {
			c.mu.Unlock()
			reply(req, tx, 488, "no usable crypto attribute")
			return
		}
		c.local.crypto.tag, c.local.crypto.suite = rc.tag, rc.suite
		lc = *c.local.crypto
	}
	want := sendrecv
	if state == CallHeld {
		want = sendonly
	}
	ans := rm.dir.answer(want)
	c.local.version++
	c.local.dir = ans
	c.local.codecs = []codec{cd}
	if rm.dtmfPT >= 0 {
		c.local.dtmfPT = rm.dtmfPT
	}
	body := c.local.marshal()
	if ct := req.Contact(); ct != nil {
		c.dlg.remoteTarget = ct.Address.String()
	}
	// A new address in the offer (the far end moved) is where the media
	// goes now, even if we had latched on to where its packets came from.
	moved := c.remoteMedia != nil && (c.remoteMedia.ip != rm.ip || c.remoteMedia.port != rm.port)
	c.remoteMedia = rm
	if req.Method == sip.INVITE && allowsUpdate(req) {
		c.dlg.peerUpdate = true
	}
	// Our next offer waits until this answer is out (RFC 3261 section
	// 14.1: no INVITE of ours while one is in progress in either
	// direction); a far end that sees ours first would refuse it 491.
	c.answering = true
	c.mu.Unlock()
	defer c.doneAnswering()
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(p.contactHeader(c.line))
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	se, who, hasSE := sessionExpires(req.GetHeader("Session-Expires"))
	if hasSE {
		if who == "" {
			who = "uac"
		}
		res.AppendHeader(sip.NewHeader("Require", "timer"))
		res.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(se/time.Second))+";refresher="+who))
	}
	// Media and state follow the answer before it leaves: the far end may
	// act on our answer at once (a BYE right after a hold), and the call
	// must have passed through the state the answer puts it in.
	if rm.savp {
		if err := c.stream.setSRTP(lc, rc); err != nil {
			p.log.Warn("srtp rekey failed", logCallID, c.id, "err", err)
		}
	}
	if moved {
		c.stream.unlatch()
	}
	c.stream.configure(rm, cd, ans)
	switch {
	case rm.dir == sendonly || rm.dir == inactive:
		if state != CallHeld {
			c.setState(CallRemoteHeld, nil)
		}
	case state == CallRemoteHeld:
		c.setState(CallActive, nil)
	}
	if err := tx.Respond(res); err != nil {
		return
	}
	if afterAnswerSent != nil {
		afterAnswerSent()
	}
	if hasSE {
		c.armSessionTimer(se, who == "uas")
	}
}

// offerCrypto handles the SRTP side of an incoming offer: it keys the
// stream and our answer, or returns why the offer is refused.
func (p *Phone) offerCrypto(c *Call, rm *remoteMedia) string {
	if !rm.savp {
		if p.cfg.SRTP == SRTPRequired {
			return "SRTP required"
		}
		return ""
	}
	if p.cfg.SRTP == SRTPOff {
		return "SRTP not accepted"
	}
	if p.cfg.Transport != "tls" {
		// SDES keys in SDP over plain signalling are readable by anyone on
		// the path (RFC 4568 section 8.3).
		return "SRTP with SDES keys needs TLS signalling"
	}
	rc, ok := chooseCrypto(rm.cryptos)
	if !ok {
		return "no supported crypto suite"
	}
	lc, err := newCrypto(rc.tag, rc.suite)
	if err != nil {
		return "no key"
	}
	c.local.crypto = &lc
	if err := c.stream.setSRTP(lc, rc); err != nil {
		return "bad key"
	}
	return ""
}

func supportsTimer(req *sip.Request) bool {
	for _, h := range req.GetHeaders("Supported") {
		for opt := range strings.SplitSeq(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(opt), "timer") {
				return true
			}
		}
	}
	return false
}

// onUpdate takes UPDATE (RFC 3311): with SDP it is an offer like a
// re-INVITE; without, a session refresh (RFC 4028 section 7.4).
func (p *Phone) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	c := p.lookup(req)
	if c == nil {
		reply(req, tx, 481, "")
		return
	}
	p.count("updates_received")
	if len(req.Body()) > 0 {
		p.onReinvite(req, tx)
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(p.contactHeader(c.line))
	se, who, hasSE := sessionExpires(req.GetHeader("Session-Expires"))
	if hasSE {
		if who == "" {
			who = "uac"
		}
		res.AppendHeader(sip.NewHeader("Require", "timer"))
		res.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(se/time.Second))+";refresher="+who))
	}
	respond(tx, res)
	if hasSE {
		c.armSessionTimer(se, who == "uas")
	}
}
