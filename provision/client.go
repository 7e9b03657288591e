package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/dialrules"
	"github.com/opencsf/opencsf/internal/tftp"
)

// Names of the files CUCM serves to CSF clients.
const (
	AppDialRulesFile       = "CUPC/AppDialRules.xml"
	DirLookupDialRulesFile = "CUPC/DirLookupDialRules.xml"
	JabberConfigFile       = "jabber-config.xml"
)

// DeviceFile returns the name of a device's configuration file:
// DEVICE.cnf.xml, e.g. CSFALICE.cnf.xml.
func DeviceFile(device string) string { return device + ".cnf.xml" }

// DefaultPollInterval is how often files are checked when
// [Config.PollInterval] is 0; it is the ProvisionPollInterval default.
const DefaultPollInterval = 5 * time.Minute

// Config configures a [Client]. Fields tagged config are decoded from the
// layered configuration by [config.Snapshot.Decode].
type Config struct {
	// TftpServer1 and TftpServer2 are TFTP servers (host:port), tried in
	// this order; empty ones are skipped. After a failover the client stays
	// with the server that answered until that one fails in turn, so that
	// a server that is down costs its timeout once, not at every check.
	TftpServer1 string `config:"TftpServer1"`
	TftpServer2 string `config:"TftpServer2"`
	// HTTPFileServer is the base URL of the HTTP file service (CUCM:
	// http://HOST:6970/); empty means none. When set it is tried before
	// the TFTP servers: a conditional GET costs one round trip when
	// nothing changed.
	HTTPFileServer string `config:"HttpFileServer"`
	// DeviceName is the CSF device, whose configuration is
	// DeviceName.cnf.xml; empty means "CSF"+UserName, and no device
	// configuration when both are empty.
	DeviceName string `config:"DeviceName"`
	UserName   string `config:"UserName"`
	// PollInterval is how often the files are checked for changes; 0
	// means DefaultPollInterval, negative means only on [Client.Refresh].
	PollInterval time.Duration `config:"ProvisionPollInterval"`

	// CacheDir keeps the last good files so that a start without servers
	// works; empty means [DefaultCacheDir], "-" means no cache.
	CacheDir string
	// TFTPTimeout is the TFTP retransmission timeout; 0 means 1 s.
	// TFTPRetries is how often a TFTP packet is sent again; 0 means 4. A
	// server that is down costs TFTPTimeout × (TFTPRetries+1) before the
	// next is tried.
	TFTPTimeout time.Duration
	TFTPRetries int
	// HTTPClient fetches from HTTPFileServer; nil means a client with a
	// 10 s timeout.
	HTTPClient *http.Client
	// Store, when set, receives the settings the files carry:
	// jabber-config.xml into the server and policy layers (see
	// [JabberConfig.Sources]) and the device's registrar and transport
	// into the server layer. Nil means the files are only parsed.
	Store *config.Store
	// Logger receives lifecycle and problem records; nil means discard.
	Logger *slog.Logger
	// Events publishes the events of this package; nil means none.
	Events *csf.Publisher
}

// Client keeps the provisioned files of one CSF device current: it fetches
// them from the provisioning servers at start, on a timer and on demand,
// validates each changed file and swaps it in atomically, and keeps a copy
// on disk. It is a [csf.Service].
type Client struct {
	cfg     Config
	log     *slog.Logger
	servers []server
	files   []string
	cache   *cache

	app, lookup dialrules.Set
	device      atomic.Pointer[Device]
	jabber      atomic.Pointer[JabberConfig]

	refreshSem chan struct{} // holds a token during a refresh, so that refreshes do not overlap

	mu        sync.Mutex // guards the fields below
	state     map[string]*FileStatus
	health    csf.Health
	started   bool
	closed    bool
	preferred int // index in servers of the one that answered the last check
	cancel    context.CancelFunc
	done      chan struct{} // closed when the poll loop ends; nil if none
}

// FileStatus describes one provisioned file for diagnostics.
type FileStatus struct {
	Name      string
	InForce   bool      // a good version is in force
	Source    string    // where the version in force came from
	Size      int64     // of the version in force
	SHA256    string    // hex, of the version in force
	Fetched   time.Time // when the version in force was fetched
	Checked   time.Time // last time a server was asked
	FromCache bool      // the version in force came from the disk cache
	LastError error     // the last fetch or validation error, nil after a success

	etag, lastModified string
	rejectedSHA        string // hash of the last version rejected, not validated again
}

// New checks cfg and returns a client; it does no I/O. At least one server
// is required (ErrNoServer); a bad server address or URL names its field.
func New(cfg Config) (*Client, error) {
	c := &Client{cfg: cfg, log: cfg.Logger, state: map[string]*FileStatus{}, refreshSem: make(chan struct{}, 1)}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("service", "provision")
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.HTTPFileServer != "" {
		u, err := url.Parse(cfg.HTTPFileServer)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("provision: HTTPFileServer %q: want an http or https URL", cfg.HTTPFileServer)
		}
		c.servers = append(c.servers, &httpServer{base: u, client: hc})
	}
	tc := &tftp.Client{Timeout: cfg.TFTPTimeout, Retries: cfg.TFTPRetries, MaxSize: MaxFileSize}
	for i, s := range []string{cfg.TftpServer1, cfg.TftpServer2} {
		if s == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fmt.Errorf("provision: TftpServer%d %q: want host:port", i+1, s)
		}
		c.servers = append(c.servers, &tftpServer{addr: s, client: tc})
	}
	if len(c.servers) == 0 {
		return nil, fmt.Errorf("provision: %w", ErrNoServer)
	}
	c.files = []string{AppDialRulesFile, DirLookupDialRulesFile, JabberConfigFile}
	if dev := c.deviceName(); dev != "" {
		c.files = append(c.files, DeviceFile(dev))
	}
	switch cfg.CacheDir {
	case "-":
	case "":
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, fmt.Errorf("provision: cache: %w", err)
		}
		c.cache = &cache{dir: d}
	default:
		c.cache = &cache{dir: cfg.CacheDir}
	}
	for _, f := range c.files {
		c.state[f] = &FileStatus{Name: f}
	}
	c.health = csf.Health{Status: "not started", Server: c.servers[0].String()}
	return c, nil
}

func (c *Client) deviceName() string {
	if c.cfg.DeviceName != "" {
		return c.cfg.DeviceName
	}
	if c.cfg.UserName != "" {
		return "CSF" + c.cfg.UserName
	}
	return ""
}

// Files returns the names of the files the client keeps current.
func (c *Client) Files() []string { return slices.Clone(c.files) }

// AppRules returns the application dial rules in force. The Set is the
// same for the client's life and changes under reloads; transform through
// it to always use the current rules.
func (c *Client) AppRules() *dialrules.Set { return &c.app }

// LookupRules returns the directory-lookup dial rules in force, like
// [Client.AppRules].
func (c *Client) LookupRules() *dialrules.Set { return &c.lookup }

// Device returns the device configuration in force, nil if none.
func (c *Client) Device() *Device { return c.device.Load() }

// JabberConfig returns the jabber-config.xml in force, nil if none.
func (c *Client) JabberConfig() *JabberConfig { return c.jabber.Load() }

// Status returns the state of each file, in [Client.Files] order.
func (c *Client) Status() []FileStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]FileStatus, 0, len(c.files))
	for _, f := range c.files {
		out = append(out, *c.state[f])
	}
	return out
}

// Health reports whether the servers answered the last check.
func (c *Client) Health() csf.Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.health
	h.Counters = maps.Clone(h.Counters)
	return h
}

func (c *Client) count(name string) {
	c.mu.Lock()
	if c.health.Counters == nil {
		c.health.Counters = map[string]int64{}
	}
	c.health.Counters[name]++
	c.mu.Unlock()
}

// Start loads the cached files, then fetches every file, and starts
// checking them every PollInterval. ctx bounds the first fetch. When no
// server answers, Start succeeds if the cache had files (publishing
// [CacheUsed] and reporting itself unhealthy) and fails with an error
// matching [ErrUnreachable] otherwise. Files that are missing or invalid
// on the server do not make Start fail: they are reported by events and
// [Client.Status].
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.closed || c.started {
		c.mu.Unlock()
		return fmt.Errorf("provision: start: %w", net.ErrClosed)
	}
	c.started = true
	c.mu.Unlock()

	cached, saved := c.loadCache()
	err := c.Refresh(ctx)
	if err != nil && errors.Is(err, ErrUnreachable) {
		if len(cached) == 0 {
			return err
		}
		dir := c.cache.dir
		c.log.Warn("provisioning servers unreachable; using cached files", "dir", dir, "files", cached, "saved", saved, "err", err)
		csf.Publish(c.cfg.Events, CacheUsed{Dir: dir, Files: cached, Saved: saved, Err: err})
		c.mu.Lock()
		c.health.Status = fmt.Sprintf("offline: using %d cached files from %s", len(cached), saved.Format(time.RFC3339))
		c.mu.Unlock()
	} else if err != nil && ctx.Err() != nil {
		return err
	}

	interval := c.cfg.PollInterval
	if interval == 0 {
		interval = DefaultPollInterval
	}
	if interval > 0 {
		loopCtx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			cancel()
			return fmt.Errorf("provision: start: %w", net.ErrClosed)
		}
		c.cancel, c.done = cancel, done
		c.mu.Unlock()
		go c.poll(loopCtx, interval, done)
	}
	c.log.Info("provisioning started", "servers", len(c.servers), "files", len(c.files), "poll", interval)
	return nil
}

func (c *Client) poll(ctx context.Context, interval time.Duration, done chan struct{}) {
	defer close(done)
	// The interval runs from the end of one check to the start of the
	// next, so that slow servers do not make checks run back to back.
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
				c.log.Debug("provisioning check failed", "err", err)
			}
			t.Reset(interval)
		}
	}
}

// Shutdown stops checking for changes, waiting for a check in progress
// within ctx. Provisioning has nothing to say goodbye to.
func (c *Client) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("provision: shutdown: %w", net.ErrClosed)
	}
	c.closed = true
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops checking for changes and waits for the poll loop to end. A
// second call returns an error matching net.ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		done := c.done
		c.mu.Unlock()
		if done != nil {
			<-done
		}
		return fmt.Errorf("provision: close: %w", net.ErrClosed)
	}
	c.closed = true
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

// loadCache puts the cached files in force, returning their names and the
// newest fetch time.
func (c *Client) loadCache() ([]string, time.Time) {
	if c.cache == nil {
		return nil, time.Time{}
	}
	idx, err := c.cache.index()
	if err != nil {
		c.log.Warn("provisioning cache unreadable", "dir", c.cache.dir, "err", err)
		return nil, time.Time{}
	}
	var names []string
	var newest time.Time
	for _, f := range c.files {
		e, ok := idx[f]
		if !ok {
			continue
		}
		data, err := c.cache.load(f)
		if err != nil {
			c.log.Warn("provisioning cache file unreadable", "file", f, "err", err)
			continue
		}
		if sum := sha(data); sum != e.SHA256 {
			c.log.Warn("provisioning cache file damaged", "file", f, "sha256", sum, "want", e.SHA256)
			continue
		}
		if err := c.apply(f, fetched{data: data, source: "cache", etag: e.ETag, lastModified: e.LastModified}, true, e.Fetched); err != nil {
			continue
		}
		names = append(names, f)
		if e.Fetched.After(newest) {
			newest = e.Fetched
		}
	}
	return names, newest
}

// Refresh checks every file now and puts changed ones in force. It
// returns nil when a server answered for every file; otherwise the
// problems joined: errors matching [ErrUnreachable] when no server
// answered, [ErrNotFound], and validation errors matching [ErrInvalid] or
// the dialrules errors. Refreshes do not overlap: a call waits for one in
// progress (within ctx).
func (c *Client) Refresh(ctx context.Context) error {
	// Blocked senders queue in order, so a poll does not starve a caller.
	select {
	case c.refreshSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.refreshSem }()

	var errs []error
	c.mu.Lock()
	first := c.preferred // the server that answered last; the others follow in list order
	c.mu.Unlock()
	reached := false
	for _, f := range c.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.mu.Lock()
		st := c.state[f]
		prev := CacheEntry{ETag: st.etag, LastModified: st.lastModified}
		if st.FromCache || !st.InForce {
			prev = CacheEntry{} // ask for the whole file
		}
		c.mu.Unlock()

		var got fetched
		var ferr error
		var tried []error
		answered := false
		for k := range len(c.servers) {
			if first < 0 {
				break // no server answered for an earlier file of this check
			}
			i := (first + k) % len(c.servers)
			s := c.servers[i]
			got, ferr = s.fetch(ctx, f, prev)
			if ferr == nil || !errors.Is(ferr, errUnreachable) {
				if i != first {
					c.log.Warn("provisioning server failed over", "from", c.servers[first], "to", s)
				}
				first, answered = i, true
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			tried = append(tried, ferr)
			if k+1 < len(c.servers) {
				next := c.servers[(i+1)%len(c.servers)]
				c.count("failovers")
				csf.Publish(c.cfg.Events, ServerFailedOver{From: s.String(), To: next.String(), Err: ferr})
			}
		}
		now := time.Now()
		switch {
		case answered && ferr == nil:
			reached = true
			c.setChecked(f, now, nil)
			if got.notModified {
				continue
			}
			if err := c.apply(f, got, false, now); err != nil {
				errs = append(errs, err)
			}
			continue
		case answered:
			reached = true
			ferr = &FileError{File: f, Err: ferr}
		default:
			if first >= 0 {
				first = -1 // the other files need not wait for them again
			} else {
				tried = append(tried, errors.New("no server answered earlier in this check"))
			}
			ferr = fmt.Errorf("provision: %s: %w: %w", f, ErrUnreachable, errors.Join(tried...))
		}
		c.setChecked(f, now, ferr)
		c.count("fetch_failures")
		csf.Publish(c.cfg.Events, FetchFailed{File: f, Err: ferr})
		errs = append(errs, ferr)
	}
	c.mu.Lock()
	if reached != c.health.Healthy || c.health.Since.IsZero() {
		c.health.Since = time.Now()
	}
	c.health.Healthy = reached
	if reached {
		c.health.Status = "provisioned"
		if first >= 0 {
			c.preferred = first
			c.health.Server = c.servers[first].String()
		}
		c.health.LastError = errors.Join(errs...)
	} else {
		c.health.Status = "provisioning servers unreachable"
		c.health.LastError = errors.Join(errs...)
	}
	c.mu.Unlock()
	return errors.Join(errs...)
}

func (c *Client) setChecked(f string, now time.Time, err error) {
	c.mu.Lock()
	st := c.state[f]
	st.Checked = now
	if err != nil {
		st.LastError = err
	}
	c.mu.Unlock()
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// apply validates a fetched version of f and, if it differs from the one
// in force, swaps it in, saves it in the cache and publishes events.
func (c *Client) apply(f string, got fetched, fromCache bool, fetchedAt time.Time) error {
	sum := sha(got.data)
	c.mu.Lock()
	st := c.state[f]
	same := st.InForce && st.SHA256 == sum
	if same {
		// Same content (TFTP has no validators: size and hash tell).
		st.etag, st.lastModified = got.etag, got.lastModified
		st.LastError = nil
		if !fromCache && st.FromCache {
			st.FromCache, st.Source = false, got.source
			c.mu.Unlock()
			c.saveCache(f, got, sum, fetchedAt)
			return nil
		}
		c.mu.Unlock()
		return nil
	}
	if !fromCache && sum == st.rejectedSHA {
		err := st.LastError
		c.mu.Unlock()
		return err // rejected before and reported then
	}
	c.mu.Unlock()

	var warnings []string
	var err error
	var rules int
	switch f {
	case AppDialRulesFile, DirLookupDialRulesFile:
		set := &c.app
		if f == DirLookupDialRulesFile {
			set = &c.lookup
		}
		var ws []dialrules.Warning
		ws, err = set.Reload(f, bytes.NewReader(got.data))
		for _, w := range ws {
			warnings = append(warnings, w.String())
		}
		rules = set.Rules().Len()
	case JabberConfigFile:
		var j *JabberConfig
		if j, err = ParseJabberConfig(f, bytes.NewReader(got.data)); err == nil {
			c.jabber.Store(j)
			if c.cfg.Store != nil {
				server, policy, ignored := j.Sources(f)
				for _, s := range ignored {
					c.log.Debug("jabber-config entry not applied", "entry", s)
				}
				before := c.cfg.Store.Effective()
				err = errors.Join(c.cfg.Store.Put(config.LayerServer, server), c.cfg.Store.Put(config.LayerPolicy, policy))
				c.announceSettings(f, before)
			}
		}
	default: // the device configuration
		var d *Device
		if d, err = ParseDevice(f, bytes.NewReader(got.data)); err == nil {
			c.device.Store(d)
			if c.cfg.Store != nil {
				before := c.cfg.Store.Effective()
				err = c.cfg.Store.Put(config.LayerServer, deviceSource(f, d))
				c.announceSettings(f, before)
			}
		}
	}
	if err != nil {
		c.log.Warn("provisioned file rejected; last good kept", "file", f, "source", got.source, "err", err)
		c.count("rejected")
		c.mu.Lock()
		st.LastError = err
		if !fromCache {
			st.rejectedSHA = sum
		}
		c.mu.Unlock()
		csf.Publish(c.cfg.Events, FileRejected{File: f, Source: got.source, Err: err})
		return err
	}

	c.mu.Lock()
	st.InForce, st.Source, st.Size, st.SHA256 = true, got.source, int64(len(got.data)), sum
	st.Fetched, st.FromCache, st.LastError = fetchedAt, fromCache, nil
	st.etag, st.lastModified, st.rejectedSHA = got.etag, got.lastModified, ""
	c.mu.Unlock()
	if !fromCache {
		c.saveCache(f, got, sum, fetchedAt)
		c.count("changes")
	}
	c.log.Info("provisioned file in force", "file", f, "source", got.source, "size", len(got.data), "sha256", sum[:12])
	csf.Publish(c.cfg.Events, FileChanged{File: f, Source: got.source, Size: int64(len(got.data)), SHA256: sum, FromCache: fromCache})
	if f == AppDialRulesFile || f == DirLookupDialRulesFile {
		csf.Publish(c.cfg.Events, RulesReloaded{File: f, Rules: rules, Warnings: warnings})
	}
	return nil
}

func (c *Client) saveCache(f string, got fetched, sum string, at time.Time) {
	if c.cache == nil {
		return
	}
	e := CacheEntry{Source: got.source, Size: int64(len(got.data)), SHA256: sum, ETag: got.etag, LastModified: got.lastModified, Fetched: at}
	if err := c.cache.store(f, got.data, e); err != nil {
		c.log.Warn("provisioning cache not written", "file", f, "err", err)
	}
}

// deviceSource is what a device configuration says about settings: the
// registrar and, when it names one the schema knows, the transport.
func deviceSource(name string, d *Device) *config.Source {
	s := config.NewSource(name)
	if r := d.Registrar(); r != "" {
		_ = s.Set(config.KeySipRegistrar, r)
	}
	switch d.Transport {
	case TransportUDP, TransportTCP, TransportTLS:
		_ = s.Set(config.KeySipTransport, string(d.Transport))
	}
	return s
}

// Spec returns the registration of a provisioning client with the
// framework under the name "provision". The settings the framework hands
// over are decoded into a copy of cfg (fields with config tags) when they
// are a *config.Snapshot; the logger and event publisher come from the
// framework.
func Spec(cfg Config) csf.ServiceSpec {
	return csf.ServiceSpec{
		Name: "provision",
		Keys: []string{config.KeyTftpServer1, config.KeyTftpServer2, config.KeyHttpFileServer,
			config.KeyDeviceName, config.KeyUserName, config.KeyProvisionPollInterval},
		New: func(env csf.Env) (csf.Service, error) {
			c := cfg
			if snap, ok := env.Settings.(*config.Snapshot); ok {
				if err := snap.DecodeSet(&c); err != nil {
					return nil, fmt.Errorf("provision: %w", err)
				}
			}
			c.Logger, c.Events = env.Logger, env.Events
			return New(c)
		},
	}
}

var _ csf.Service = (*Client)(nil)

// announceSettings tells the framework which effective settings a file
// changed, so that the services reading them pick them up (csf applies
// SettingsChanged by reconfiguring or restarting them).
func (c *Client) announceSettings(file string, before *config.Snapshot) {
	after := c.cfg.Store.Effective()
	if changed := before.Changed(after); len(changed) > 0 {
		csf.Publish(c.cfg.Events, csf.SettingsChanged{Source: file, Settings: after, Changed: changed})
	}
}
