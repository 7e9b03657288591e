package softphone

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/internal/backoff"
	"github.com/opencsf/opencsf/softphone/internal/digest"
)

// regState is the registration dialog (RFC 3261 section 10.2: one Call-ID
// for every REGISTER of this contact, CSeq increasing).
type regState struct {
	callID     string
	cseq       uint32
	registered bool
	until      time.Time
	// stale is the contact registered from an address we moved from: the
	// next REGISTER removes it (expires=0) as it adds the new one.
	stale *sip.Uri
}

// retryPolicy spaces re-registration attempts after a failure (RFC 5626
// section 4.5 in spirit, scaled for a lab: seconds, not minutes).
var retryPolicy = backoff.Policy{Base: time.Second, Max: 30 * time.Second, Jitter: 0.5}

// minRefresh keeps a registrar granting a tiny lifetime from making us
// hammer it.
const minRefresh = time.Second

// register sends REGISTER for expires (0 removes our contact) and returns
// the lifetime granted. 423 Interval Too Brief is retried once with the
// registrar's Min-Expires (RFC 3261 section 10.2.8).
func (p *Phone) register(ctx context.Context, l *line, expires time.Duration, removing bool) (time.Duration, error) {
	aor := l.acct.AOR()
	for attempt := 0; ; attempt++ {
		req := p.registerRequest(l, expires)
		ours := p.contactURI(l)
		res, err := p.do(ctx, l, req)
		if err != nil {
			var se *StatusError
			if errors.As(err, &se) && errors.Is(err, ErrAuthFailed) {
				return 0, fmt.Errorf("softphone: register %s: %w", aor, err)
			}
			return 0, fmt.Errorf("softphone: register %s: %w", aor, err)
		}
		if res.StatusCode == 423 && attempt == 0 {
			if h := res.GetHeader("Min-Expires"); h != nil {
				if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
					expires = time.Duration(n) * time.Second
					continue
				}
			}
		}
		if !res.IsSuccess() {
			return 0, fmt.Errorf("softphone: register %s: %w", aor, statusError("REGISTER", res, nil))
		}
		granted := grantedExpiry(res, ours, expires)
		seen := viaSeen(res)
		p.mu.Lock()
		if st := l.reg.stale; st != nil && (st.Host != ours.Host || st.Port != ours.Port) {
			l.reg.stale = nil // removed by this REGISTER
		}
		if seen != "" {
			p.regSeen = seen
		}
		l.reg.registered = !removing && granted > 0
		l.reg.until = time.Now().Add(granted)
		p.lastErr = nil
		p.since = time.Now()
		p.mu.Unlock()
		return granted, nil
	}
}

func (p *Phone) registerRequest(l *line, expires time.Duration) *sip.Request {
	p.mu.Lock()
	if l.reg.callID == "" {
		l.reg.callID = sip.GenerateTagN(24)
		l.reg.cseq = 1
	}
	l.reg.cseq++
	callID, cseq := l.reg.callID, l.reg.cseq
	p.mu.Unlock()

	req := p.newRequest(l, sip.REGISTER, sip.Uri{Scheme: "sip", Host: l.acct.Domain})
	// The To of a REGISTER is the address of record (RFC 3261 section 10.2).
	req.ReplaceHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: l.acct.User, Host: l.acct.Domain}, Params: sip.NewParams()})
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.REGISTER})
	req.AppendHeader(p.contactHeader(l))
	p.mu.Lock()
	stale := l.reg.stale
	p.mu.Unlock()
	if stale != nil {
		// RFC 3261 section 10.2.2: expires=0 on a contact removes it, so
		// the registrar stops forking calls to an address we left.
		old := &sip.ContactHeader{Address: *stale, Params: sip.NewParams()}
		old.Params.Add("expires", "0")
		req.AppendHeader(old)
	}
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	return req
}

// viaSeen returns the address the registrar saw our request come from,
// host:port, from the received and rport parameters it put in our Via
// (RFC 3261 section 18.2.1, RFC 3581); empty when it names none.
func viaSeen(res *sip.Response) string {
	v := res.Via()
	if v == nil {
		return ""
	}
	host, _ := v.Params.Get("received")
	port, _ := v.Params.Get("rport")
	if host == "" {
		host = v.Host
	}
	if port == "" {
		if v.Port == 0 {
			return ""
		}
		port = strconv.Itoa(v.Port)
	}
	return net.JoinHostPort(host, port)
}

// seenFrom is the address the registrar last saw our REGISTER come from.
func (p *Phone) seenFrom() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.regSeen
}

// grantedExpiry reads the lifetime of our binding: the expires parameter of
// our Contact in the 200, else the Expires header, else what we asked.
func grantedExpiry(res *sip.Response, ours sip.Uri, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok || c.Address.Host != ours.Host || c.Address.Port != ours.Port {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// refreshWorkers bounds the registrations a phone runs at once.
const refreshWorkers = 16

// regResult is what a refresh worker hands back to the scheduler.
type regResult struct {
	l       *line
	granted time.Duration
	err     error
	moved   bool // the registrar saw this REGISTER come from a new address
}

// registrationLoop is the phone's one registration scheduler: a timer heap
// over every line (no goroutine per line), refreshing each at its refresh
// delay, re-registering with backoff after a failure, and, on TCP and TLS,
// sending CRLF keep-alives and re-registering every line at once when the
// flow broke. Refreshes run on a bounded set of worker goroutines. A
// registrar that restarted and forgot us is found at the next refresh.
func (p *Phone) registrationLoop(granted []time.Duration) {
	defer p.work.Done()
	now := time.Now()
	h := make(regHeap, 0, len(p.lines))
	state := make(map[*line]*regItem, len(p.lines))
	for i, l := range p.lines {
		csf.Publish(p.cfg.Events, Registered{AOR: l.acct.AOR(), Expires: granted[i]})
		it := &regItem{l: l, due: now.Add(p.refreshDelay(granted[i]))}
		state[l] = it
		heap.Push(&h, it)
	}
	p.log.Info("registered", "lines", len(p.lines))
	var keepAlive <-chan time.Time
	if ka := p.keepAliveInterval(); ka > 0 {
		tk := time.NewTicker(ka)
		defer tk.Stop()
		keepAlive = tk.C
	}
	results := make(chan regResult)
	flows := make(chan flowCheck, 1)
	checking := false // a UDP keep-alive is in flight
	stunSeen := false // the registrar answered STUN at least once
	rebind := false   // the SIP socket failed: move to a new one
	var mapped netip.AddrPort
	sem := make(chan struct{}, refreshWorkers)
	inFlight := 0
	var workers sync.WaitGroup
	defer workers.Wait()
	start := func(it *regItem) {
		it.running = true
		inFlight++
		workers.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-p.ctx.Done():
				results <- regResult{l: it.l, err: p.ctx.Err()}
				return
			}
			ctx, cancel := context.WithTimeout(p.ctx, 32*time.Second)
			before := p.seenFrom()
			g, err := p.register(ctx, it.l, p.cfg.Expires, false)
			cancel()
			<-sem
			after := p.seenFrom()
			results <- regResult{l: it.l, granted: g, err: err, moved: before != "" && after != before}
		})
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// reRegisterAll registers every line now that is not being registered
	// already: the flow broke, or the address it leaves from changed.
	reRegisterAll := func() {
		p.count("flow_failures")
		for len(h) > 0 {
			start(heap.Pop(&h).(*regItem))
		}
	}
	// keepAliveTick checks the flow: has the local address changed (or
	// the socket failed), is the flow to the registrar still up?
	keepAliveTick := func() {
		ip := p.newRoute()
		if ip == "" && rebind {
			ip = p.localIP()
		}
		if ip != "" {
			was := p.localIP()
			if err := p.moveTo(p.ctx, ip); err != nil {
				p.log.Warn("the phone cannot move to a new SIP socket", "was", was, "now", ip, "err", err)
			} else {
				if ip != was {
					p.log.Warn("the local address changed; registering again from it", "was", was, "now", ip)
					p.count("address_changes")
				}
				rebind = false
				mapped = netip.AddrPort{} // a new flow, a new mapping
				reRegisterAll()
				// Calls in progress follow: new media ports there, a new
				// offer and Contact to the far end (move.go).
				p.moveCalls()
				return
			}
		}
		if p.cfg.Transport == "udp" {
			if !checking {
				checking = true
				seen := stunSeen
				workers.Go(func() { flows <- p.checkUDPFlow(seen) })
			}
			return
		}
		if p.pingFlow() {
			return
		}
		// The flow broke (a registrar restart, a NAT or a network
		// change): register every line again now, over a new one.
		p.log.Warn("flow to the registrar lost; registering again")
		reRegisterAll()
	}
	for {
		if len(h) > 0 {
			timer.Reset(max(time.Until(h[0].due), 0))
		}
		select {
		case <-p.ctx.Done():
			// Drain the workers, which end with p.ctx.
			for inFlight > 0 {
				<-results
				inFlight--
			}
			return
		case <-p.sockLost:
			rebind = true
			p.count("socket_failures")
			p.log.Warn("the SIP socket failed; opening another and registering again")
			keepAliveTick()
		case <-keepAlive:
			keepAliveTick()
		case fc := <-flows:
			checking = false
			if p.ctx.Err() != nil {
				continue
			}
			if !fc.ok {
				p.log.Warn("flow to the registrar lost; registering again", "err", fc.reason)
				reRegisterAll()
				continue
			}
			if !fc.mapped.IsValid() {
				continue
			}
			stunSeen = true
			p.count("stun_keepalives")
			prev := mapped
			mapped = fc.mapped
			if prev.IsValid() && prev != fc.mapped {
				// RFC 5626 section 4.4.2: a changed XOR-MAPPED-ADDRESS is a
				// failure of the flow; the registrar reaches us at the new
				// address only once we registered from it.
				p.log.Warn("the registrar sees us at a new address; registering again", "was", prev.String(), "now", fc.mapped.String())
				p.count("address_changes")
				reRegisterAll()
			}
		case <-timer.C:
			for len(h) > 0 && !h[0].due.After(time.Now()) {
				start(heap.Pop(&h).(*regItem))
			}
		case r := <-results:
			inFlight--
			it := state[r.l]
			it.running = false
			if p.ctx.Err() != nil {
				continue
			}
			p.mu.Lock()
			stopping := p.shutdowns
			p.mu.Unlock()
			if stopping {
				continue
			}
			aor := r.l.acct.AOR()
			if r.err != nil {
				p.mu.Lock()
				r.l.reg.registered = false
				p.lastErr = r.err
				p.since = time.Now()
				p.counters["registration_failures"]++
				p.mu.Unlock()
				retrying := !errors.Is(r.err, ErrAuthFailed)
				csf.Publish(p.cfg.Events, RegistrationFailed{AOR: aor, Err: r.err, Retrying: retrying})
				if !retrying {
					p.log.Error("registration refused", "aor", aor, "err", r.err)
					continue // this line stays unregistered
				}
				p.log.Warn("registration failed", "aor", aor, "err", r.err)
				it.due = time.Now().Add(retryPolicy.Delay(it.failures))
				it.failures++
				heap.Push(&h, it)
				continue
			}
			it.failures = 0
			if r.moved && len(p.lines) > 1 {
				// This line registered from the new address already; the
				// others must follow before a call to them goes astray.
				p.log.Warn("the registrar saw us come from a new address; registering the other lines again", "now", p.seenFrom())
				p.count("address_changes")
				reRegisterAll()
			}
			p.count("registrations")
			csf.Publish(p.cfg.Events, Registered{AOR: aor, Expires: r.granted, Refresh: true})
			it.due = time.Now().Add(p.refreshDelay(r.granted))
			p.mu.Lock()
			if r.l.reg.stale != nil {
				// Registered from the old address while we moved: again,
				// from the new one, now.
				it.due = time.Now()
			}
			p.mu.Unlock()
			heap.Push(&h, it)
		}
	}
}

// regItem is one line in the scheduler's heap.
type regItem struct {
	l        *line
	due      time.Time
	failures int
	running  bool
	index    int
}

// regHeap orders lines by when their registration is due.
type regHeap []*regItem

func (h regHeap) Len() int           { return len(h) }
func (h regHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h regHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *regHeap) Push(x any) {
	it := x.(*regItem)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *regHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}

// challengeStale reports a challenge with stale=true: our credentials were
// right, only the nonce expired (RFC 7616 section 3.3).
func challengeStale(res *sip.Response) bool {
	for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		for _, h := range res.GetHeaders(name) {
			if c, err := digest.Parse(h.Value()); err == nil && c.Stale {
				return true
			}
		}
	}
	return false
}

// authorize adds credentials answering the challenge in res to req, ready
// to be sent again as a new transaction (new branch, CSeq + 1).
func (p *Phone) authorize(l *line, req *sip.Request, res *sip.Response) error {
	chName, authName := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		chName, authName = "Proxy-Authenticate", "Proxy-Authorization"
	}
	var values []string
	for _, h := range res.GetHeaders(chName) {
		values = append(values, h.Value())
	}
	ch, err := digest.Choose(values)
	if err != nil {
		return fmt.Errorf("softphone: %s %d: %w", req.Method, res.StatusCode, err)
	}
	if strings.EqualFold(ch.Algorithm, "MD5") || ch.Algorithm == "" {
		p.log.Debug("answering an MD5 digest challenge")
	}
	user := l.acct.AuthUser
	if user == "" {
		user = l.acct.User
	}
	val, err := digest.Answer(ch, digest.Credentials{Username: user, Password: l.acct.Password.Reveal()}, req.Method.String(), req.Recipient.String(), 1)
	if err != nil {
		return fmt.Errorf("softphone: %s: %w", req.Method, err)
	}
	req.RemoveHeader(authName)
	req.AppendHeader(sip.NewHeader(authName, val))
	req.RemoveHeader("Via")
	if cs := req.CSeq(); cs != nil {
		cs.SeqNo++
		if req.Method == sip.REGISTER {
			p.mu.Lock()
			l.reg.cseq = cs.SeqNo
			p.mu.Unlock()
		}
	}
	return nil
}

func (p *Phone) refreshDelay(granted time.Duration) time.Duration {
	d := granted / 2
	if p.cfg.RefreshInterval > 0 && p.cfg.RefreshInterval < d {
		d = p.cfg.RefreshInterval
	}
	return max(d, minRefresh)
}

func (p *Phone) keepAliveInterval() time.Duration {
	switch {
	case p.cfg.KeepAlive < 0:
		return 0
	case p.cfg.KeepAlive > 0:
		return p.cfg.KeepAlive
	case p.cfg.Transport == "udp":
		return defaultUDPKeepAlive
	}
	return 30 * time.Second
}

// pingFlow writes a CRLF keep-alive (RFC 5626 section 3.5.1) on our
// connection to the registrar and reports whether the flow is still up.
func (p *Phone) pingFlow() bool {
	c, err := p.ua.TransportLayer().GetConnection(p.cfg.Transport, p.flow.Load().addr())
	if err != nil || c == nil {
		return false
	}
	defer c.TryClose() // GetConnection took a reference
	w, ok := c.(io.Writer)
	if !ok {
		return true
	}
	_, err = w.Write([]byte("\r\n\r\n"))
	return err == nil
}
