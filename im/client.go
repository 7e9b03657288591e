package im

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/im/internal/sm"
	"github.com/opencsf/opencsf/internal/backoff"
	"mellium.im/xmpp/jid"
)

// Client is an XMPP client session with reconnection, stream management
// and the IM features of OpenCSF. Make one with [New], then [Client.Start].
// It implements [csf.Service]. All methods are safe for concurrent use.
type Client struct {
	cfg       Config
	log       *slog.Logger
	bare      jid.JID
	origin    jid.JID // bare JID with the configured resource
	trust     *csf.Trust
	loadTrust func() (*csf.Trust, error)
	policy    backoff.Policy
	// lookupSRV replaces the resolver in tests; nil means Config.Resolver.
	lookupSRV func(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	// offered, in tests, rewrites the SASL mechanisms the server offered
	// (as a man in the middle would).
	offered func([]string) []string

	life   context.Context // lifetime context, cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // supervisor and per-session goroutines

	wake chan struct{} // tells the writer the outbox has work (capacity 1)

	addrs addrCache // recent recipients of Send, normalized

	mu         sync.Mutex // guards the fields below
	started    bool
	closed     bool
	sess       *session // nil while disconnected
	boundJID   jid.JID
	sm         sm.State
	outbox     []outItem
	ackWanted  bool // the server sent <r/>
	ackAsked   bool // we sent <r/> and wait for <a/>
	iqs        map[string]*pendingIQ
	mam        map[string]*mamQuery
	seen       *dedup
	lastArch   string // newest archive id seen, for catch-up
	presence   Presence
	rooms      map[string]*Room
	roster     rosterCache
	health     csf.Health
	counters   counters
	disconnErr error
}

type counters struct {
	sent, received, reconnects, resumed, dropped, duplicates int64
}

// outItem is one queued outgoing stanza.
type outItem struct {
	data   []byte
	resend bool // still worth sending on a fresh session (messages)
}

// New checks cfg and returns an unstarted client. It does no I/O.
func New(cfg Config) (*Client, error) {
	cfg, origin, err := cfg.validated()
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:    cfg,
		log:    cfg.Logger.With("service", "im", "jid", origin.Bare().String()),
		bare:   origin.Bare(),
		origin: origin,
		trust:  cfg.Trust,
		policy: backoff.Policy{Base: cfg.ReconnectMin, Max: cfg.ReconnectMax},
		wake:   make(chan struct{}, 1),
		iqs:    make(map[string]*pendingIQ),
		mam:    make(map[string]*mamQuery),
		rooms:  make(map[string]*Room),
		seen:   newDedup(4096),
		presence: Presence{
			Available: true, Priority: cfg.Priority,
		},
	}
	c.life, c.cancel = context.WithCancel(context.Background())
	c.health = csf.Health{Status: "not started", Since: time.Now()}
	return c, nil
}

// JID returns the full address bound to the session, or the bare JID
// before the first connection.
func (c *Client) JID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.boundJID.String() != "" {
		return c.boundJID.String()
	}
	return c.bare.String()
}

// Start connects, authenticates and binds, then keeps the session up in
// the background until Close or Shutdown. It returns when the first
// session is ready, or with the first error that retrying cannot fix
// (an *AuthError matching ErrAuth, a *csf.TLSError), or when ctx ends
// (returning the last connection error). ctx bounds the start only.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.started:
		c.mu.Unlock()
		return errors.New("im: client already started")
	}
	c.started = true
	c.health.Status = "connecting"
	c.mu.Unlock()
	if c.trust == nil && c.loadTrust != nil {
		t, err := c.loadTrust()
		if err != nil {
			return c.fail(err)
		}
		c.trust = t
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	context.AfterFunc(c.life, stop) // Close during Start ends it
	var last error
	for attempt := 0; ; attempt++ {
		s, err := c.connect(ctx)
		if err == nil {
			if err := c.established(s); err != nil {
				return c.fail(err)
			}
			c.wg.Add(1)
			go c.supervise(s)
			return nil
		}
		last = err
		c.log.Warn("connect failed", "err", err, "attempt", attempt)
		if fatal(err) {
			return c.fail(err)
		}
		if werr := c.policy.Wait(ctx, attempt); werr != nil {
			if c.life.Err() != nil {
				return ErrClosed
			}
			return c.fail(fmt.Errorf("im: start: %w (last error: %w)", werr, last))
		}
	}
}

func (c *Client) fail(err error) error {
	c.mu.Lock()
	c.health = csf.Health{Status: "failed", LastError: err, Since: time.Now(), Server: c.cfg.Server}
	c.mu.Unlock()
	return err
}

// fatal reports errors that reconnecting cannot fix.
func fatal(err error) bool {
	var te *csf.TLSError
	return errors.Is(err, ErrAuth) || errors.As(err, &te) || errors.Is(err, ErrBadAddress)
}

// established makes s the current session: it settles stream management
// (resend what the server missed), starts the reader's companions, and on
// a fresh session sends presence, enables carbons and catches up from the
// archive.
func (c *Client) established(s *session) error {
	neg := s.neg
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.conn.Close()
		return ErrClosed
	}
	var resend []sm.Item
	if neg.resumed {
		items, err := c.sm.Resumed(neg.resumeH)
		if err != nil {
			c.log.Warn("bad resumption counter, resending all", "err", err)
		}
		resend = items
		c.counters.resumed++
	} else {
		resend = c.sm.Fail(neg.failedH, neg.hasFailH)
		// Replies and requests queued for the old session are stale.
		kept := c.outbox[:0]
		for _, it := range c.outbox {
			if it.resend {
				kept = append(kept, it)
			}
		}
		c.outbox = kept
		if neg.smOn {
			c.sm.Enable(neg.smID, neg.smLoc)
		}
		c.ackAsked, c.ackWanted = false, false
		c.failIQsLocked()
	}
	if len(resend) > 0 {
		items := make([]outItem, 0, len(resend)+len(c.outbox))
		for _, it := range resend {
			items = append(items, outItem{data: it.Data, resend: it.Resend})
		}
		c.outbox = append(items, c.outbox...)
	}
	c.ackAsked = false
	c.sess = s
	c.boundJID = neg.jid
	if c.started && c.health.Status != "connecting" {
		c.counters.reconnects++
	}
	c.health = csf.Health{Healthy: true, Status: "connected", Server: s.server, Since: time.Now(),
		TLS: csf.SummarizeConn(neg.tlsState)}
	pres := c.presence
	rooms := make([]*Room, 0, len(c.rooms))
	for _, r := range c.rooms {
		rooms = append(rooms, r)
	}
	c.mu.Unlock()

	c.log.Info("connected", "server", s.server, "bound", neg.jid.String(), "resumed", neg.resumed,
		"stream_management", neg.smOn || neg.resumed, "sasl", neg.mech, "resent", len(resend))
	c.wg.Add(1)
	go c.writer(s)
	c.kick()
	if !neg.resumed {
		// Carbons before presence, so that no message slips between
		// (XEP-0280 section 4).
		c.enqueue(carbonsEnable(ignoredIQ+c.newID()), false)
		c.enqueue(presenceStanza(pres, ""), false)
		for _, r := range rooms {
			r.rejoin()
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.catchUp(s)
		}()
	}
	csf.Publish(c.cfg.Events, Connected{JID: neg.jid.String(), Server: s.server, Resumed: neg.resumed, Mechanism: neg.mech})
	return nil
}

// failIQsLocked ends every pending IQ with ErrNotConnected.
func (c *Client) failIQsLocked() {
	for id, p := range c.iqs {
		p.finish(nil, ErrNotConnected)
		delete(c.iqs, id)
	}
}

// supervise runs sessions until Close: it reads s, and after it ends
// reconnects with backoff, resuming when possible.
func (c *Client) supervise(s *session) {
	defer c.wg.Done()
	for {
		err := c.read(s)
		c.endSession(s, err)
		if c.life.Err() != nil {
			return
		}
		for attempt := 0; ; attempt++ {
			d := c.policy.Delay(attempt)
			if attempt == 0 {
				d /= 4 // the first retry is quick: most drops are one-off
			}
			c.setHealth(false, fmt.Sprintf("reconnecting in %s", d.Round(time.Millisecond)), err)
			csf.Publish(c.cfg.Events, Disconnected{Err: err, Retry: d})
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.life.Done():
				t.Stop()
				return
			}
			ns, cerr := c.connect(c.life)
			if cerr == nil {
				if c.established(ns) != nil {
					return
				}
				s = ns
				break
			}
			err = cerr
			c.log.Warn("reconnect failed", "err", cerr, "attempt", attempt)
			if fatal(cerr) {
				c.setHealth(false, "failed: "+cerr.Error(), cerr)
				csf.Publish(c.cfg.Events, Disconnected{Err: cerr})
				c.log.Error("giving up", "err", cerr)
				return
			}
		}
	}
}

func (c *Client) setHealth(ok bool, status string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.health.Healthy, c.health.Status, c.health.LastError, c.health.Since = ok, status, err, time.Now()
}

// endSession closes s's connection and forgets it.
func (c *Client) endSession(s *session, err error) {
	s.conn.Close()
	c.mu.Lock()
	if c.sess == s {
		c.sess = nil
	}
	if !c.sm.Resumable() {
		c.failIQsLocked()
	}
	c.disconnErr = err
	c.mu.Unlock()
	close(s.done)
	if c.life.Err() == nil {
		c.log.Info("disconnected", "err", err)
	}
}

// enqueue queues a stanza for the writer. Messages (resend) survive a
// lost session; other stanzas go only to the session they were meant for.
func (c *Client) enqueue(data []byte, resend bool) {
	c.mu.Lock()
	c.outbox = append(c.outbox, outItem{data: data, resend: resend})
	c.mu.Unlock()
	c.kick()
}

func (c *Client) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// maxBatch bounds one write.
const maxBatch = 64 << 10

// The client asks the server to acknowledge (XEP-0198 <r/>) when ackEvery
// stanzas are unacknowledged, or ackDelay after a write.
const (
	ackEvery    = 16
	ackDelay    = 200 * time.Millisecond
	maxInFlight = 512
)

// writer writes queued stanzas to s in batches: everything queued since
// the last write goes out in one write, with an ack request when due. It
// also keeps the connection alive: when the server has been silent for
// PingInterval it pings (XEP-0199), and when neither the answer nor
// anything else arrives within PingTimeout it drops the connection, so
// that the supervisor reconnects. (One goroutine fewer per session than a
// separate pinger: idle sessions are what a test fleet has most of.)
func (c *Client) writer(s *session) {
	defer c.wg.Done()
	var buf []byte
	askTimer := time.NewTimer(time.Hour)
	askTimer.Stop()
	defer askTimer.Stop()
	askNow := false
	var pingTick <-chan time.Time
	if c.cfg.PingInterval > 0 {
		t := time.NewTicker(c.cfg.PingInterval)
		defer t.Stop()
		pingTick = t.C
	}
	pingTimeout := time.NewTimer(time.Hour)
	pingTimeout.Stop()
	defer pingTimeout.Stop()
	var ping *pendingIQ
	var pingSent time.Time
	lastRead := func() time.Time { return time.Unix(0, s.raw.lastRead.Load()) }
	for {
		select {
		case <-c.wake:
		case <-askTimer.C:
			askNow = true
		case now := <-pingTick:
			if ping != nil || lastRead().After(now.Add(-c.cfg.PingInterval)) {
				continue // a ping is out, or the server spoke lately
			}
			p, _, err := c.sendIQ("get", "", []byte(pingPayload))
			if err != nil {
				continue
			}
			ping, pingSent = p, now
			pingTimeout.Reset(c.cfg.PingTimeout)
			continue // sendIQ woke us to write it
		case <-pingTimeout.C:
			p := ping
			ping = nil
			if p == nil {
				continue
			}
			select {
			case <-p.done:
				continue // answered (an error answer is an answer too)
			default:
			}
			if lastRead().After(pingSent) {
				continue // the answer is stuck behind a backlog, but the server talks
			}
			c.log.Warn("ping unanswered, dropping connection", "timeout", c.cfg.PingTimeout)
			s.conn.Close()
			return
		case <-s.done:
			return
		case <-c.life.Done():
			return
		}
		for {
			buf = buf[:0]
			c.mu.Lock()
			if c.sess != s {
				c.mu.Unlock()
				break
			}
			n := 0
			// With stream management, at most maxInFlight stanzas are out
			// unacknowledged: a burst then waits in our queue, not in the
			// server's (prosody slows down as its queue grows).
			window := func() bool { return !c.sm.Enabled() || c.sm.Pending() < maxInFlight }
			for n < len(c.outbox) && (n == 0 || len(buf)+len(c.outbox[n].data) <= maxBatch) && window() {
				it := c.outbox[n]
				buf = append(buf, it.data...)
				c.sm.Sent(it.data, it.resend)
				n++
			}
			clear(c.outbox[:n])
			c.outbox = c.outbox[n:]
			askLater := false
			if c.sm.Enabled() {
				if c.ackWanted {
					buf = fmt.Appendf(buf, "<a xmlns='%s' h='%d'/>", sm.NS, c.sm.In())
					c.ackWanted = false
				}
				// Ask for an ack once enough is unacknowledged, else a moment
				// after the last write: asking after every stanza makes the
				// server answer every stanza with a small <a/>, and a small
				// unacknowledged segment stalls its next write for the
				// peer's delayed ACK (Nagle), 40 ms on Linux.
				switch {
				case c.ackAsked || c.sm.Pending() == 0:
				case c.sm.Pending() >= ackEvery || askNow:
					buf = append(buf, "<r xmlns='urn:xmpp:sm:3'/>"...)
					c.ackAsked = true
				default:
					askLater = true
				}
			}
			askNow = false
			c.counters.sent += int64(n)
			more := len(c.outbox) > 0 && window() // else the next <a/> wakes us
			c.mu.Unlock()
			if askLater {
				askTimer.Reset(ackDelay)
			}
			if len(buf) == 0 {
				break
			}
			if _, err := s.conn.Write(buf); err != nil {
				// The reader notices the broken connection; what was counted
				// as sent stays queued in the stream-management state.
				s.conn.Close()
				return
			}
			if !more {
				break
			}
		}
	}
}

// Health reports the connection state; it does not block.
func (c *Client) Health() csf.Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.health
	h.Counters = map[string]int64{
		"messages_sent_stanzas": c.counters.sent, "stanzas_received": c.counters.received,
		"reconnects": c.counters.reconnects, "resumed": c.counters.resumed,
		"dropped": c.counters.dropped, "duplicates": c.counters.duplicates,
		"unacked": int64(c.sm.Pending()),
	}
	return h
}

// Shutdown sends unavailable presence, waits (within ctx) for the server
// to acknowledge what was sent, closes the stream and frees everything.
func (c *Client) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		c.enqueue(presenceStanza(Presence{}, ""), false)
		// An IQ round trip proves everything before it reached the server.
		_ = c.pingOn(ctx, s)
		// The stream's end; the server answers with its own and closes.
		_, _ = io.WriteString(s.conn, "</stream:stream>")
		select {
		case <-s.done:
		case <-ctx.Done():
		}
	}
	return c.Close()
}

// Close stops at once: the connection is dropped without goodbye and every
// goroutine is joined. A second call returns an error matching
// net.ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	s := c.sess
	c.failIQsLocked()
	for _, q := range c.mam {
		q.finish(nil, ErrClosed)
	}
	c.mu.Unlock()
	c.cancel()
	if s != nil {
		s.conn.Close()
	}
	c.wg.Wait()
	c.mu.Lock()
	c.health = csf.Health{Status: "closed", Since: time.Now()}
	c.mu.Unlock()
	return nil
}

// ignoredIQ prefixes the ids of requests whose answer does not matter
// (enabling carbons: a server without them just says no).
const ignoredIQ = "x-"

// newID returns a random stanza id.
func (c *Client) newID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
