package voicemail

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Conn is one authenticated IMAP session on the voicemail folder: the
// client side of visual voicemail without background work. Its methods
// are safe for concurrent use; they run one at a time. Cancelling a
// method's context aborts the session (IMAP has no way to cancel a
// command), after which every method returns an error matching
// net.ErrClosed.
type Conn struct {
	cfg Config
	log *slog.Logger
	c   *imapclient.Client
	// changed is signalled (never blocking) when the server reports news
	// about the selected folder: new messages, expunges, flag changes.
	changed chan struct{}

	mu         sync.Mutex // guards the fields below and serialises commands
	selected   string     // folder currently selected
	sel        Snapshot   // state of Folder as last selected (UIDs not filled)
	condstore  bool
	canQResync bool    // offered at login (go-imap forgets capabilities when the session dies)
	noRaw      bool    // list through go-imap only (tests)
	trash      *string // resolved Trash folder ("" = none); nil = not looked up
	mech       string  // how the session logged in; set by Dial, then fixed
	// endFix is under go-imap's implicit-TLS session, nil under STARTTLS
	// (auth.go, emptyResponseConn).
	endFix *emptyResponseConn

	// lastNotify is when the server last reported a change (Unix ns), for
	// measuring notification latency.
	lastNotify atomic.Int64
	// forcePoll makes waitChange poll with NOOP even when IDLE is offered.
	forcePoll bool

	// raw is the session of our own wire code that full listings and
	// QRESYNC re-syncs run on (qresync.go), nil until the first or after
	// it failed; rawDials counts its logins, qresyncs the re-syncs.
	// noQResync is set once the server turned out unable to do them.
	raw       atomic.Pointer[rawConn]
	rawDials  atomic.Int64
	qresyncs  atomic.Int64
	noQResync atomic.Bool

	// closed is set by Logout and Close; Close does not take mu, so that
	// it works while an Audio or an IDLE holds the session.
	closed atomic.Bool

	tlsMu    sync.Mutex // guards tlsState
	tlsState *tls.ConnectionState
}

// Dial connects to cfg.Server with TLS (implicit or STARTTLS, as
// cfg.TLSMode says), logs in and selects cfg.Folder. A certificate that
// does not verify gives a *csf.TLSError, a refused login an *AuthError, a
// missing folder an error matching ErrNoMailbox.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	cfg, err := cfg.check()
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.DialTimeout)
		defer cancel()
	}
	vc := &Conn{
		cfg:     cfg,
		log:     cfg.Logger.With("server", cfg.Server),
		changed: make(chan struct{}, 1),
	}
	if err := vc.dial(ctx); err != nil {
		return nil, err
	}
	return vc, nil
}

func (vc *Conn) notify() {
	vc.lastNotify.Store(time.Now().UnixNano())
	select {
	case vc.changed <- struct{}{}:
	default:
	}
}

func (vc *Conn) dial(ctx context.Context) error {
	cfg := vc.cfg
	host := cfg.TLS.ServerName
	// Keep the verified handshake for diagnostics, whichever way TLS began.
	cfg.TLS = cfg.TLS.Clone()
	prev := cfg.TLS.VerifyConnection
	cfg.TLS.VerifyConnection = func(cs tls.ConnectionState) error {
		if prev != nil {
			if err := prev(cs); err != nil {
				return err
			}
		}
		vc.tlsMu.Lock()
		vc.tlsState = &cs
		vc.tlsMu.Unlock()
		return nil
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", cfg.Server)
	if err != nil {
		return fmt.Errorf("voicemail: connect %s: %w", cfg.Server, err)
	}
	// IMAP commands take no context: closing the socket is how a
	// cancelled ctx interrupts them.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	opts := &imapclient.Options{
		TLSConfig: cfg.TLS,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Expunge: func(uint32) { vc.notify() },
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					vc.notify()
				}
			},
			// Flag changes by other sessions. go-imap runs this in a
			// goroutine of its own; draining the items lets its reader go on.
			Fetch: func(msg *imapclient.FetchMessageData) {
				_, _ = msg.Collect()
				vc.notify()
			},
		},
		WordDecoder: wordDecoder,
	}
	var c *imapclient.Client
	switch cfg.TLSMode {
	case TLSImplicit:
		tc := tls.Client(raw, cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return fmt.Errorf("voicemail: connect %s: %w", cfg.Server, cfg.Trust.Classify(host, err))
		}
		vc.endFix = &emptyResponseConn{Conn: tc}
		c = imapclient.New(vc.endFix, opts)
	case TLSStartTLS:
		// STARTTLS by our own hand (RFC 3501 section 6.2.1) rather than
		// go-imap's, which keeps the TLS connection to itself: the session
		// then runs over one we hold, under which emptyResponseConn mends
		// SCRAM's last line, and which hands go-imap a greeting of its own.
		pre := &rawConn{conn: raw, r: bufio.NewReaderSize(raw, 4<<10)}
		if _, err := pre.greeting(); err != nil {
			raw.Close()
			return fmt.Errorf("voicemail: connect %s: %w", cfg.Server, ctxErr(ctx, err))
		}
		if err := pre.command("STARTTLS", nil); err != nil {
			raw.Close()
			return fmt.Errorf("voicemail: connect %s: starttls: %w", cfg.Server, ctxErr(ctx, err))
		}
		tc := tls.Client(raw, cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			if ctx.Err() != nil {
				return fmt.Errorf("voicemail: connect %s: %w", cfg.Server, ctx.Err())
			}
			return fmt.Errorf("voicemail: connect %s: starttls: %w", cfg.Server, cfg.Trust.Classify(host, err))
		}
		vc.endFix = &emptyResponseConn{Conn: tc, greeting: []byte("* OK TLS is on\r\n")}
		c = imapclient.New(vc.endFix, opts)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return fmt.Errorf("voicemail: connect %s: %w", cfg.Server, ctxErr(ctx, err))
	}
	if err := vc.login(c); err != nil {
		c.Close()
		return ctxErr(ctx, err)
	}
	vc.c = c
	vc.condstore = c.Caps().Has(imap.CapCondStore)
	vc.canQResync = vc.condstore && c.Caps().Has(imap.CapQResync)
	vc.log.Debug("voicemail connected", "tls_mode", cfg.TLSMode, "mechanism", vc.mech,
		"condstore", vc.condstore, "idle", c.Caps().Has(imap.CapIdle))
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if err := vc.selectLocked(cfg.Folder); err != nil {
		c.Close()
		return ctxErr(ctx, err)
	}
	return nil
}

// login authenticates over the TLS session (the connection is TLS by
// construction, see dial) with the best mechanism the server offers:
// SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, then LOGIN (auth.go).
func (vc *Conn) login(c *imapclient.Client) error {
	mech, err := vc.authenticate(c)
	if err != nil {
		return err
	}
	vc.mech = mech
	return nil
}

// ctxErr prefers the context's error: a command failing because ctx
// closed the socket should say so.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && err != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// begin locks the connection for one operation bounded by ctx.
func (vc *Conn) begin(ctx context.Context) (end func(), err error) {
	vc.mu.Lock()
	if vc.closed.Load() {
		vc.mu.Unlock()
		return nil, fmt.Errorf("voicemail: %w", net.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		vc.mu.Unlock()
		return nil, err
	}
	c := vc.c
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return func() { stop(); vc.mu.Unlock() }, nil
}

func (vc *Conn) selectLocked(folder string) error {
	if vc.selected == folder {
		return nil
	}
	data, err := vc.c.Select(folder, &imap.SelectOptions{CondStore: vc.condstore}).Wait()
	if err != nil {
		vc.selected = ""
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
			return fmt.Errorf("voicemail: select %s: %w (%v)", folder, ErrNoMailbox, err)
		}
		return fmt.Errorf("voicemail: select %s: %w", folder, err)
	}
	vc.selected = folder
	if folder == vc.cfg.Folder {
		vc.sel = Snapshot{UIDValidity: data.UIDValidity, UIDNext: uint32(data.UIDNext), HighestModSeq: data.HighestModSeq}
	}
	return nil
}

// answerTimeout bounds the wait for the server's answer to IDLE and DONE,
// which go-imap waits for without a deadline.
const answerTimeout = 10 * time.Second

// Caps reports what the server offers that this client uses.
type Caps struct {
	Idle, CondStore, QResync, Move, UIDPlus, SpecialUse bool
}

// Caps returns the server's relevant capabilities.
func (vc *Conn) Caps() Caps {
	caps := vc.c.Caps()
	return Caps{
		Idle: caps.Has(imap.CapIdle), CondStore: caps.Has(imap.CapCondStore), QResync: caps.Has(imap.CapQResync),
		Move: caps.Has(imap.CapMove), UIDPlus: caps.Has(imap.CapUIDPlus), SpecialUse: caps.Has(imap.CapSpecialUse),
	}
}

// Mechanism returns how the session logged in: a SASL mechanism name
// ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN") or "LOGIN" for the IMAP LOGIN
// command. Under STARTTLS it is "PLAIN" (or "LOGIN") when the server
// refused go-imap's final SCRAM response ("=" where RFC 3501 wants an
// empty line; dovecot and Cyrus refuse it) after proving it knows the
// password; under implicit TLS the client mends that line and keeps
// SCRAM. The separate sessions of the listing and re-syncs choose the
// same way and end SCRAM properly in both modes.
func (vc *Conn) Mechanism() string { return vc.mech }

// TLSState returns the TLS connection state.
func (vc *Conn) TLSState() (tls.ConnectionState, bool) {
	vc.tlsMu.Lock()
	defer vc.tlsMu.Unlock()
	if vc.tlsState == nil {
		return tls.ConnectionState{}, false
	}
	return *vc.tlsState, true
}

// Closed returns a channel closed when the session ends for any reason.
func (vc *Conn) Closed() <-chan struct{} { return vc.c.Closed() }

// Logout ends the session politely (IMAP LOGOUT) within ctx, then closes
// it. A second call returns an error matching net.ErrClosed.
func (vc *Conn) Logout(ctx context.Context) error {
	end, err := vc.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if vc.closed.Swap(true) {
		return fmt.Errorf("voicemail: %w", net.ErrClosed)
	}
	if rc := vc.raw.Swap(nil); rc != nil {
		rc.logout()
	}
	err = vc.c.Logout().Wait()
	cerr := vc.c.Close()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("voicemail: logout: %w", ctxErr(ctx, err))
	}
	_ = cerr
	return nil
}

// Close drops the session at once. A second call returns an error
// matching net.ErrClosed.
func (vc *Conn) Close() error {
	if vc.closed.Swap(true) {
		return fmt.Errorf("voicemail: %w", net.ErrClosed)
	}
	if rc := vc.raw.Swap(nil); rc != nil {
		rc.close()
	}
	return closeClient(vc.c)
}

// closeClient closes without waiting on the connection lock, which an
// open Audio may hold.
func closeClient(c *imapclient.Client) error {
	if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "closed") {
		return fmt.Errorf("voicemail: close: %w", err)
	}
	return nil
}

// Noop asks the server for news (RFC 3501 section 6.1.2); news arrive as
// change notifications.
func (vc *Conn) Noop(ctx context.Context) error {
	end, err := vc.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := vc.c.Noop().Wait(); err != nil {
		return fmt.Errorf("voicemail: noop: %w", ctxErr(ctx, err))
	}
	return nil
}

// waitChange blocks until the server reports a change to the folder, the
// refresh period passes, or ctx ends. With IDLE (RFC 2177) it idles and
// ends the IDLE well before the server's timeout; without, it polls with
// NOOP every poll period. It returns true when a change was reported.
func (vc *Conn) waitChange(ctx context.Context, refresh, poll time.Duration) (bool, error) {
	select {
	case <-vc.changed:
		return true, nil
	default:
	}
	if vc.forcePoll || !vc.c.Caps().Has(imap.CapIdle) {
		t := time.NewTimer(poll)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return false, ctx.Err()
		case <-vc.c.Closed():
			return false, fmt.Errorf("voicemail: connection lost: %w", net.ErrClosed)
		}
		if err := vc.Noop(ctx); err != nil {
			return false, err
		}
		select {
		case <-vc.changed:
			return true, nil
		default:
			return false, nil
		}
	}
	// Not begin: a cancelled ctx ends the IDLE politely (DONE) and keeps
	// the session for a LOGOUT, rather than dropping it.
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.closed.Load() {
		return false, fmt.Errorf("voicemail: %w", net.ErrClosed)
	}
	// Idle blocks until the server answers; on a connection that died
	// silently that is forever, so a watchdog drops the session.
	wd := time.AfterFunc(answerTimeout, func() { vc.c.Close() })
	idle, err := vc.c.Idle()
	wd.Stop()
	if err != nil {
		return false, fmt.Errorf("voicemail: idle: %w", ctxErr(ctx, err))
	}
	t := time.NewTimer(refresh)
	defer t.Stop()
	changed := false
	select {
	case <-vc.changed:
		changed = true
	case <-t.C:
	case <-ctx.Done():
	case <-vc.c.Closed():
	}
	// A connection that died silently never answers DONE (go-imap issue
	// 602): bound the wait and drop the session if it does not come.
	done := make(chan error, 1)
	go func() { done <- idle.Close() }()
	dt := time.NewTimer(answerTimeout)
	defer dt.Stop()
	select {
	case err = <-done:
	case <-dt.C:
		vc.c.Close()
		err = <-done
		if err == nil {
			err = errors.New("no answer to DONE")
		}
	}
	if err == nil {
		err = idle.Wait()
	}
	if ctx.Err() != nil {
		return changed, ctx.Err()
	}
	if err != nil {
		return changed, fmt.Errorf("voicemail: idle: %w", err)
	}
	return changed, nil
}
