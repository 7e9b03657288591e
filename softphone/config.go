package softphone

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

// Account is who the phone registers as.
type Account struct {
	User     string        // required: the user part of the address of record (alice)
	Domain   string        // required: the domain (example.test)
	Password config.Secret // digest password; empty means no authentication
	// AuthUser is the digest user name; empty means User.
	AuthUser string
	// DisplayName goes into From; empty means none.
	DisplayName string
}

// AOR returns the address of record, sip:user@domain.
func (a Account) AOR() string { return "sip:" + a.User + "@" + a.Domain }

// Config configures a [Phone]. Fields left zero take the default in their
// comment.
type Config struct {
	Account Account // required
	// Lines are more accounts served by the same socket, registrar and
	// transport, each registered with its own Contact user; incoming calls
	// carry the line called, [CallOptions.Line] picks the line to call from.
	Lines []Account
	// Registrar is the registrar and outbound proxy as host:port; required.
	Registrar string
	// Transport is "udp", "tcp" or "tls"; empty means "udp".
	Transport string
	// TLS configures TLS; nil means system roots with verification on.
	TLS *tls.Config
	// Trust classifies TLS failures for diagnostics; nil means none.
	Trust *csf.Trust
	// ListenIP is the local address for SIP and RTP; empty means the
	// address the system routes to the registrar from, checked again at
	// every keep-alive: when it changes (another network), the phone moves
	// its SIP socket there and registers every line again from it,
	// removing the old contact. Calls in progress keep their media where
	// it was.
	ListenIP string
	// Expires is the registration lifetime asked for; 0 means one hour.
	// The phone refreshes at half the lifetime the registrar grants.
	Expires time.Duration
	// RefreshInterval caps the time between registration refreshes; 0
	// means half the lifetime the registrar grants (RFC 3261 section
	// 10.2.4). A registrar that restarted and forgot us is found, and we
	// re-register, within this interval.
	RefreshInterval time.Duration
	// KeepAlive is the interval of keep-alives on the flow to the
	// registrar (RFC 5626 section 4.4): CRLF on TCP and TLS, STUN Binding
	// requests on UDP. When the flow is found broken, or on UDP the
	// registrar sees us at a new address (a NAT rebinding), the phone
	// registers every line again at once. A UDP registrar that never
	// answers STUN gets CRLF instead and its silence is not a failure. 0
	// means 30 s on TCP and TLS, 25 s on UDP; negative turns them off.
	KeepAlive time.Duration
	// NoRegister makes Start skip registration (a phone that only calls
	// out through a proxy that does not require it, or a peer to peer test).
	NoRegister bool
	// Codecs lists the audio codecs offered, in preference order, from
	// "PCMU", "PCMA" and, in builds with Opus ([CodecAvailable]), "opus";
	// empty means PCMU then PCMA.
	Codecs []string
	// SRTP says when calls are encrypted; the zero value, SRTPAuto, uses
	// SRTP with SDES keys over TLS signalling and plain RTP otherwise.
	SRTP SRTPPolicy
	// SessionExpires is the session interval we ask for (RFC 4028): the
	// refresher re-INVITEs at half of it and the other side hangs up when
	// it passes without one. 0 means 30 minutes; negative turns session
	// timers off.
	SessionExpires time.Duration
	// MediaByUpdate makes Hold and Resume send their offer in UPDATE
	// (RFC 3311) rather than a re-INVITE when the far end lists UPDATE in
	// Allow: one transaction, no ACK. Off by default: RFC 3311 section 5.1
	// prefers re-INVITE for offers in an established dialog. Session
	// refreshes (RFC 4028) use UPDATE whenever the far end allows it.
	MediaByUpdate bool
	// NoDTMFEvents leaves telephone-event (RFC 4733) out of our offers, so
	// that digits go as SIP INFO; for peers that mishandle it.
	NoDTMFEvents bool
	// UserAgent is the User-Agent header; empty means "OpenCSF".
	UserAgent string
	// Logger receives logs; nil means discard. Wire traces are at Debug
	// with authorization headers scrubbed.
	Logger *slog.Logger
	// Events publishes the phone's events; nil means they are dropped.
	Events *csf.Publisher
	// Callers puts a directory name on incoming calls
	// ([CallReceived.Caller]); nil means no lookup. The framework sets it
	// through [Spec] to the directory service it runs, if any.
	Callers csf.CallerDirectory
	// RingTimeout bounds how long an outgoing call rings; 0 means 2 minutes.
	RingTimeout time.Duration
}

// discardLogger is every phone's logger when Config.Logger is nil: one
// value, so that the router of sipgo's logs asks it once for a fleet.
var discardLogger = slog.New(slog.DiscardHandler)

func (c *Config) validate() error {
	if c.Account.User == "" {
		return fmt.Errorf("softphone: Config.Account.User is required")
	}
	if c.Account.Domain == "" {
		return fmt.Errorf("softphone: Config.Account.Domain is required")
	}
	for i, a := range c.Lines {
		if a.User == "" || a.Domain == "" {
			return fmt.Errorf("softphone: Config.Lines[%d]: User and Domain are required", i)
		}
		if a.User == c.Account.User {
			return fmt.Errorf("softphone: Config.Lines[%d]: user %q already has a line", i, a.User)
		}
	}
	if c.Registrar == "" {
		return fmt.Errorf("softphone: Config.Registrar is required")
	}
	if _, _, err := net.SplitHostPort(c.Registrar); err != nil {
		return fmt.Errorf("softphone: Config.Registrar %q: %w", c.Registrar, err)
	}
	c.Transport = strings.ToLower(c.Transport)
	switch c.Transport {
	case "":
		c.Transport = "udp"
	case "udp", "tcp", "tls":
	default:
		return fmt.Errorf("softphone: Config.Transport %q: want udp, tcp or tls", c.Transport)
	}
	if c.Expires == 0 {
		c.Expires = time.Hour
	}
	if c.Expires < 0 {
		return fmt.Errorf("softphone: Config.Expires %v is negative", c.Expires)
	}
	if len(c.Codecs) == 0 {
		c.Codecs = []string{"PCMU", "PCMA"}
	}
	for _, n := range c.Codecs {
		if strings.EqualFold(n, "opus") && !CodecAvailable(n) {
			return fmt.Errorf("softphone: Config.Codecs: opus is not built in (build with -tags opus, cgo and libopus-dev)")
		}
		if _, ok := codecByName(n); !ok {
			return fmt.Errorf("softphone: Config.Codecs: unknown codec %q", n)
		}
	}
	if c.UserAgent == "" {
		c.UserAgent = "OpenCSF"
	}
	if c.Logger == nil {
		c.Logger = discardLogger
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 2 * time.Minute
	}
	if c.SRTP == SRTPRequired && c.Transport != "tls" {
		return fmt.Errorf("softphone: Config.SRTP: SDES keys travel in the SDP and need Transport \"tls\"")
	}
	if c.ListenIP != "" && net.ParseIP(c.ListenIP) == nil {
		return fmt.Errorf("softphone: Config.ListenIP %q is not an IP address", c.ListenIP)
	}
	return nil
}

// ConfigFromSettings maps the framework's configuration keys (SipRegistrar,
// SipTransport, SipUserName or UserName, SipPassword or Password, Domain)
// onto a Config. Fields the keys do not cover stay zero.
func ConfigFromSettings(s *config.Snapshot) Config {
	user := s.String("SipUserName")
	if user == "" {
		user = s.String("UserName")
	}
	pw := s.Secret("SipPassword")
	if pw == "" {
		pw = s.Secret("Password")
	}
	return Config{
		Account:   Account{User: user, Domain: s.String("Domain"), Password: pw},
		Registrar: s.String("SipRegistrar"),
		Transport: s.String("SipTransport"),
	}
}
