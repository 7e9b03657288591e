package lab

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
)

// ProsodyOptions configures [StartProsody]. The zero value is ready to use.
type ProsodyOptions struct {
	Dir    string       // empty means a new temporary directory, removed by Close
	Users  []User       // empty means DefaultUsers
	CA     *CA          // nil means a new CA in Dir/ca
	Logger *slog.Logger // nil means discard
}

// ProsodyServer is a running Prosody XMPP server for [Domain], with the MUC component
// [MUCDomain] and XEP-0198 stream management, carbons, MAM, PEP, blocking and
// vcard-temp. Clients must use TLS and SCRAM-SHA-1.
type ProsodyServer struct {
	// Addr is the client-to-server port (STARTTLS), TLSAddr the direct TLS port
	// (XEP-0368), both host:port on 127.0.0.1. Verify the certificate as example.test.
	Addr    string
	TLSAddr string
	Domain  string // example.test
	MUC     string // conference.example.test
	Dir     string

	s *server
}

// Prosody starts a Prosody server for the test t and closes it when t ends. It skips t
// when prosody is not installed, or fails t when CI=true. opts nil means defaults.
func Prosody(t testing.TB, opts *ProsodyOptions) *ProsodyServer {
	t.Helper()
	requireBinaries(t, "prosody", "prosodyctl")
	if opts == nil {
		opts = &ProsodyOptions{}
	}
	return startForTest(t, "prosody", func(ctx context.Context) (*ProsodyServer, error) {
		return StartProsody(ctx, *opts)
	})
}

// StartProsody registers the users and starts Prosody in the foreground as a child
// process, returning once both ports accept connections. ctx bounds the start only.
func StartProsody(ctx context.Context, opts ProsodyOptions) (*ProsodyServer, error) {
	bin, err := lookBinary("prosody")
	if err != nil {
		return nil, err
	}
	ctl, err := lookBinary("prosodyctl")
	if err != nil {
		return nil, err
	}
	s, err := newServer("prosody", opts.Dir, opts.CA, opts.Users, opts.Logger)
	if err != nil {
		return nil, err
	}
	in := s.in
	p := &ProsodyServer{Domain: Domain, MUC: MUCDomain, Dir: in.dir, s: s}
	if err := in.mkdirs(0o750, "data", "certs"); err != nil {
		return nil, s.fail(fmt.Errorf("lab: prosody: %w", err))
	}
	cfg := in.path("prosody.cfg.lua")
	registered := false
	err = in.startRetrying(ctx, func() error {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		p.Addr, p.TLSAddr = hostPort(ports[0]), hostPort(ports[1])
		if err := writeFile(cfg, prosodyConfig(in.dir, s.certFile, s.keyFile, ports[0], ports[1]), 0o644); err != nil {
			return err
		}
		if !registered {
			for _, u := range s.users {
				// prosodyctl writes the account files straight into data_path.
				out, err := exec.CommandContext(ctx, ctl, "--config", cfg, "register", u.Name, Domain, u.Password).CombinedOutput()
				if err != nil {
					return fmt.Errorf("prosodyctl register %s: %w: %s", u.Name, err, out)
				}
			}
			registered = true
		}
		in.configure([]string{bin, "-F", "--config", cfg}, ports, tcpProbe(ports...))
		return nil
	})
	if err != nil {
		return nil, s.fail(err)
	}
	return p, nil
}

func prosodyConfig(dir, certFile, keyFile string, c2s, directTLS int) string {
	r := strings.NewReplacer("$T", dir, "$CERT", certFile, "$KEY", keyFile,
		"$P1", fmt.Sprint(c2s), "$P2", fmt.Sprint(directTLS), "$DOMAIN", Domain, "$MUC", MUCDomain)
	return r.Replace(`-- written by the OpenCSF lab
run_as_root = true
pidfile = "$T/prosody.pid"
data_path = "$T/data"
log = { { levels = { min = "info" }, to = "console" } }
interfaces = { "127.0.0.1" }
c2s_ports = { $P1 }
c2s_direct_tls_ports = { $P2 }
s2s_ports = { }
modules_disabled = { "s2s" }
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "carbons", "pep", "mam",
  "smacks", "blocklist", "vcard_legacy", "private", "version", "time" }
authentication = "internal_hashed"
storage = "internal"
default_archive_policy = true
c2s_require_encryption = true
disable_sasl_mechanisms = { "PLAIN", "DIGEST-MD5" }
certificates = "$T/certs"
ssl = { certificate = "$CERT", key = "$KEY" }

VirtualHost "$DOMAIN"

Component "$MUC" "muc"
  modules_enabled = { "muc_mam" }
`)
}

// Users returns the accounts registered on the server.
func (p *ProsodyServer) Users() []User { return append([]User(nil), p.s.users...) }

// CA returns the CA that issued the server certificate.
func (p *ProsodyServer) CA() *CA { return p.s.ca }

// PID returns the server's process id, or 0 when it is not running.
func (p *ProsodyServer) PID() int { return p.s.in.pid() }

// Log returns what the server has written to stdout and stderr so far.
func (p *ProsodyServer) Log() string { return p.s.in.log() }

// Restart stops the server and starts it again on the same ports with the same data,
// for tests of reconnection. It blocks until the server is ready or ctx ends.
func (p *ProsodyServer) Restart(ctx context.Context) error { return p.s.restart(ctx) }

// Close stops the server (SIGTERM, then SIGKILL to its process group) and removes its
// directory when the lab made it. A second call returns an error matching net.ErrClosed.
func (p *ProsodyServer) Close() error { return p.s.in.close() }
