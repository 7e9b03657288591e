package voicemail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/internal/backoff"
)

// Mailbox is the voicemail service: it keeps the list of voice messages in
// sync in the background and publishes what changes on the csf event
// stream. It implements csf.Service. User operations (audio, heard,
// delete) go over a second session, so that the watching session can
// stay in IDLE.
type Mailbox struct {
	cfg    Config
	log    *slog.Logger
	pub    *csf.Publisher
	policy backoff.Policy

	ctx    context.Context // lifetime of background work; cancelled by Shutdown and Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the supervisor
	kick   chan struct{}  // asks the supervisor to sync now

	mu         sync.Mutex // guards the fields below
	state      int        // 0 new, 1 started, 2 stopped
	snap       *Snapshot
	watch      *Conn // owned by the supervisor; set for Shutdown and Health
	cmd        *Conn // user operations; dialled on demand
	health     csf.Health
	reconnects int64
	syncs      int64
	qresyncs   int64 // syncs done with QRESYNC
}

var _ csf.Service = (*Mailbox)(nil)

// New checks cfg and returns a Mailbox; it does no I/O.
func New(cfg Config) (*Mailbox, error) {
	cfg, err := cfg.check()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mailbox{
		cfg: cfg, log: cfg.Logger.With("service", "voicemail"), pub: cfg.Events,
		policy: backoff.Policy{Base: cfg.ReconnectBase, Max: cfg.ReconnectMax},
		ctx:    ctx, cancel: cancel, kick: make(chan struct{}, 1),
	}
	m.health = csf.Health{Status: "not started", Server: cfg.Server, Since: time.Now()}
	return m, nil
}

// Spec returns the csf registration of a voicemail service named
// "voicemail". The framework's settings (a *config.Snapshot) override
// base through [ConfigFrom] when present; its logger, event publisher and
// trust roots are used when base leaves them unset.
func Spec(base Config) csf.ServiceSpec {
	return csf.ServiceSpec{
		Name: "voicemail",
		Keys: []string{"VoicemailPrimaryServer", "VoicemailTLS", "VoicemailFolder", "VoicemailUserName",
			"VoicemailPassword", "UserName", "Password", "Domain", "TrustedCAFile", "UseSystemTrustStore"},
		New: func(env csf.Env) (csf.Service, error) {
			cfg := base
			if snap, ok := env.Settings.(*config.Snapshot); ok {
				fromSettings, err := ConfigFrom(snap)
				if err != nil {
					return nil, err
				}
				fromSettings.TrashFolder, fromSettings.CacheFile = base.TrashFolder, base.CacheFile
				fromSettings.AudioCacheDir = base.AudioCacheDir
				fromSettings.TLS, fromSettings.DialTimeout = base.TLS, base.DialTimeout
				fromSettings.IdleRefresh, fromSettings.PollInterval = base.IdleRefresh, base.PollInterval
				fromSettings.ReconnectBase, fromSettings.ReconnectMax = base.ReconnectBase, base.ReconnectMax
				if fromSettings.Trust == nil {
					fromSettings.Trust = base.Trust
				}
				cfg = fromSettings
			}
			if cfg.Logger == nil {
				cfg.Logger = env.Logger
			}
			if cfg.Events == nil {
				cfg.Events = env.Events
			}
			if cfg.Callers == nil {
				cfg.Callers = env.Callers
			}
			if cfg.TLS == nil && cfg.Trust == nil && env.Roots != nil {
				host, _, _ := net.SplitHostPort(cfg.Server)
				cfg.TLS = &tls.Config{ServerName: host, RootCAs: env.Roots, MinVersion: tls.VersionTLS12}
			}
			return New(cfg)
		},
	}
}

// Start shows the cached list at once (publishing CountChanged) and
// connects. With a cached list it returns at once and connects in the
// background; without, it returns when the first listing is done, or with
// the error that prevented it (a *csf.TLSError, an *AuthError…). ctx
// bounds start-up only.
func (m *Mailbox) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.state != 0 {
		m.mu.Unlock()
		return fmt.Errorf("voicemail: start: already started")
	}
	m.state = 1
	m.mu.Unlock()
	if m.cfg.CacheFile != "" {
		snap, err := loadCache(m.cfg.CacheFile, m.cfg)
		if err != nil {
			m.log.Warn("voicemail cache unreadable; listing afresh", "error", err)
		}
		if snap != nil {
			m.mu.Lock()
			m.snap = snap
			m.setHealthLocked(false, "connecting (showing cached list)", nil)
			m.mu.Unlock()
			m.publishCount(nil, snap)
			m.wg.Add(1)
			go m.run(nil)
			return nil
		}
	}
	m.setHealth(false, "connecting", nil)
	conn, err := Dial(ctx, m.cfg)
	if err != nil {
		m.setHealth(false, "failed", err)
		return err
	}
	if err := m.sync(ctx, conn); err != nil {
		conn.Close()
		m.setHealth(false, "failed", err)
		return err
	}
	conn.forcePoll = m.cfg.forcePoll
	m.wg.Add(1)
	go m.run(conn)
	return nil
}

// run is the supervisor: it waits for changes on the watching session,
// syncs, and reconnects with backoff when the session fails.
func (m *Mailbox) run(conn *Conn) {
	defer m.wg.Done()
	attempt := 0
	defer func() {
		if conn != nil {
			m.mu.Lock()
			m.watch = conn // for Shutdown's LOGOUT
			m.mu.Unlock()
		}
	}()
	// backoff waits before the next attempt; false means stop.
	backoff := func(err error) bool {
		delay := m.policy.Delay(attempt)
		attempt++
		m.log.Warn("voicemail server unreachable", "error", err, "retry_in", delay)
		m.setHealth(false, fmt.Sprintf("reconnecting in %s", delay.Round(time.Millisecond)), err)
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-m.ctx.Done():
			return false
		}
	}
	for {
		if conn == nil {
			c, err := Dial(m.ctx, m.cfg)
			if err != nil {
				if m.ctx.Err() != nil || !backoff(err) {
					return
				}
				continue
			}
			c.forcePoll = m.cfg.forcePoll
			m.mu.Lock()
			m.reconnects++
			m.mu.Unlock()
			m.log.Info("voicemail connected", "server", m.cfg.Server)
			if err := m.sync(m.ctx, c); err != nil {
				// Connected but unusable (folder gone, say): back off too,
				// rather than reconnecting in a tight loop.
				m.dropped(c, err)
				if m.ctx.Err() != nil || !backoff(err) {
					return
				}
				continue
			}
			conn, attempt = c, 0
		}
		m.mu.Lock()
		m.watch = conn
		m.mu.Unlock()
		conn.prepareQResync(m.ctx)
		changed, err := m.waitChange(conn)
		if m.ctx.Err() != nil {
			return
		}
		if err == nil && changed {
			err = m.sync(m.ctx, conn)
		}
		if err != nil {
			m.dropped(conn, err)
			conn = nil
		}
	}
}

// waitChange waits on the watching session or for a kick from a user
// operation.
func (m *Mailbox) waitChange(conn *Conn) (bool, error) {
	select {
	case <-m.kick:
		return true, nil
	default:
	}
	ctx, cancel := context.WithCancel(m.ctx)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-m.kick:
			conn.notify()
		case <-stop:
		}
	})
	changed, err := conn.waitChange(ctx, m.cfg.IdleRefresh, m.cfg.PollInterval)
	close(stop)
	wg.Wait()
	return changed, err
}

func (m *Mailbox) dropped(conn *Conn, err error) {
	conn.Close()
	m.mu.Lock()
	if m.watch == conn {
		m.watch = nil
	}
	m.mu.Unlock()
	m.log.Warn("voicemail connection lost", "error", err)
	m.setHealth(false, "reconnecting", err)
}

// sync brings the list up to date and publishes the differences.
func (m *Mailbox) sync(ctx context.Context, conn *Conn) error {
	m.mu.Lock()
	prev := m.snap
	m.mu.Unlock()
	q0 := conn.qresyncs.Load()
	next, err := conn.Sync(ctx, prev)
	if err != nil && (next == nil || len(next.Messages) == 0) {
		return err
	}
	m.mu.Lock()
	m.snap = next
	m.syncs++
	m.qresyncs += conn.qresyncs.Load() - q0
	m.setHealthLocked(true, "connected", nil)
	if st, ok := conn.TLSState(); ok {
		m.health.TLS = csf.SummarizeConn(st)
	}
	m.mu.Unlock()
	arrived, changed, removed, renumbered := diff(prev, next)
	// Prune before publishing: a subscriber acting on MessageRemoved finds
	// the cached audio gone with it.
	if m.cfg.AudioCacheDir != "" && (len(removed) > 0 || renumbered) {
		pruneAudioCache(m.cfg.AudioCacheDir, next.UIDValidity, removed, renumbered)
	}
	if renumbered {
		csf.Publish(m.pub, Resynced{UIDValidity: next.UIDValidity, Total: len(next.Messages)})
	}
	for _, id := range removed {
		csf.Publish(m.pub, MessageRemoved{ID: id})
	}
	for _, v := range arrived {
		csf.Publish(m.pub, MessageArrived{Message: v, Caller: m.resolveCaller(ctx, v)})
	}
	for _, v := range changed {
		csf.Publish(m.pub, MessageChanged{Message: v})
	}
	m.publishCount(prev, next)
	if m.cfg.CacheFile != "" {
		if cerr := saveCache(m.cfg.CacheFile, m.cfg, next); cerr != nil {
			m.log.Warn("voicemail cache not saved", "error", cerr)
		}
	}
	return err
}

func (m *Mailbox) publishCount(prev, next *Snapshot) {
	if prev != nil && Unheard(prev.Messages) == Unheard(next.Messages) && len(prev.Messages) == len(next.Messages) {
		return
	}
	csf.Publish(m.pub, CountChanged{Unheard: Unheard(next.Messages), Total: len(next.Messages)})
}

func (m *Mailbox) setHealth(ok bool, status string, err error) {
	m.mu.Lock()
	m.setHealthLocked(ok, status, err)
	m.mu.Unlock()
}

func (m *Mailbox) setHealthLocked(ok bool, status string, err error) {
	if m.health.Healthy != ok || m.health.Status != status {
		m.health.Since = time.Now()
	}
	m.health.Healthy, m.health.Status = ok, status
	if err != nil {
		m.health.LastError = err
	}
}

// Health reports the connection state and counters; it does not block.
func (m *Mailbox) Health() csf.Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.health
	h.Counters = map[string]int64{"reconnects": m.reconnects, "syncs": m.syncs, "qresync_syncs": m.qresyncs}
	if m.snap != nil {
		h.Counters["messages"] = int64(len(m.snap.Messages))
		h.Counters["unheard"] = int64(Unheard(m.snap.Messages))
	}
	return h
}

// Messages returns the current list (from the cache until the first sync),
// oldest first. It does not block on the network.
func (m *Mailbox) Messages() []Voicemail {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap == nil {
		return nil
	}
	return slices.Clone(m.snap.Messages)
}

// Unheard returns the message-waiting count.
func (m *Mailbox) Unheard() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap == nil {
		return 0
	}
	return Unheard(m.snap.Messages)
}

// Refresh asks the background sync to run now (it runs on its own on
// every server notification).
func (m *Mailbox) Refresh() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// command returns the session for user operations, dialling it if needed.
func (m *Mailbox) command(ctx context.Context) (*Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != 1 {
		return nil, fmt.Errorf("voicemail: %w", ErrNotStarted)
	}
	if m.cmd != nil {
		select {
		case <-m.cmd.Closed():
			m.cmd.Close()
			m.cmd = nil
		default:
			return m.cmd, nil
		}
	}
	c, err := Dial(ctx, m.cfg)
	if err != nil {
		return nil, err
	}
	m.cmd = c
	return c, nil
}

// do runs op on the command session and, when the session broke, drops
// it so the next call dials afresh.
func (m *Mailbox) do(ctx context.Context, op func(c *Conn) error) error {
	c, err := m.command(ctx)
	if err != nil {
		return err
	}
	err = op(c)
	if err != nil {
		select {
		case <-c.Closed():
			m.mu.Lock()
			if m.cmd == c {
				m.cmd = nil
			}
			m.mu.Unlock()
			c.Close()
		default:
		}
	}
	return err
}

// Audio streams the audio of message id; see [Conn.Audio]. Close it before
// the next user operation.
func (m *Mailbox) Audio(ctx context.Context, id ID) (*Audio, error) {
	dir := m.cfg.AudioCacheDir
	var validity uint32
	if dir != "" {
		m.mu.Lock()
		var v *Voicemail
		if m.snap != nil {
			validity = m.snap.UIDValidity
			if found, ok := m.snap.Find(id); ok {
				cp := *found
				v = &cp
			}
		}
		m.mu.Unlock()
		if v != nil {
			if a := openCachedAudio(dir, validity, v); a != nil {
				return a, nil
			}
		}
	}
	var a *Audio
	err := m.do(ctx, func(c *Conn) (err error) { a, err = c.Audio(ctx, id); return err })
	if err != nil || dir == "" || validity == 0 {
		return a, err
	}
	return teeToCache(a, dir, validity, id), nil
}

// Export writes message id as a 16-bit PCM WAV file to w.
func (m *Mailbox) Export(ctx context.Context, id ID, w io.Writer) (int64, error) {
	var n int64
	err := m.do(ctx, func(c *Conn) (err error) { n, err = c.Export(ctx, id, w); return err })
	return n, err
}

// SetHeard marks message id heard or unheard.
func (m *Mailbox) SetHeard(ctx context.Context, id ID, heard bool) error {
	err := m.do(ctx, func(c *Conn) error { return c.SetHeard(ctx, id, heard) })
	m.Refresh()
	return err
}

// Delete deletes message id; see [Conn.Delete].
func (m *Mailbox) Delete(ctx context.Context, id ID) (ID, error) {
	var tid ID
	err := m.do(ctx, func(c *Conn) (err error) { tid, err = c.Delete(ctx, id); return err })
	m.Refresh()
	return tid, err
}

// Undelete moves message trashID from Trash back; see [Conn.Undelete].
func (m *Mailbox) Undelete(ctx context.Context, trashID ID) (ID, error) {
	var id ID
	err := m.do(ctx, func(c *Conn) (err error) { id, err = c.Undelete(ctx, trashID); return err })
	m.Refresh()
	return id, err
}

// ListTrash lists the messages in Trash; see [Conn.ListTrash].
func (m *Mailbox) ListTrash(ctx context.Context) ([]Voicemail, error) {
	var list []Voicemail
	err := m.do(ctx, func(c *Conn) (err error) { list, err = c.ListTrash(ctx); return err })
	return list, err
}

// stop ends background work and takes the sessions.
func (m *Mailbox) stop() (watch, cmd *Conn, err error) {
	m.mu.Lock()
	if m.state == 2 {
		m.mu.Unlock()
		return nil, nil, fmt.Errorf("voicemail: %w", net.ErrClosed)
	}
	m.state = 2
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	m.mu.Lock()
	watch, cmd = m.watch, m.cmd
	m.watch, m.cmd = nil, nil
	m.setHealthLocked(false, "stopped", nil)
	m.mu.Unlock()
	return watch, cmd, nil
}

// Shutdown stops background work and logs out of the server within ctx.
// A second call (or one after Close) returns an error matching
// net.ErrClosed.
func (m *Mailbox) Shutdown(ctx context.Context) error {
	watch, cmd, err := m.stop()
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range []*Conn{watch, cmd} {
		if c == nil {
			continue
		}
		if err := c.Logout(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
		c.Close()
	}
	return errors.Join(errs...)
}

// Close stops at once. A second call returns an error matching
// net.ErrClosed.
func (m *Mailbox) Close() error {
	// Cancel, then drop the sessions: an IDLE ends at once on a closed
	// socket, and the supervisor does not try to reconnect.
	m.cancel()
	m.mu.Lock()
	if m.state == 2 {
		m.mu.Unlock()
		return fmt.Errorf("voicemail: %w", net.ErrClosed)
	}
	for _, c := range []*Conn{m.watch, m.cmd} {
		if c != nil {
			c.Close()
		}
	}
	m.mu.Unlock()
	watch, cmd, err := m.stop()
	if err != nil {
		return err
	}
	for _, c := range []*Conn{watch, cmd} {
		if c != nil {
			c.Close()
		}
	}
	return nil
}

// callerLookupTimeout bounds a directory lookup, so that a slow directory
// delays a new-message event by no more than this.
const callerLookupTimeout = 2 * time.Second

// resolveCaller asks the directory who left v. The message's own caller
// name stays the fallback: a directory that does not know the number, or
// is down, yields a Person with only the caller ID.
func (m *Mailbox) resolveCaller(ctx context.Context, v Voicemail) csf.Person {
	p := csf.Person{CallerID: v.CallerNumber, Name: v.CallerName}
	if m.cfg.Callers == nil || v.CallerNumber == "" {
		return p
	}
	ctx, cancel := context.WithTimeout(ctx, callerLookupTimeout)
	defer cancel()
	found, err := m.cfg.Callers.LookupCaller(ctx, v.CallerNumber)
	if err != nil {
		if !errors.Is(err, csf.ErrCallerUnknown) {
			m.log.Warn("caller lookup failed", "caller_id", v.CallerNumber, "err", err)
		}
		return p
	}
	if found.Name == "" {
		found.Name = v.CallerName
	}
	found.CallerID = v.CallerNumber
	return found
}
