package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Names of the lab's servers, for [Options.Servers].
const (
	ServerProsody  = "prosody"
	ServerDovecot  = "dovecot"
	ServerKamailio = "kamailio"
	ServerRadicale = "radicale"
	ServerTFTP     = "tftpd"
	ServerSlapd    = "slapd" // not a default server: name it in Options.Servers
)

// DefaultServers returns the servers [Start] starts when [Options.Servers] is empty,
// in start order: all but slapd.
func DefaultServers() []string {
	return []string{ServerProsody, ServerDovecot, ServerKamailio, ServerRadicale, ServerTFTP}
}

// programs are the binaries each server needs.
var programs = map[string][]string{
	ServerProsody:  {"prosody", "prosodyctl"},
	ServerDovecot:  {"dovecot"},
	ServerKamailio: {"kamailio"},
	ServerRadicale: {"radicale"},
	ServerTFTP:     {"in.tftpd"},
	ServerSlapd:    {"slapd", "slapadd"},
}

// Options configures [Start]. The zero value starts every installed server in a
// temporary directory.
type Options struct {
	// Dir holds the CA files (ca.crt, server.crt, server.key) and a directory per server.
	// Empty means a new temporary directory, removed by Close; a Dir given is kept.
	Dir string
	// Servers names the servers to start (the Server… constants); each must start or
	// Start fails. Empty means each of [DefaultServers] whose program is installed
	// (tftpd only as root); the rest are skipped with a warning in the log.
	Servers []string
	// Users are the accounts made on every server; empty means [DefaultUsers].
	Users []User
	// Logger receives start and stop events; nil means discard.
	Logger *slog.Logger
}

// Lab is a set of running servers sharing one CA and one set of users. Fields for
// servers not started are nil. Its methods are safe for concurrent use.
type Lab struct {
	Dir      string
	Prosody  *ProsodyServer  // XMPP
	Dovecot  *DovecotServer  // IMAP (voicemail)
	Kamailio *KamailioServer // SIP registrar/proxy
	Radicale *RadicaleServer // CalDAV
	TFTP     *TFTPServer     // provisioning files
	Slapd    *SlapdServer    // LDAP contacts
	// StartupTime is how long Start took, from call to every server ready.
	StartupTime time.Duration

	ca        *CA
	users     []User
	removeDir bool

	mu     sync.Mutex // guards closed
	closed bool
}

// Start makes a CA and starts the chosen servers in parallel on 127.0.0.1, returning
// when all are ready. If any fails, the others are stopped and the error names every
// failure with its server's log. ctx bounds the start only.
func Start(ctx context.Context, opts Options) (*Lab, error) {
	began := time.Now()
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	users, err := usersOrDefault(opts.Users)
	if err != nil {
		return nil, err
	}
	names, err := chooseServers(opts.Servers, logger)
	if err != nil {
		return nil, err
	}
	l := &Lab{Dir: opts.Dir, users: users}
	if l.Dir == "" {
		if l.Dir, err = os.MkdirTemp("", "opencsf-lab-"); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		l.removeDir = true
	} else if err := os.MkdirAll(l.Dir, 0o711); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if l.Dir, err = filepath.Abs(l.Dir); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	// Servers that drop privileges must pass through Dir.
	if err := os.Chmod(l.Dir, 0o711); err != nil {
		l.removeAll()
		return nil, fmt.Errorf("lab: %w", err)
	}
	if l.ca, err = NewCA(l.Dir); err != nil {
		l.removeAll()
		return nil, err
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards errs
		errs []error
	)
	for _, name := range names {
		dir := filepath.Join(l.Dir, name)
		wg.Go(func() {
			// Each goroutine sets its own field of l only.
			var err error
			switch name {
			case ServerProsody:
				l.Prosody, err = StartProsody(ctx, ProsodyOptions{Dir: dir, Users: users, CA: l.ca, Logger: logger})
			case ServerDovecot:
				l.Dovecot, err = StartDovecot(ctx, DovecotOptions{Dir: dir, Users: users, CA: l.ca, Logger: logger})
			case ServerKamailio:
				l.Kamailio, err = StartKamailio(ctx, KamailioOptions{Dir: dir, Users: users, CA: l.ca, Logger: logger})
			case ServerRadicale:
				l.Radicale, err = StartRadicale(ctx, RadicaleOptions{Dir: dir, Users: users, CA: l.ca, Logger: logger})
			case ServerTFTP:
				l.TFTP, err = StartTFTP(ctx, TFTPOptions{Dir: dir, Logger: logger})
			case ServerSlapd:
				l.Slapd, err = StartSlapd(ctx, SlapdOptions{Dir: dir, Users: users, CA: l.ca, Logger: logger})
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		l.closeServers()
		l.removeAll()
		return nil, errors.Join(errs...)
	}
	l.StartupTime = time.Since(began)
	logger.Info("lab started", "dir", l.Dir, "servers", names, "took", l.StartupTime)
	return l, nil
}

// chooseServers checks the requested names, or picks the installed servers.
func chooseServers(requested []string, logger *slog.Logger) ([]string, error) {
	if len(requested) > 0 {
		var out []string
		for _, n := range requested {
			if _, ok := programs[n]; !ok {
				return nil, fmt.Errorf("lab: Servers: unknown server %q (want one of %v or %q)", n, DefaultServers(), ServerSlapd)
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		return out, nil
	}
	var out []string
next:
	for _, n := range DefaultServers() {
		for _, prog := range programs[n] {
			if _, err := lookBinary(prog); err != nil {
				logger.Warn("lab server skipped", "server", n, "reason", err.Error())
				continue next
			}
		}
		if n == ServerTFTP && os.Geteuid() != 0 {
			logger.Warn("lab server skipped", "server", n, "reason", "in.tftpd needs root")
			continue
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("lab: no server installed")
	}
	return out, nil
}

// Users returns the accounts made on every server.
func (l *Lab) Users() []User { return append([]User(nil), l.users...) }

// CA returns the CA whose certificate every server presents; its CertFile is
// Dir/ca.crt.
func (l *Lab) CA() *CA { return l.ca }

// Close stops every server in parallel and removes Dir when Start made it. It blocks
// until the servers' processes are gone. A second call returns an error matching
// net.ErrClosed.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("lab: %w", net.ErrClosed)
	}
	l.closed = true
	l.mu.Unlock()
	err := l.closeServers()
	return errors.Join(err, l.removeAll())
}

func (l *Lab) closeServers() error {
	var closers []func() error
	if l.Prosody != nil {
		closers = append(closers, l.Prosody.Close)
	}
	if l.Dovecot != nil {
		closers = append(closers, l.Dovecot.Close)
	}
	if l.Kamailio != nil {
		closers = append(closers, l.Kamailio.Close)
	}
	if l.Radicale != nil {
		closers = append(closers, l.Radicale.Close)
	}
	if l.TFTP != nil {
		closers = append(closers, l.TFTP.Close)
	}
	if l.Slapd != nil {
		closers = append(closers, l.Slapd.Close)
	}
	errs := make([]error, len(closers))
	var wg sync.WaitGroup
	for i, c := range closers {
		wg.Go(func() { errs[i] = c() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (l *Lab) removeAll() error {
	if !l.removeDir {
		return nil
	}
	if err := os.RemoveAll(l.Dir); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}
