package im

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/im/internal/sm"
	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// endpoint is one address to try.
type endpoint struct {
	addr      string // host:port
	directTLS bool
}

// endpoints returns the addresses to try, in order: Config.Server, or the
// SRV records of the domain (direct TLS first, XEP-0368), or domain:5222.
func (c *Client) endpoints(ctx context.Context) []endpoint {
	if c.cfg.Server != "" {
		return []endpoint{{c.cfg.Server, c.cfg.DirectTLS}}
	}
	domain := c.bare.Domainpart()
	lookup := c.lookupSRV
	if lookup == nil {
		r := c.cfg.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		lookup = r.LookupSRV
	}
	var eps []endpoint
	for _, svc := range []struct {
		name   string
		direct bool
	}{{"xmpps-client", true}, {"xmpp-client", false}} {
		_, srvs, err := lookup(ctx, svc.name, "tcp", domain)
		if err != nil {
			continue
		}
		for _, s := range srvs {
			if s.Target == "." { // RFC 2782: service decidedly not available
				continue
			}
			eps = append(eps, endpoint{net.JoinHostPort(trimDot(s.Target), strconv.Itoa(int(s.Port))), svc.direct})
		}
	}
	if len(eps) == 0 {
		eps = append(eps, endpoint{net.JoinHostPort(domain, "5222"), false})
	}
	return eps
}

func trimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

// limitConn records when the server last sent anything, for the
// keep-alive. (Oversized stanzas are the tokenizer's business: see
// xmltok.Reader.Budget.)
type limitConn struct {
	net.Conn
	lastRead atomic.Int64 // unix nanoseconds of the last read that returned data
}

func (l *limitConn) Read(p []byte) (int, error) {
	n, err := l.Conn.Read(p)
	if n > 0 {
		l.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// byteConn is the TLS connection with our own read buffer. mellium's
// decoder reads from it byte by byte (it implements io.ByteReader, so
// encoding/xml adds no buffer of its own), and after negotiation our
// tokenizer reads on from the same buffer: nothing the server sent right
// after <resumed/> or <enabled/> is lost between the two.
type byteConn struct {
	net.Conn
	br *bufio.Reader
}

// readBuffer is small: the TLS connection keeps the decrypted record
// itself, so a larger buffer would only hold a second copy per idle
// session.
const readBuffer = 1024

func newByteConn(c net.Conn) *byteConn {
	return &byteConn{Conn: c, br: bufio.NewReaderSize(c, readBuffer)}
}

func (b *byteConn) Read(p []byte) (int, error) { return b.br.Read(p) }
func (b *byteConn) ReadByte() (byte, error)    { return b.br.ReadByte() }

// ConnectionState lets mellium see the TLS state (for channel binding).
func (b *byteConn) ConnectionState() tls.ConnectionState {
	if tc, ok := b.Conn.(*tls.Conn); ok {
		return tc.ConnectionState()
	}
	return tls.ConnectionState{}
}

// negotiated is what stream negotiation decided for one connection.
type negotiated struct {
	resumed  bool
	resumeH  uint32
	failedH  uint32
	hasFailH bool
	smOn     bool   // <enabled/> received on a fresh session
	smID     string // resumption id
	smLoc    string
	jid      jid.JID
	mech     string
	tlsState tls.ConnectionState
	conn     *byteConn // the TLS connection, once there is one
}

// session is one live connection.
//
// mellium's Session is not kept past negotiation: its encoder and decoder
// state (over 4 KiB) would stay with every idle session unused.
type session struct {
	conn   *byteConn // what we read from and write to: the TLS connection
	raw    *limitConn
	neg    *negotiated
	server string
	done   chan struct{} // closed when the session ended
}

func (c *Client) tlsConfig() *tls.Config {
	var cfg *tls.Config
	switch {
	case c.cfg.TLS != nil:
		cfg = c.cfg.TLS.Clone()
	case c.trust != nil:
		cfg = c.trust.TLSConfig(c.bare.Domainpart())
	default:
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = c.bare.Domainpart()
	}
	return cfg
}

// connect dials the endpoints in turn and negotiates a session, resuming
// the previous one when stream management allows.
func (c *Client) connect(ctx context.Context) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	var errs []error
	for _, ep := range c.endpoints(ctx) {
		s, err := c.connectTo(ctx, ep)
		if err == nil {
			return s, nil
		}
		// Authentication and certificate failures are the same on every
		// endpoint of a domain: stop at once.
		var te *csf.TLSError
		if errors.Is(err, ErrAuth) || errors.As(err, &te) || ctx.Err() != nil {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (c *Client) connectTo(ctx context.Context, ep endpoint) (*session, error) {
	var d net.Dialer
	tcp, err := d.DialContext(ctx, "tcp", ep.addr)
	if err != nil {
		return nil, fmt.Errorf("im: connect %s: %w", ep.addr, err)
	}
	raw := &limitConn{Conn: tcp}
	tlsCfg := c.tlsConfig()
	host := tlsCfg.ServerName
	var rw net.Conn = raw
	var state xmpp.SessionState
	neg := &negotiated{}
	if ep.directTLS {
		tc := tls.Client(raw, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			tcp.Close()
			return nil, fmt.Errorf("im: connect %s: %w", ep.addr, c.trust.Classify(host, err))
		}
		neg.tlsState = tc.ConnectionState()
		neg.conn = newByteConn(tc)
		rw, state = neg.conn, xmpp.Secure
	}
	features := []xmpp.StreamFeature{c.saslFeature(neg), channelBindingTypes, c.bindFeature(neg)}
	if !ep.directTLS {
		features = append([]xmpp.StreamFeature{c.startTLSFeature(tlsCfg, neg)}, features...)
	}
	// NewSession negotiates the stream; its Session is not kept (see session).
	_, err = xmpp.NewSession(ctx, c.bare.Domain(), c.origin, rw, state,
		xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: features}
		}))
	if err != nil {
		tcp.Close()
		var te *csf.TLSError
		if errors.As(err, &te) || errors.Is(err, ErrAuth) {
			return nil, fmt.Errorf("im: connect %s: %w", ep.addr, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("im: connect %s: %w", ep.addr, ctx.Err())
		}
		return nil, fmt.Errorf("im: negotiate with %s: %w", ep.addr, err)
	}
	if neg.conn == nil {
		tcp.Close()
		return nil, fmt.Errorf("im: negotiate with %s: no TLS", ep.addr)
	}
	return &session{conn: neg.conn, raw: raw, neg: neg, server: ep.addr, done: make(chan struct{})}, nil
}

// startTLSFeature is STARTTLS (RFC 6120 section 5) with an explicit
// handshake, so that a certificate failure comes back classified.
func (c *Client) startTLSFeature(cfg *tls.Config, neg *negotiated) xmpp.StreamFeature {
	f := xmpp.StartTLS(cfg)
	f.Negotiate = func(ctx context.Context, s *xmpp.Session, _ any) (xmpp.SessionState, io.ReadWriter, error) {
		conn := s.Conn()
		r := s.TokenReader()
		defer r.Close()
		d := xml.NewTokenDecoder(r)
		if _, err := io.WriteString(conn, `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`); err != nil {
			return 0, nil, err
		}
		start, err := nextStart(d)
		if err != nil {
			return 0, nil, err
		}
		if start.Name.Local != "proceed" {
			return 0, nil, fmt.Errorf("im: server refused STARTTLS (%s)", start.Name.Local)
		}
		if err := d.Skip(); err != nil {
			return 0, nil, err
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, nil, c.trust.Classify(cfg.ServerName, err)
		}
		neg.tlsState = tc.ConnectionState()
		neg.conn = newByteConn(tc)
		return xmpp.Secure, neg.conn, nil
	}
	return f
}

// saslMechanisms are tried in this order: the SCRAM family first, with
// channel binding (-PLUS) when the server says it supports our binding
// type; PLAIN last. mellium's SASL feature needs the Secure bit, so none of
// them is ever used in clear.
var saslMechanisms = []sasl.Mechanism{
	sasl.ScramSha256Plus, sasl.ScramSha1Plus, sasl.ScramSha256, sasl.ScramSha1, sasl.Plain,
}

const nsSASLCB = "urn:xmpp:sasl-cb:0"

// channelBindingTypes reads the XEP-0440 list of channel-binding types the
// server supports. It is informational (never negotiated).
var channelBindingTypes = xmpp.StreamFeature{
	Name: xml.Name{Space: nsSASLCB, Local: "sasl-channel-binding"},
	Parse: func(ctx context.Context, d *xml.Decoder, start *xml.StartElement) (bool, any, error) {
		var v struct {
			Types []struct {
				Type string `xml:"type,attr"`
			} `xml:"urn:xmpp:sasl-cb:0 channel-binding"`
		}
		err := d.DecodeElement(&v, start)
		var types []string
		for _, t := range v.Types {
			types = append(types, t.Type)
		}
		return false, types, err
	},
}

// mechanismsFor returns the mechanisms to try, given those the server
// offered. With -PLUS offered and the binding type mellium uses on this
// connection supported (tls-exporter on TLS 1.3, RFC 9266, when announced
// with XEP-0440; tls-unique before, announced or by default), the -PLUS
// ones come first. Otherwise SCRAM without binding: ejabberd 23.01 offers
// SCRAM-SHA-1-PLUS on TLS 1.3 but refuses tls-exporter, and a failed SASL
// exchange cannot be retried on the same stream.
//
// With no -PLUS offered at all, SCRAM still tells the server that we can
// bind (the "y" flag of RFC 5802 section 6): a server that does support
// channel binding must then fail the exchange, so that a man in the middle
// who struck the -PLUS mechanisms from the list is caught.
func mechanismsFor(s *xmpp.Session, offered []string) []sasl.Mechanism {
	data, announced := s.Feature(nsSASLCB)
	types, _ := data.([]string)
	return chooseMechanisms(s.ConnectionState(), offered, types, announced)
}

// chooseMechanisms is mechanismsFor given the TLS state and the XEP-0440
// announcement (types, and whether there was one).
func chooseMechanisms(state tls.ConnectionState, offered, types []string, announced bool) []sasl.Mechanism {
	want := "tls-unique"
	if state.Version >= tls.VersionTLS13 {
		want = "tls-exporter"
	}
	if !announced && want == "tls-unique" {
		// Without XEP-0440, a -PLUS server supports tls-unique, SCRAM's
		// default (RFC 5802 section 6.1); ejabberd 23.01 announces nothing
		// and binds tls-unique correctly on TLS 1.2.
		types = []string{want}
	}
	plusOffered := slices.ContainsFunc(offered, func(m string) bool { return strings.HasSuffix(m, "-PLUS") })
	canBind := state.Version >= tls.VersionTLS13 || len(state.TLSUnique) > 0
	var out []sasl.Mechanism
	for _, m := range saslMechanisms {
		plus := strings.HasSuffix(m.Name, "-PLUS")
		switch {
		case !plus:
			if !plusOffered && canBind && strings.HasPrefix(m.Name, "SCRAM-") {
				// The -PLUS mechanism under its plain name: mellium then
				// writes the "y" flag (it does for a -PLUS mechanism whose
				// name the server did not offer).
				m = sasl.Mechanism{Name: m.Name, Start: plusOf(m).Start, Next: plusOf(m).Next}
			}
		case !plusOffered || !slices.Contains(types, want) || !canBind:
			continue
		}
		out = append(out, m)
	}
	return out
}

// plusOf returns the -PLUS variant of a SCRAM mechanism.
func plusOf(m sasl.Mechanism) sasl.Mechanism {
	for _, p := range saslMechanisms {
		if p.Name == m.Name+"-PLUS" {
			return p
		}
	}
	return m
}

func (c *Client) saslFeature(neg *negotiated) xmpp.StreamFeature {
	f := xmpp.SASL("", c.cfg.Password.Reveal(), saslMechanisms...)
	f.Negotiate = func(ctx context.Context, s *xmpp.Session, data any) (xmpp.SessionState, io.ReadWriter, error) {
		offered, _ := data.([]string)
		if c.offered != nil {
			offered = c.offered(offered)
			data = offered
		}
		mechs := mechanismsFor(s, offered)
		neg.mech = pickMechanism(mechs, offered)
		inner := xmpp.SASL("", c.cfg.Password.Reveal(), mechs...).Negotiate
		mask, rw, err := inner(ctx, s, data)
		if err != nil {
			// A failure element from the server has no Unwrap chain we could
			// match (mellium keeps its type internal); network errors do.
			var ne net.Error
			if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || ctx.Err() != nil {
				return mask, rw, err
			}
			return mask, rw, &AuthError{Mechanism: neg.mech, Reason: err.Error()}
		}
		return mask, rw, nil
	}
	return f
}

func pickMechanism(ours []sasl.Mechanism, offered []string) string {
	for _, m := range ours {
		for _, o := range offered {
			if o == m.Name {
				return m.Name
			}
		}
	}
	return ""
}

// bindFeature binds a resource, or resumes the previous XEP-0198 session
// instead (resumption replaces binding: binding first would make the
// resumption fail), then enables stream management on a fresh session.
func (c *Client) bindFeature(neg *negotiated) xmpp.StreamFeature {
	f := xmpp.BindResource()
	f.Negotiate = func(ctx context.Context, s *xmpp.Session, _ any) (xmpp.SessionState, io.ReadWriter, error) {
		conn := s.Conn()
		r := s.TokenReader()
		defer r.Close()
		d := xml.NewTokenDecoder(r)
		_, smOffered := s.Feature(sm.NS)
		smOffered = smOffered && !c.cfg.DisableStreamManagement

		c.mu.Lock()
		resumable, previd, h, prevJID := c.sm.Resumable(), c.sm.ID, c.sm.In(), c.boundJID
		c.mu.Unlock()

		if smOffered && resumable {
			var b builder
			b.empty("resume", "xmlns", sm.NS, "h", strconv.FormatUint(uint64(h), 10), "previd", previd)
			if _, err := conn.Write(b.bytes()); err != nil {
				return 0, nil, err
			}
			start, err := nextStart(d)
			if err != nil {
				return 0, nil, err
			}
			hv, hasH := attrUint(start, "h")
			if err := d.Skip(); err != nil {
				return 0, nil, err
			}
			switch {
			case start.Name.Space == sm.NS && start.Name.Local == "resumed" && hasH:
				neg.resumed, neg.resumeH, neg.jid = true, hv, prevJID
				s.UpdateAddr(prevJID)
				return xmpp.Ready, nil, nil
			case start.Name.Space == sm.NS && start.Name.Local == "failed":
				neg.failedH, neg.hasFailH = hv, hasH
			default:
				return 0, nil, fmt.Errorf("im: unexpected %s answering <resume/>", start.Name.Local)
			}
		}

		var b builder
		b.open("iq", "type", "set", "id", "bind-1").open("bind", "xmlns", nsBind).
			elem("resource", c.cfg.Resource).close("bind").close("iq")
		if _, err := conn.Write(b.bytes()); err != nil {
			return 0, nil, err
		}
		start, err := nextStart(d)
		if err != nil {
			return 0, nil, err
		}
		var resp struct {
			Type  string     `xml:"type,attr"`
			JID   string     `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
			Error *wireError `xml:"jabber:client error"`
		}
		if err := d.DecodeElement(&resp, &start); err != nil {
			return 0, nil, err
		}
		if resp.Type != "result" {
			return 0, nil, fmt.Errorf("im: bind resource: %w", resp.Error.err())
		}
		bound, err := jid.Parse(resp.JID)
		if err != nil || !bound.Bare().Equal(c.bare) {
			return 0, nil, fmt.Errorf("im: server bound an unexpected address %q", resp.JID)
		}
		neg.jid = bound
		s.UpdateAddr(bound)

		if smOffered {
			var b builder
			b.empty("enable", "xmlns", sm.NS, "resume", "true")
			if _, err := conn.Write(b.bytes()); err != nil {
				return 0, nil, err
			}
			start, err := nextStart(d)
			if err != nil {
				return 0, nil, err
			}
			if start.Name.Space == sm.NS && start.Name.Local == "enabled" {
				neg.smOn = true
				for _, a := range start.Attr {
					switch a.Name.Local {
					case "id":
						neg.smID = a.Value
					case "location":
						neg.smLoc = a.Value
					}
				}
			}
			if err := d.Skip(); err != nil {
				return 0, nil, err
			}
		}
		return xmpp.Ready, nil, nil
	}
	return f
}

func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

func attrUint(se xml.StartElement, name string) (uint32, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			v, err := strconv.ParseUint(a.Value, 10, 32)
			return uint32(v), err == nil
		}
	}
	return 0, false
}

func attrValue(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}
