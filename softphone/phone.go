package softphone

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/softphone/internal/stun"
)

// Log keys.
const (
	logCallID = "call_id"
	logAOR    = "aor"
	logMethod = "method"
	logCode   = "code"
)

// Phone is one SIP line: it registers an account with a registrar, places
// and receives calls and carries their audio. Make one with [New].
type Phone struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // lifetime: cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // socket serving and media: end when sockets close
	work   sync.WaitGroup // goroutines that send requests: end before the SIP stack closes
	// handlers counts sipgo's calls into our request handlers: they answer
	// through the SIP stack, so they end before it closes.
	handlers sync.WaitGroup

	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	flow atomic.Pointer[sipFlow] // where SIP leaves from; replaced by moveTo
	tp   string                  // "UDP", "TCP", "TLS"
	// codecs are Config.Codecs resolved, in order: what we offer. Calls
	// share the slice (read only) rather than keeping a copy each.
	codecs []codec
	media  *mediaEngine

	lines []*line // lines[0] is Config.Account; fixed after New

	mu        sync.Mutex // guards the fields below and every line's reg
	calls     map[string]*Call
	started   bool
	closed    bool
	lastErr   error
	since     time.Time
	counters  map[string]int64
	tlsState  *tls.ConnectionState
	shutdowns bool             // Shutdown in progress: no new calls
	regSeen   string           // where the registrar last saw our REGISTER come from
	oldUDP    []net.PacketConn // SIP sockets of addresses we moved from, for calls still on them

	parser   *sip.Parser   // headers of datagrams sipgo would drop (flow.go)
	sockLost chan struct{} // the UDP SIP socket stopped being served
	stunMu   sync.Mutex
	// offerGate wakes calls waiting for their turn to send an offer.
	offerGate offerGate
	stunWait  map[stun.TxID]chan stunResult // STUN keep-alives awaiting their response
}

// New checks cfg and returns an unstarted phone. It does no I/O. cfg is
// copied; New names the first bad field in its error.
func New(cfg Config) (*Phone, error) {
	cfg.Codecs = append([]string(nil), cfg.Codecs...)
	cfg.Lines = append([]Account(nil), cfg.Lines...)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Phone{
		cfg:      cfg,
		log:      cfg.Logger.With("service", "softphone", logAOR, cfg.Account.AOR()),
		calls:    map[string]*Call{},
		counters: map[string]int64{},
		since:    time.Now(),
		tp:       strings.ToUpper(cfg.Transport),
		parser:   sip.NewParser(),
		sockLost: make(chan struct{}, 1),
		stunWait: map[stun.TxID]chan stunResult{},
	}
	for _, n := range cfg.Codecs {
		cd, _ := codecByName(n)
		p.codecs = append(p.codecs, cd)
	}
	routeSipgoLog()
	for _, a := range append([]Account{cfg.Account}, cfg.Lines...) {
		p.lines = append(p.lines, &line{acct: a})
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// line is one account on the phone's socket.
type line struct {
	acct Account
	reg  regState // guarded by Phone.mu
}

// Lines returns the address of record of every line, the first being
// Config.Account's.
func (p *Phone) Lines() []string {
	out := make([]string, len(p.lines))
	for i, l := range p.lines {
		out[i] = l.acct.AOR()
	}
	return out
}

// lineFor finds a line by user name, address of record or "user@domain";
// empty means the first line.
func (p *Phone) lineFor(name string) (*line, bool) {
	if name == "" {
		return p.lines[0], true
	}
	name = strings.TrimPrefix(strings.TrimPrefix(name, "sip:"), "sips:")
	for _, l := range p.lines {
		if name == l.acct.User || name == l.acct.User+"@"+l.acct.Domain {
			return l, true
		}
	}
	return nil, false
}

// lineForUser picks the line an incoming request is for by the user part
// of its Request-URI (our Contact); the first line when none matches.
func (p *Phone) lineForUser(user string) *line {
	for _, l := range p.lines {
		if l.acct.User == user {
			return l
		}
	}
	return p.lines[0]
}

func (p *Phone) allRegistered() bool {
	for _, l := range p.lines {
		if !l.reg.registered {
			return false
		}
	}
	return true
}

// Spec returns the service spec that registers a phone with a
// [csf.Framework], configured from the framework's settings keys
// (SipRegistrar, SipTransport, SipUserName, SipPassword, UserName,
// Password, Domain, TrustedCAFile through env.Roots): settings, when not
// nil, gives them; else the framework's settings at each (re)start do.
// base supplies every other field.
func Spec(base Config, settings func() Config) csf.ServiceSpec {
	return csf.ServiceSpec{
		Name: "softphone",
		Keys: []string{"SipRegistrar", "SipTransport", "SipUserName", "SipPassword", "UserName", "Password", "Domain", "TrustedCAFile"},
		New: func(env csf.Env) (csf.Service, error) {
			cfg := base
			var from *Config
			if settings != nil {
				s := settings()
				from = &s
			} else if snap, ok := env.Settings.(*config.Snapshot); ok {
				// The framework's settings at the time of each (re)start,
				// so that a changed SipRegistrar takes effect.
				s := ConfigFromSettings(snap)
				from = &s
			}
			if from != nil {
				cfg.Account, cfg.Registrar, cfg.Transport = from.Account, from.Registrar, from.Transport
			}
			cfg.Logger = env.Logger
			cfg.Events = env.Events
			if cfg.Callers == nil {
				cfg.Callers = env.Callers
			}
			if env.Roots != nil && cfg.TLS == nil {
				cfg.TLS = &tls.Config{RootCAs: env.Roots, MinVersion: tls.VersionTLS12}
			}
			return New(cfg)
		},
	}
}

// AOR returns the phone's address of record, sip:user@domain.
// With several lines it is the first line's.
func (p *Phone) AOR() string { return p.cfg.Account.AOR() }

// Start opens the SIP socket and, unless Config.NoRegister, registers,
// returning once the registrar accepted us or ctx ends. A wrong password
// gives an error matching [ErrAuthFailed]; a TLS failure one matching
// *csf.TLSError when Config.Trust is set. After Start the phone refreshes
// its registration in the background until Shutdown or Close.
func (p *Phone) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return net.ErrClosed
	}
	if p.started {
		p.mu.Unlock()
		return errors.New("softphone: already started")
	}
	p.started = true
	p.mu.Unlock()

	if err := p.open(ctx); err != nil {
		p.setErr(err)
		return err
	}
	if p.cfg.NoRegister {
		return nil
	}
	// Lines register in parallel, a bounded number at a time.
	granted := make([]time.Duration, len(p.lines))
	errs := make([]error, len(p.lines))
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i, l := range p.lines {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			granted[i], errs[i] = p.register(ctx, l, p.cfg.Expires, false)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		p.setErr(err)
		return err
	}
	p.work.Add(1)
	go p.registrationLoop(granted)
	return nil
}

// sipFlow is where the phone's SIP traffic leaves from: the local address
// our Contact and Via name and RTP binds to, and the sipgo client bound to
// it. A phone that moves to another local address gets a new one (moveTo).
type sipFlow struct {
	ip   string
	port int
	cli  *sipgo.Client
	udp  net.PacketConn // the SIP socket with UDP, nil otherwise
}

// addr is the flow's local host:port.
func (f *sipFlow) addr() string { return net.JoinHostPort(f.ip, strconv.Itoa(f.port)) }

// client returns the sipgo client of the current flow.
func (p *Phone) client() *sipgo.Client { return p.flow.Load().cli }

// localIP returns the current local address.
func (p *Phone) localIP() string { return p.flow.Load().ip }

// open makes the sipgo user agent, the socket and the media engine.
func (p *Phone) open(ctx context.Context) error {
	ip := p.cfg.ListenIP
	if ip == "" {
		var err error
		if ip, err = localIPFor(ctx, p.cfg.Registrar); err != nil {
			return fmt.Errorf("softphone: local address toward %s: %w", p.cfg.Registrar, err)
		}
	}
	// The media engine (and its shared RTP ports) exists before any SIP
	// request can arrive and make a call that uses it.
	media, err := newMediaEngine(p, ip)
	if err != nil {
		return err
	}
	p.media = media
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.media.run(p.ctx)
	}()
	tlsCfg := p.cfg.TLS
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if tlsCfg.ServerName == "" {
		tlsCfg = tlsCfg.Clone()
		tlsCfg.ServerName = p.cfg.Account.Domain
	}
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(p.cfg.Account.User),
		sipgo.WithUserAgentHostname(p.cfg.Account.Domain),
		sipgo.WithUserAgenTLSConfig(tlsCfg),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(p.log), sip.WithTransportLayerReadFilter(p.readFilter)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(p.log),
			sip.WithTransactionLayerUnhandledResponseHandler(p.onStrayResponse)),
	)
	if err != nil {
		return fmt.Errorf("softphone: %w", err)
	}
	p.ua = ua
	if p.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(p.log)); err != nil {
		return fmt.Errorf("softphone: %w", err)
	}
	p.handle()

	f, err := p.bind(ctx, ip)
	if err != nil {
		return err
	}
	p.flow.Store(f)
	return nil
}

// bind opens the SIP side of a flow from ip: with UDP a socket sipgo
// serves, with TCP and TLS a local port to dial from; and a client bound
// to it.
func (p *Phone) bind(ctx context.Context, ip string) (*sipFlow, error) {
	f := &sipFlow{ip: ip}
	switch p.cfg.Transport {
	case "udp":
		var lc net.ListenConfig
		conn, err := lc.ListenPacket(ctx, "udp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, fmt.Errorf("softphone: listen: %w", err)
		}
		f.udp = conn
		f.port = conn.LocalAddr().(*net.UDPAddr).Port
		p.mu.Lock()
		closed := p.closed
		if !closed {
			p.wg.Add(1)
		}
		p.mu.Unlock()
		if closed {
			conn.Close()
			return nil, fmt.Errorf("softphone: listen: %w", net.ErrClosed)
		}
		go func() {
			defer p.wg.Done()
			err := p.srv.ServeUDP(conn)
			// sipgo stops serving a socket on a read error. Unless we
			// closed it (Close, or the phone moved and still serves the
			// old one), the phone must move to a new socket.
			if f := p.flow.Load(); p.ctx.Err() == nil && f != nil && f.udp == conn {
				p.log.Warn("SIP socket no longer served", "addr", f.addr(), "err", err)
				select {
				case p.sockLost <- struct{}{}:
				default:
				}
			}
		}()
		// ServeUDP adds the socket to sipgo's pool from its goroutine;
		// requests sent before that would open a second socket.
		laddr := conn.LocalAddr().String()
		for i := 0; ; i++ {
			if c, _ := p.ua.TransportLayer().GetConnection("udp", laddr); c != nil {
				break
			}
			if i > 500 {
				return f, fmt.Errorf("softphone: SIP socket %s not served", laddr)
			}
			time.Sleep(time.Millisecond)
		}
	default:
		// TCP and TLS: the flow we open to the proxy carries requests to us
		// too. We dial it from a fixed port that our Contact names, so the
		// proxy finds the open connection for that address (connection
		// reuse, as RFC 5923 aliases and RFC 5626 flows intend) and no
		// listener, nor a server certificate, is needed here.
		port, err := freeTCPPort(ip)
		if err != nil {
			return nil, fmt.Errorf("softphone: pick a port: %w", err)
		}
		f.port = port
	}
	sipgoLog.add(p, f.addr())
	var err error
	if f.cli, err = sipgo.NewClient(p.ua, sipgo.WithClientLogger(p.log), sipgo.WithClientConnectionAddr(f.addr()), sipgo.WithClientNAT()); err != nil {
		return f, fmt.Errorf("softphone: %w", err)
	}
	return f, nil
}

// localIPFor returns the local address the system routes to hostport from.
func localIPFor(ctx context.Context, hostport string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", hostport)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

func freeTCPPort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// contactURI is our reachable address.
func (p *Phone) contactURI(l *line) sip.Uri { return p.contactURIAt(p.flow.Load(), l) }

// contactURIAt is l's contact on flow f.
func (p *Phone) contactURIAt(f *sipFlow, l *line) sip.Uri {
	u := sip.Uri{Scheme: "sip", User: l.acct.User, Host: f.ip, Port: f.port}
	if p.cfg.Transport != "udp" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", p.cfg.Transport)
	}
	return u
}

func (p *Phone) contactHeader(l *line) *sip.ContactHeader {
	return &sip.ContactHeader{Address: p.contactURI(l)}
}

// Shutdown hangs up every call, removes the registration (RFC 3261 section
// 10.2.2, Expires 0) within ctx, then closes the phone.
func (p *Phone) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return net.ErrClosed
	}
	p.shutdowns = true
	calls := p.callList()
	var registered []*line
	for _, l := range p.lines {
		if l.reg.registered {
			registered = append(registered, l)
		}
	}
	p.mu.Unlock()

	var errs []error
	for _, c := range calls {
		if err := c.Hangup(ctx); err != nil && !errors.Is(err, ErrCallEnded) {
			errs = append(errs, err)
		}
	}
	for _, l := range registered {
		if _, err := p.register(ctx, l, 0, true); err != nil {
			errs = append(errs, err)
		} else {
			csf.Publish(p.cfg.Events, Unregistered{AOR: l.acct.AOR()})
		}
	}
	if err := p.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close stops at once: calls end without BYE, the registration is left to
// expire, sockets close and every goroutine the phone started has returned
// when Close does. A second call returns an error matching net.ErrClosed.
func (p *Phone) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("softphone: close: %w", net.ErrClosed)
	}
	p.closed = true
	calls := p.callList()
	p.mu.Unlock()
	for _, c := range calls {
		c.end(errors.New("softphone: phone closed"), false)
	}
	p.cancel()
	// Requests in flight end with p.ctx and terminate their transactions;
	// only then may the SIP stack close, or sipgo would open a fresh socket
	// for a retransmission.
	p.work.Wait()
	p.handlers.Wait()
	// Every transaction ends before the sockets close: a retransmission
	// or response timer firing once its socket is gone would make sipgo
	// open a fresh one, with a reader nothing closes.
	if p.ua != nil {
		p.ua.TransactionLayer().Close()
	}
	if f := p.flow.Load(); f != nil && f.udp != nil {
		f.udp.Close()
	}
	p.mu.Lock()
	old := p.oldUDP
	p.mu.Unlock()
	for _, c := range old {
		c.Close()
	}
	if p.ua != nil {
		p.ua.Close()
	}
	p.wg.Wait()
	sipgoLog.remove(p)
	return nil
}

// Health reports registration and call counts; it does not block.
func (p *Phone) Health() csf.Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := csf.Health{
		Healthy:   p.allRegistered() || p.cfg.NoRegister,
		Server:    p.cfg.Registrar,
		LastError: p.lastErr,
		Since:     p.since,
		Counters:  map[string]int64{"calls_active": int64(len(p.calls))},
	}
	for k, v := range p.counters {
		h.Counters[k] = v
	}
	switch {
	case p.closed:
		h.Status = "closed"
	case p.allRegistered():
		h.Status = fmt.Sprintf("%d lines registered", len(p.lines))
	case p.cfg.NoRegister:
		h.Status = "not registering"
	default:
		h.Status = "not registered"
	}
	return h
}

// Calls returns the calls in progress.
func (p *Phone) Calls() []*Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.callList()
}

func (p *Phone) callList() []*Call {
	out := make([]*Call, 0, len(p.calls))
	for _, c := range p.calls {
		out = append(out, c)
	}
	return out
}

func (p *Phone) setErr(err error) {
	p.mu.Lock()
	p.lastErr = err
	p.since = time.Now()
	p.mu.Unlock()
}

func (p *Phone) count(name string) {
	p.mu.Lock()
	p.counters[name]++
	p.mu.Unlock()
}

// do sends an out-of-dialog or in-dialog request and returns its final
// response, answering one digest challenge (RFC 3261 section 22.2; choice of
// challenge per RFC 8760). A second challenge after we answered one is
// [ErrAuthFailed].
func (p *Phone) do(ctx context.Context, l *line, req *sip.Request) (*sip.Response, error) {
	authTried := false
	for {
		res, err := p.transact(ctx, req, nil)
		if err != nil {
			return nil, err
		}
		if res.StatusCode != 401 && res.StatusCode != 407 {
			return res, nil
		}
		stale := authTried && challengeStale(res)
		if (authTried && !stale) || l.acct.Password == "" {
			return res, statusError(req.Method.String(), res, ErrAuthFailed)
		}
		authTried = true
		if err := p.authorize(l, req, res); err != nil {
			return res, err
		}
	}
}

// transact runs one client transaction, passing provisional responses to
// onProvisional, and returns the final response.
func (p *Phone) transact(ctx context.Context, req *sip.Request, onProvisional func(*sip.Response)) (*sip.Response, error) {
	p.log.Debug("sip request", logMethod, req.Method.String(), "uri", req.Recipient.String())
	tx, err := p.client().TransactionRequest(ctx, req)
	if err != nil {
		return nil, p.classify(fmt.Errorf("softphone: send %s: %w", req.Method, err))
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			p.log.Debug("sip response", logMethod, req.Method.String(), logCode, res.StatusCode)
			if res.IsProvisional() {
				if onProvisional != nil {
					onProvisional(res)
				}
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				if errors.Is(err, sip.ErrTransactionTimeout) {
					return nil, fmt.Errorf("softphone: %s: %w", req.Method, ErrTimeout)
				}
				return nil, p.classify(fmt.Errorf("softphone: %s: %w", req.Method, err))
			}
			return nil, fmt.Errorf("softphone: %s: transaction ended without a response", req.Method)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.ctx.Done():
			return nil, fmt.Errorf("softphone: %s: %w", req.Method, net.ErrClosed)
		}
	}
}

// classify turns certificate failures into *csf.TLSError when a trust
// store is configured.
func (p *Phone) classify(err error) error {
	if p.cfg.Trust != nil && p.cfg.Transport == "tls" {
		host, _, _ := net.SplitHostPort(p.cfg.Registrar)
		if c := p.cfg.Trust.Classify(host, err); c != nil {
			var te *csf.TLSError
			if errors.As(c, &te) {
				return fmt.Errorf("softphone: %w", te)
			}
		}
	}
	return err
}

func statusError(method string, res *sip.Response, class error) *StatusError {
	e := &StatusError{Method: method, Code: res.StatusCode, Reason: res.Reason, Err: class}
	if h := res.GetHeader("Retry-After"); h != nil {
		v, _, _ := strings.Cut(h.Value(), ";")
		e.RetryAfter, _ = strconv.Atoi(strings.TrimSpace(v))
	}
	return e
}

// newRequest makes an out-of-dialog request from us, sent to the
// registrar as outbound proxy.
func (p *Phone) newRequest(l *line, method sip.RequestMethod, to sip.Uri) *sip.Request {
	req := sip.NewRequest(method, to)
	from := &sip.FromHeader{DisplayName: l.acct.DisplayName, Address: sip.Uri{Scheme: "sip", User: l.acct.User, Host: l.acct.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: to.Scheme, User: to.User, Host: to.Host}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("User-Agent", p.cfg.UserAgent))
	p.route(req)
	return req
}

// route sends req through the outbound proxy unless it has a Route set.
func (p *Phone) route(req *sip.Request) {
	req.SetTransport(p.tp)
	if req.Route() == nil {
		req.SetDestination(p.cfg.Registrar)
	}
}

// ParseAddress turns "bob", "bob@example.test", "sip:bob@example.test" or
// "sips:bob@example.test" into a SIP URI string, taking the domain of the
// phone's account when none is given.
func (p *Phone) ParseAddress(s string) (string, error) {
	u, err := p.parseURI(s)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

func (p *Phone) parseURI(s string) (sip.Uri, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	if s == "" {
		return sip.Uri{}, fmt.Errorf("softphone: empty address")
	}
	if !strings.HasPrefix(s, "sip:") && !strings.HasPrefix(s, "sips:") {
		if !strings.Contains(s, "@") {
			s += "@" + p.cfg.Account.Domain
		}
		s = "sip:" + s
	}
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil {
		return sip.Uri{}, fmt.Errorf("softphone: address %q: %w", s, err)
	}
	if u.Host == "" {
		return sip.Uri{}, fmt.Errorf("softphone: address %q has no host", s)
	}
	return u, nil
}

// SIPAddr returns the local host:port of our SIP contact, empty before
// Start. A peer without a registrar (a test UA, a gateway) sends here.
func (p *Phone) SIPAddr() string {
	f := p.flow.Load()
	if f == nil {
		return ""
	}
	return f.addr()
}

// onStrayResponse takes responses that match no transaction: a 2xx to
// INVITE retransmitted because our ACK was lost gets the ACK again (RFC
// 3261 section 13.2.2.4); a provisional response overtaken by the final
// one (sipgo handles each message on its own goroutine) is dropped.
func (p *Phone) onStrayResponse(res *sip.Response) {
	cs := res.CSeq()
	if cs == nil || cs.MethodName != sip.INVITE || !res.IsSuccess() {
		return
	}
	cid := res.CallID()
	if cid == nil {
		return
	}
	p.mu.Lock()
	c := p.calls[cid.Value()]
	p.mu.Unlock()
	if c != nil && c.dir == Outgoing {
		c.mu.Lock()
		ours := c.dlg.inviteSeq == cs.SeqNo && c.dlg.remoteTag != ""
		c.mu.Unlock()
		if ours {
			c.sendAck()
		}
	}
}
