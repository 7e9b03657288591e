package im

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"mellium.im/xmpp/jid"
)

// Config configures a [Client]. The zero value of every field but JID and
// Password is a sensible default.
type Config struct {
	// JID is the account's bare address, user@domain; required.
	JID string
	// Password is the account password; required.
	Password config.Secret
	// Resource is the resource to bind; empty means "opencsf".
	Resource string
	// Server is the host:port to connect to; empty means a DNS SRV lookup
	// of the JID's domain (_xmpps-client._tcp, then _xmpp-client._tcp,
	// XEP-0368), falling back to the domain on port 5222.
	Server string
	// DirectTLS makes Server speak TLS from the first byte (XEP-0368)
	// instead of STARTTLS.
	DirectTLS bool
	// Trust verifies the server certificate and explains failures as a
	// *csf.TLSError; nil means the system roots.
	Trust *csf.Trust
	// TLS overrides the TLS client configuration (its ServerName defaults
	// to the JID's domain); nil means Trust's.
	TLS *tls.Config
	// Logger receives the client's logs; nil means discard.
	Logger *slog.Logger
	// Events publishes the client's events; nil means none.
	Events *csf.Publisher
	// Presence receives contacts' presence per resource; nil means none
	// (the PresenceReceived events still flow).
	Presence PresenceSink
	// Priority is the priority of our presence; 0 is the default.
	Priority int
	// PingInterval is how often the server is pinged (XEP-0199) to notice a
	// dead connection; 0 means one minute, negative disables pinging.
	PingInterval time.Duration
	// PingTimeout is how long a ping may take before the connection is
	// given up; 0 means 20 seconds.
	PingTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the reconnection delay, which
	// doubles after each failure, with jitter; 0 means 1 s and 2 min.
	ReconnectMin, ReconnectMax time.Duration
	// DisableStreamManagement turns XEP-0198 off (for tests and broken
	// servers).
	DisableStreamManagement bool
	// MaxStanzaSize caps one inbound stanza in bytes; a bigger one is read
	// through without being kept and dropped with a log line. 0 means 1 MiB.
	MaxStanzaSize int
	// ConnectTimeout bounds one connection attempt including TLS and
	// authentication; 0 means 30 seconds.
	ConnectTimeout time.Duration
	// Resolver looks up SRV records; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// Keys are the configuration keys [ConfigFromSettings] reads.
var Keys = []string{
	config.KeyUserName, config.KeyPassword, config.KeyDomain, config.KeyPresenceServerAddress,
	config.KeyPresenceDomain, config.KeyXmppResource, config.KeyTrustedCAFile, config.KeyUseSystemTrustStore,
}

// ConfigFromSettings builds a Config from the framework's configuration:
// UserName, Password, PresenceDomain (else Domain), PresenceServerAddress,
// XmppResource, and the trust store from TrustedCAFile and
// UseSystemTrustStore. It reads the CA file.
func ConfigFromSettings(s *config.Snapshot) (Config, error) {
	domain := s.String(config.KeyPresenceDomain)
	if domain == "" {
		domain = s.String(config.KeyDomain)
	}
	user := s.String(config.KeyUserName)
	if user == "" || domain == "" {
		return Config{}, fmt.Errorf("im: configuration needs %s and %s (or %s)", config.KeyUserName, config.KeyDomain, config.KeyPresenceDomain)
	}
	trust, err := csf.TrustFromSettings(s)
	if err != nil {
		return Config{}, fmt.Errorf("im: %w", err)
	}
	return Config{
		JID:      user + "@" + domain,
		Password: s.Secret(config.KeyPassword),
		Resource: s.String(config.KeyXmppResource),
		Server:   s.String(config.KeyPresenceServerAddress),
		Trust:    trust,
	}, nil
}

// validated returns a copy of cfg with defaults filled in, or an error
// naming the bad field.
func (cfg Config) validated() (Config, jid.JID, error) {
	if cfg.JID == "" {
		return cfg, jid.JID{}, fmt.Errorf("im: Config.JID is required")
	}
	j, err := jid.Parse(cfg.JID)
	if err != nil || j.Localpart() == "" {
		return cfg, jid.JID{}, fmt.Errorf("im: Config.JID %q is not user@domain: %w", cfg.JID, ErrBadAddress)
	}
	if cfg.Password == "" {
		return cfg, jid.JID{}, fmt.Errorf("im: Config.Password is required")
	}
	if cfg.Resource == "" {
		cfg.Resource = "opencsf"
	}
	full, err := j.Bare().WithResource(cfg.Resource)
	if err != nil {
		return cfg, jid.JID{}, fmt.Errorf("im: Config.Resource %q: %w", cfg.Resource, ErrBadAddress)
	}
	if cfg.Server != "" {
		if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
			return cfg, jid.JID{}, fmt.Errorf("im: Config.Server %q: %w", cfg.Server, err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = time.Minute
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = 20 * time.Second
	}
	if cfg.MaxStanzaSize <= 0 {
		cfg.MaxStanzaSize = 1 << 20
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	if cfg.TLS != nil {
		cfg.TLS = cfg.TLS.Clone()
	}
	return cfg, full, nil
}

// Spec registers the IM service with a [csf.Framework] under the name
// "im", configured from the framework's settings.
func Spec() csf.ServiceSpec {
	return csf.ServiceSpec{
		Name: "im",
		Keys: Keys,
		New: func(env csf.Env) (csf.Service, error) {
			snap, ok := env.Settings.(*config.Snapshot)
			if !ok || snap == nil {
				return nil, fmt.Errorf("im: the framework has no configuration")
			}
			return newFromSettings(snap, env)
		},
	}
}

func newFromSettings(snap *config.Snapshot, env csf.Env) (*Client, error) {
	domain := snap.String(config.KeyPresenceDomain)
	if domain == "" {
		domain = snap.String(config.KeyDomain)
	}
	cfg := Config{
		JID:      snap.String(config.KeyUserName) + "@" + domain,
		Password: snap.Secret(config.KeyPassword),
		Resource: snap.String(config.KeyXmppResource),
		Server:   snap.String(config.KeyPresenceServerAddress),
		Logger:   env.Logger,
		Events:   env.Events,
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	// The trust store is read in Start: New does no I/O.
	c.loadTrust = func() (*csf.Trust, error) { return csf.TrustFromSettings(snap) }
	return c, nil
}
