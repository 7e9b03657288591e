package voicemail

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
)

// TLS modes for [Config.TLSMode], as the VoicemailTLS key spells them.
const (
	TLSImplicit = "implicit" // IMAPS: TLS from the first byte (port 993)
	TLSStartTLS = "starttls" // IMAP then STARTTLS before anything else (port 143)
)

// Config configures a [Conn] or a [Mailbox]. Fields tagged config are
// decoded from the layered configuration by [ConfigFrom].
type Config struct {
	// Server is the IMAP server, host:port; required.
	Server string `config:"VoicemailPrimaryServer"`
	// TLSMode is TLSImplicit or TLSStartTLS; empty means TLSImplicit. There
	// is no clear-text mode: the password is only ever sent over TLS.
	TLSMode string `config:"VoicemailTLS"`
	// Folder holds the voice messages; empty means INBOX.
	Folder string `config:"VoicemailFolder"`
	// UserName is the IMAP login; required.
	UserName string `config:"VoicemailUserName"`
	// Password is the IMAP password; required.
	Password config.Secret `config:"VoicemailPassword"`
	// TrashFolder receives deleted messages. Empty means the folder the
	// server marks \Trash (RFC 6154), else one named "Trash"; when there is
	// none, Delete flags the message \Deleted and expunges it.
	TrashFolder string
	// TLS is the client TLS configuration; nil means verification against
	// Roots (or the system roots) with the server name from Server.
	TLS *tls.Config
	// Trust classifies certificate failures into *csf.TLSError; nil
	// classifies without the configured CAs' details.
	Trust *csf.Trust
	// DialTimeout bounds connecting, TLS and login when the caller's
	// context has no deadline; 0 means 15 s.
	DialTimeout time.Duration
	// IdleRefresh is how often an IDLE is ended and re-issued, well before
	// servers drop idle connections (about 10 minutes in the field, RFC 2177
	// allows 29); 0 means 8 minutes.
	IdleRefresh time.Duration
	// PollInterval is the NOOP polling period when the server lacks IDLE;
	// 0 means 30 s.
	PollInterval time.Duration
	// ReconnectBase and ReconnectMax bound the reconnect backoff of a
	// Mailbox; 0 means 1 s and 2 min.
	ReconnectBase, ReconnectMax time.Duration
	// CacheFile keeps the message list between runs (a compact binary
	// file with a checksum, readable by the user only) so that a
	// restart shows it at once; empty means no cache.
	CacheFile string
	// AudioCacheDir keeps the audio of each message a Mailbox has fetched
	// once (files readable by the user only), so it plays again at once and
	// offline; entries go when their message does. Empty means no audio
	// cache.
	AudioCacheDir string
	// Logger receives lifecycle and wire-state logs; nil means discard.
	// Passwords never reach it.
	Logger *slog.Logger
	// Events publishes a Mailbox's events; nil means none. The framework
	// sets it through [Spec].
	Events *csf.Publisher
	// Callers puts a directory name on each new message's caller
	// ([MessageArrived.Caller]); nil means no lookup. The framework sets it
	// through [Spec] to the directory service it runs, if any.
	Callers csf.CallerDirectory

	forcePoll bool // tests: NOOP polling even where IDLE is offered
}

// ConfigFrom reads the Voicemail… keys of a configuration snapshot,
// applying the documented fallbacks: an empty VoicemailUserName means
// UserName@Domain (or UserName when Domain is empty), an empty
// VoicemailPassword means Password. TrustedCAFile and UseSystemTrustStore
// give Trust and TLS.
func ConfigFrom(s *config.Snapshot) (Config, error) {
	var c Config
	if err := s.Decode(&c); err != nil {
		return c, fmt.Errorf("voicemail: %w", err)
	}
	if c.UserName == "" {
		c.UserName = s.String("UserName")
		if d := s.String("Domain"); d != "" && c.UserName != "" && !strings.Contains(c.UserName, "@") {
			c.UserName += "@" + d
		}
	}
	if c.Password == "" {
		c.Password = s.Secret("Password")
	}
	if ca := s.String("TrustedCAFile"); ca != "" || !s.Bool("UseSystemTrustStore") {
		t, err := csf.LoadTrust(ca, s.Bool("UseSystemTrustStore"))
		if err != nil {
			return c, fmt.Errorf("voicemail: %w", err)
		}
		c.Trust = t
	}
	return c, nil
}

// check validates cfg and fills in defaults, naming the bad field.
func (cfg Config) check() (Config, error) {
	if cfg.Server == "" {
		return cfg, fmt.Errorf("voicemail: Config.Server: required")
	}
	if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
		return cfg, fmt.Errorf("voicemail: Config.Server: %w", err)
	}
	switch strings.ToLower(cfg.TLSMode) {
	case "", TLSImplicit:
		cfg.TLSMode = TLSImplicit
	case TLSStartTLS:
		cfg.TLSMode = TLSStartTLS
	default:
		return cfg, fmt.Errorf("voicemail: Config.TLSMode: %q is neither %q nor %q", cfg.TLSMode, TLSImplicit, TLSStartTLS)
	}
	if cfg.UserName == "" {
		return cfg, fmt.Errorf("voicemail: Config.UserName: required")
	}
	if cfg.Password == "" {
		return cfg, fmt.Errorf("voicemail: Config.Password: required")
	}
	if cfg.Folder == "" {
		cfg.Folder = "INBOX"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 15 * time.Second
	}
	if cfg.IdleRefresh <= 0 {
		cfg.IdleRefresh = 8 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	host, _, _ := net.SplitHostPort(cfg.Server)
	if cfg.TLS == nil {
		if cfg.Trust != nil {
			cfg.TLS = cfg.Trust.TLSConfig(host)
		} else {
			cfg.TLS = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
	} else {
		cfg.TLS = cfg.TLS.Clone()
		if cfg.TLS.ServerName == "" {
			cfg.TLS.ServerName = host
		}
	}
	return cfg, nil
}
