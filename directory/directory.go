package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/dialrules"
)

// Defaults of [Config].
const (
	DefaultCacheTTL    = 10 * time.Minute
	DefaultNegativeTTL = time.Minute
	DefaultCacheSize   = 1000
	DefaultTimeout     = 5 * time.Second
)

// DefaultNumberAttributes are the attributes searched for a number when
// [Config.NumberAttributes] is nil.
var DefaultNumberAttributes = []string{"telephoneNumber", "mobile", "homePhone"}

// Config configures a [Directory]. Fields tagged config are decoded from
// the layered configuration by config.Snapshot.Decode.
type Config struct {
	// Server is the LDAP server, host:port; required.
	Server string `config:"LdapServer"`
	// BaseDN is where searches start; required.
	BaseDN string `config:"LdapBaseDN"`
	// BindDN and Password authenticate with a simple bind; an empty BindDN
	// means an anonymous directory.
	BindDN   string        `config:"LdapBindDN"`
	Password config.Secret `config:"LdapPassword"`
	// TLS, when set, makes the connection use TLS: LDAPS from the start,
	// or StartTLS on the plain port when StartTLS is set. Nil means no
	// TLS.
	TLS      *tls.Config
	StartTLS bool

	// Rules are the directory-lookup dial rules that turn a caller ID
	// into the number to search for (CUPC/DirLookupDialRules.xml, kept
	// current by package provision). Nil means the caller ID is only
	// normalised.
	Rules *dialrules.Set
	// NumberAttributes are searched for the number, any of them matching;
	// nil means DefaultNumberAttributes.
	NumberAttributes []string
	// NameAttribute holds the display name; empty means displayName, then
	// cn when an entry has no displayName.
	NameAttribute string
	// JIDAttribute holds the person's IM address; empty means mail.
	JIDAttribute string
	// MailboxAttribute holds the voicemail mailbox; empty means the
	// person's first telephoneNumber.
	MailboxAttribute string

	// CacheTTL is how long a found person is remembered; 0 means
	// DefaultCacheTTL, negative means no cache. NegativeTTL is the same for
	// numbers nobody has; 0 means DefaultNegativeTTL. CacheSize bounds the
	// entries; 0 means DefaultCacheSize.
	CacheTTL    time.Duration
	NegativeTTL time.Duration
	CacheSize   int
	// Timeout bounds connecting and each search when the context has no
	// earlier deadline; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives lifecycle and problem records; nil means discard.
	Logger *slog.Logger
}

// Person is who a caller ID belongs to.
type Person struct {
	DN      string // the entry's distinguished name
	Name    string // display name
	JID     string // IM address; empty when the entry has none
	Mailbox string // voicemail mailbox; empty when unknown
	Number  string // the number searched for, after the lookup rules
}

// Directory resolves caller IDs to people with LDAP searches. It is a
// csf.Service and safe for concurrent use.
type Directory struct {
	cfg   Config
	log   *slog.Logger
	attrs []string
	cache *cache

	mu      sync.Mutex // guards conn, closed, health
	conn    *ldap.Conn
	closed  bool
	health  csf.Health
	lookups int64
	hits    int64
}

// New checks cfg and returns a directory; it does no I/O. Server and
// BaseDN are required.
func New(cfg Config) (*Directory, error) {
	if cfg.Server == "" {
		return nil, errors.New("directory: Server is required")
	}
	if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
		return nil, fmt.Errorf("directory: Server %q: want host:port", cfg.Server)
	}
	if cfg.BaseDN == "" {
		return nil, errors.New("directory: BaseDN is required")
	}
	if cfg.NumberAttributes == nil {
		cfg.NumberAttributes = DefaultNumberAttributes
	}
	for _, a := range append(append([]string{}, cfg.NumberAttributes...), cfg.NameAttribute, cfg.JIDAttribute, cfg.MailboxAttribute) {
		if strings.ContainsAny(a, "()=*\\ ") {
			return nil, fmt.Errorf("directory: attribute %q: not an attribute name", a)
		}
	}
	if cfg.NameAttribute == "" {
		cfg.NameAttribute = "displayName"
	}
	if cfg.JIDAttribute == "" {
		cfg.JIDAttribute = "mail"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	d := &Directory{cfg: cfg, log: cfg.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.log = d.log.With("service", "directory", "server", cfg.Server)
	d.attrs = append([]string{cfg.NameAttribute, "cn", cfg.JIDAttribute, "telephoneNumber"}, cfg.NumberAttributes...)
	if cfg.MailboxAttribute != "" {
		d.attrs = append(d.attrs, cfg.MailboxAttribute)
	}
	if cfg.CacheTTL >= 0 {
		ttl, neg, size := cfg.CacheTTL, cfg.NegativeTTL, cfg.CacheSize
		if ttl == 0 {
			ttl = DefaultCacheTTL
		}
		if neg == 0 {
			neg = DefaultNegativeTTL
		}
		if size <= 0 {
			size = DefaultCacheSize
		}
		d.cache = newCache(ttl, neg, size)
	}
	d.health = csf.Health{Status: "not started", Server: cfg.Server}
	return d, nil
}

// Start connects and binds, so that a wrong address or password shows at
// start. ctx bounds the start.
func (d *Directory) Start(ctx context.Context) error {
	_, err := d.connection(ctx)
	return err
}

// Shutdown unbinds and closes the connection.
func (d *Directory) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return fmt.Errorf("directory: shutdown: %w", net.ErrClosed)
	}
	d.closed = true
	conn := d.conn
	d.conn = nil
	d.mu.Unlock()
	if conn == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- conn.Unbind() }()
	select {
	case err := <-done:
		conn.Close()
		if err != nil && !errors.Is(err, ldap.ErrConnUnbound) {
			return fmt.Errorf("directory: unbind: %w", err)
		}
		return nil
	case <-ctx.Done():
		conn.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes the connection at once. A second call returns an error
// matching net.ErrClosed.
func (d *Directory) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return fmt.Errorf("directory: close: %w", net.ErrClosed)
	}
	d.closed = true
	conn := d.conn
	d.conn = nil
	d.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	return nil
}

// Health reports whether the last search or connection attempt worked.
func (d *Directory) Health() csf.Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := d.health
	h.Counters = map[string]int64{"lookups": d.lookups, "cache_hits": d.hits}
	return h
}

func (d *Directory) setHealth(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ok := err == nil
	if ok != d.health.Healthy || d.health.Since.IsZero() {
		d.health.Since = time.Now()
	}
	d.health.Healthy, d.health.LastError = ok, err
	if ok {
		d.health.Status = "connected"
	} else {
		d.health.Status = "unreachable"
	}
}

// connection returns the open connection, dialling and binding if there is
// none.
func (d *Directory) connection(ctx context.Context) (*ldap.Conn, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, fmt.Errorf("directory: %w", net.ErrClosed)
	}
	if d.conn != nil && !d.conn.IsClosing() {
		c := d.conn
		d.mu.Unlock()
		return c, nil
	}
	d.mu.Unlock()

	c, err := d.dial(ctx)
	d.setHealth(err)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		c.Close()
		return nil, fmt.Errorf("directory: %w", net.ErrClosed)
	}
	if d.conn != nil && !d.conn.IsClosing() {
		c.Close() // another lookup connected first
		return d.conn, nil
	}
	if d.conn != nil {
		d.conn.Close()
	}
	d.conn = c
	return c, nil
}

func (d *Directory) timeout(ctx context.Context) time.Duration {
	t := d.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < t {
			t = max(left, time.Millisecond)
		}
	}
	return t
}

func (d *Directory) dial(ctx context.Context) (*ldap.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: d.timeout(ctx)}
	scheme := "ldap://"
	opts := []ldap.DialOpt{ldap.DialWithDialer(dialer)}
	if d.cfg.TLS != nil && !d.cfg.StartTLS {
		scheme = "ldaps://"
		opts = append(opts, ldap.DialWithTLSDialer(d.cfg.TLS, dialer))
	}
	c, err := ldap.DialURL(scheme+d.cfg.Server, opts...)
	if err != nil {
		return nil, fmt.Errorf("directory: connect %s: %w", d.cfg.Server, err)
	}
	c.SetTimeout(d.timeout(ctx))
	// Bind and StartTLS take no context: closing the connection ends them.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if d.cfg.TLS != nil && d.cfg.StartTLS {
		if err := c.StartTLS(d.cfg.TLS); err != nil {
			c.Close()
			return nil, d.ctxErr(ctx, fmt.Errorf("directory: starttls %s: %w", d.cfg.Server, err))
		}
	}
	if d.cfg.BindDN != "" {
		if err := c.Bind(d.cfg.BindDN, d.cfg.Password.Reveal()); err != nil {
			c.Close()
			return nil, d.ctxErr(ctx, fmt.Errorf("directory: bind as %s: %w", d.cfg.BindDN, err))
		}
	}
	d.log.Debug("directory connected")
	return c, nil
}

func (d *Directory) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// Key returns the number a caller ID is searched for: the caller ID
// transformed by the lookup rules in force. Errors match
// dialrules.ErrInvalidNumber.
func (d *Directory) Key(callerID string) (string, error) {
	if d.cfg.Rules != nil {
		return d.cfg.Rules.Transform(callerID)
	}
	return dialrules.Normalize(callerID)
}

// Lookup resolves a caller ID: it transforms it with the lookup rules,
// then searches the directory for an entry with that number in one of the
// number attributes, answering from the cache when it can. It returns
// [ErrNotFound] when nobody has the number, [ErrInvalidCallerID] for a
// caller ID that is not a number (anonymous, say), and a [*SearchError]
// when the server cannot be asked. When several entries match, the first
// the server returns wins.
func (d *Directory) Lookup(ctx context.Context, callerID string) (*Person, error) {
	key, err := d.Key(callerID)
	if err != nil {
		return nil, fmt.Errorf("directory: caller ID %q: %w: %w", callerID, ErrInvalidCallerID, err)
	}
	d.mu.Lock()
	d.lookups++
	d.mu.Unlock()
	if d.cache != nil {
		if p, found, ok := d.cache.get(key, time.Now()); ok {
			d.mu.Lock()
			d.hits++
			d.mu.Unlock()
			if !found {
				return nil, fmt.Errorf("directory: %s: %w", key, ErrNotFound)
			}
			return p, nil
		}
	}
	p, err := d.search(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if d.cache != nil {
		d.cache.put(key, p, time.Now())
	}
	return p, err
}

// search asks the server, reconnecting once if the connection broke.
func (d *Directory) search(ctx context.Context, key string) (*Person, error) {
	var last error
	for attempt := range 2 {
		conn, err := d.connection(ctx)
		if err != nil {
			return nil, &SearchError{Server: d.cfg.Server, Number: key, Err: err}
		}
		p, err := d.searchOn(ctx, conn, key)
		if err == nil || errors.Is(err, ErrNotFound) {
			d.setHealth(nil)
			return p, err
		}
		last = err
		if ctx.Err() != nil || !ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || attempt == 1 {
			break
		}
		d.log.Debug("directory connection lost; reconnecting", "err", err)
		conn.Close()
	}
	d.setHealth(last)
	return nil, &SearchError{Server: d.cfg.Server, Number: key, Err: d.ctxErr(ctx, last)}
}

func (d *Directory) filter(key string) string {
	v := ldap.EscapeFilter(key)
	var b strings.Builder
	b.WriteString("(|")
	for _, a := range d.cfg.NumberAttributes {
		fmt.Fprintf(&b, "(%s=%s)", a, v)
	}
	b.WriteString(")")
	return b.String()
}

func (d *Directory) searchOn(ctx context.Context, conn *ldap.Conn, key string) (*Person, error) {
	sctx, cancel := context.WithTimeout(ctx, d.timeout(ctx))
	defer cancel()
	secs := int(d.timeout(ctx) / time.Second)
	req := ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, secs, false, d.filter(key), d.attrs, nil)
	res := conn.SearchAsync(sctx, req, 2)
	var entry *ldap.Entry
	for res.Next() {
		if entry == nil {
			entry = res.Entry()
		}
	}
	err := res.Err()
	if err != nil && ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && entry != nil {
		d.log.Debug("several directory entries have the number; using the first", "number", key)
		err = nil
	}
	if err == nil && sctx.Err() != nil {
		// SearchAsync reports cancellation as a quiet end.
		err = sctx.Err()
	}
	if err != nil {
		return nil, err
	}
	if entry == nil {
		return nil, fmt.Errorf("directory: %s: %w", key, ErrNotFound)
	}
	p := &Person{DN: entry.DN, Number: key,
		Name: entry.GetAttributeValue(d.cfg.NameAttribute),
		JID:  entry.GetAttributeValue(d.cfg.JIDAttribute),
	}
	if p.Name == "" {
		p.Name = entry.GetAttributeValue("cn")
	}
	if d.cfg.MailboxAttribute != "" {
		p.Mailbox = entry.GetAttributeValue(d.cfg.MailboxAttribute)
	} else {
		p.Mailbox = entry.GetAttributeValue("telephoneNumber")
	}
	return p, nil
}

// Spec returns the registration of a directory with a csf.Framework under
// the name "directory". Settings handed over as a *config.Snapshot are
// decoded into a copy of cfg (keys some source sets; defaults leave cfg
// alone); the logger comes from the framework.
func Spec(cfg Config) csf.ServiceSpec {
	return csf.ServiceSpec{
		Name: "directory",
		Keys: []string{config.KeyLdapServer, config.KeyLdapBaseDN, config.KeyLdapBindDN, config.KeyLdapPassword},
		New: func(env csf.Env) (csf.Service, error) {
			c := cfg
			if snap, ok := env.Settings.(*config.Snapshot); ok {
				if err := snap.DecodeSet(&c); err != nil {
					return nil, fmt.Errorf("directory: %w", err)
				}
			}
			c.Logger = env.Logger
			return New(c)
		},
	}
}

var _ csf.Service = (*Directory)(nil)

// LookupCaller implements [csf.CallerDirectory], so that the soft phone and
// voicemail put names on incoming calls and messages through the
// framework. Nobody with the number, or a caller ID that is no number,
// matches [csf.ErrCallerUnknown].
func (d *Directory) LookupCaller(ctx context.Context, callerID string) (csf.Person, error) {
	p, err := d.Lookup(ctx, callerID)
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidCallerID) {
			err = fmt.Errorf("%w: %w", csf.ErrCallerUnknown, err)
		}
		return csf.Person{CallerID: callerID}, err
	}
	return csf.Person{CallerID: callerID, Name: p.Name, JID: p.JID, Mailbox: p.Mailbox}, nil
}

var _ csf.CallerDirectory = (*Directory)(nil)
