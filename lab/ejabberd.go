package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EjabberdOptions configures [StartEjabberd]. The zero value is ready to use.
type EjabberdOptions struct {
	Dir    string       // empty means a new temporary directory, removed by Close
	Users  []User       // empty means DefaultUsers
	CA     *CA          // nil means a new CA in Dir/ca
	Logger *slog.Logger // nil means discard
}

// EjabberdServer is a running ejabberd XMPP server for [Domain], with the MUC
// service [MUCDomain], XEP-0198 stream management, carbons, MAM, offline storage, PEP
// and caps: the interop peer of [ProsodyServer]. Clients must use TLS; SCRAM-SHA-1
// (also -PLUS) and PLAIN are offered.
type EjabberdServer struct {
	// Addr is the client-to-server port (STARTTLS), TLSAddr the direct TLS port
	// (XEP-0368), both host:port on 127.0.0.1. Verify the certificate as example.test.
	Addr    string
	TLSAddr string
	// API is the base URL of ejabberd's HTTP API on loopback (user registration).
	API    string
	Domain string // example.test
	MUC    string // conference.example.test
	Dir    string

	s *server
}

// ejabberdLibs is where Debian installs ejabberd's Erlang applications.
const ejabberdLibs = "/usr/lib/x86_64-linux-gnu"

// Ejabberd starts an ejabberd server for the test t and closes it when t ends. It skips
// t when ejabberd (and erl) is not installed, or fails t when CI=true. opts nil means
// defaults.
func Ejabberd(t testing.TB, opts *EjabberdOptions) *EjabberdServer {
	t.Helper()
	requireBinaries(t, "erl", "ejabberdctl")
	if opts == nil {
		opts = &EjabberdOptions{}
	}
	return startForTest(t, "ejabberd", func(ctx context.Context) (*EjabberdServer, error) {
		return StartEjabberd(ctx, *opts)
	})
}

// StartEjabberd starts ejabberd's Erlang VM directly (ejabberdctl would switch to the
// ejabberd user, which cannot read the lab directory, and needs Erlang distribution),
// without distribution, as a child process; registers the users through the HTTP API
// on loopback; and returns once the client ports accept connections. ctx bounds the
// start only.
func StartEjabberd(ctx context.Context, opts EjabberdOptions) (*EjabberdServer, error) {
	erl, err := lookBinary("erl")
	if err != nil {
		return nil, err
	}
	if _, err := lookBinary("ejabberdctl"); err != nil {
		return nil, err
	}
	s, err := newServer("ejabberd", opts.Dir, opts.CA, opts.Users, opts.Logger)
	if err != nil {
		return nil, err
	}
	in := s.in
	e := &EjabberdServer{Domain: Domain, MUC: MUCDomain, Dir: in.dir, s: s}
	if err := in.mkdirs(0o750, "spool", "logs"); err != nil {
		return nil, s.fail(fmt.Errorf("lab: ejabberd: %w", err))
	}
	combined := in.path("combined.pem")
	if err := writeCombined(combined, s.certFile, s.keyFile); err != nil {
		return nil, s.fail(fmt.Errorf("lab: ejabberd: %w", err))
	}
	cfg := in.path("ejabberd.yml")
	err = in.startRetrying(ctx, func() error {
		ports, err := freePorts(3)
		if err != nil {
			return err
		}
		e.Addr, e.TLSAddr = hostPort(ports[0]), hostPort(ports[1])
		e.API = "http://" + hostPort(ports[2]) + "/api"
		if err := writeFile(cfg, ejabberdConfig(combined, ports[0], ports[1], ports[2]), 0o644); err != nil {
			return err
		}
		// env sets the environment and execs erl, so the process group is the VM's.
		in.configure([]string{"/usr/bin/env",
			"HOME=" + in.dir,
			"ERL_LIBS=" + ejabberdLibs,
			"ERL_CRASH_DUMP_BYTES=0",
			"EJABBERD_CONFIG_PATH=" + cfg,
			"EJABBERD_LOG_PATH=" + in.path("logs", "ejabberd.log"),
			erl, "-noinput", "-noshell", "-mnesia", "dir", `"` + in.path("spool") + `"`, "-s", "ejabberd",
		}, ports, tcpProbe(ports...))
		return nil
	})
	if err != nil {
		return nil, s.fail(fmt.Errorf("%w\n--- ejabberd.log ---\n%s", err, e.ejabberdLog()))
	}
	for _, u := range s.users {
		if err := e.register(ctx, u); err != nil {
			return nil, s.fail(fmt.Errorf("lab: ejabberd: register %s: %w\n--- ejabberd.log ---\n%s", u.Name, err, e.ejabberdLog()))
		}
	}
	return e, nil
}

func writeCombined(path, certFile, keyFile string) error {
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(append(cert, '\n'), key...), 0o600)
}

// register adds a user through mod_http_api. A user that exists already (after a
// Restart the spool keeps them) is fine.
func (e *EjabberdServer) register(ctx context.Context, u User) error {
	body, _ := json.Marshal(map[string]string{"user": u.Name, "host": Domain, "password": u.Password})
	// The API listener may accept connections a moment before the modules are up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.API+"/register", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK:
				return nil
			case strings.Contains(string(msg), "already registered"):
				return nil
			}
			err = fmt.Errorf("%s: %s", resp.Status, msg)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func ejabberdConfig(combined string, c2s, directTLS, api int) string {
	r := strings.NewReplacer("$PEM", combined, "$P1", fmt.Sprint(c2s), "$P2", fmt.Sprint(directTLS),
		"$P3", fmt.Sprint(api), "$DOMAIN", Domain, "$MUC", MUCDomain)
	return r.Replace(`# written by the OpenCSF lab
hosts: ["$DOMAIN"]
loglevel: info
certfiles: ["$PEM"]
auth_method: internal
auth_password_format: scram
default_db: mnesia
listen:
  - {port: $P1, ip: "127.0.0.1", module: ejabberd_c2s, starttls_required: true}
  - {port: $P2, ip: "127.0.0.1", module: ejabberd_c2s, tls: true}
  - {port: $P3, ip: "127.0.0.1", module: ejabberd_http, request_handlers: {/api: mod_http_api}}
api_permissions:
  "loopback admin": {who: {ip: 127.0.0.1/8}, what: ["register", "unregister", "status"]}
access_rules: {local: {allow: all}, c2s: {allow: all}, muc_create: {allow: all}}
modules:
  mod_roster: {versioning: true}
  mod_disco: {}
  mod_caps: {}
  mod_ping: {}
  mod_stream_mgmt: {resume_timeout: 600}
  mod_carboncopy: {}
  mod_offline: {}
  mod_mam: {default: always}
  mod_pubsub: {plugins: ["flat", "pep"]}
  mod_muc: {host: "$MUC", access_mam: all}
  mod_admin_extra: {}
`)
}

// Users returns the accounts registered on the server.
func (e *EjabberdServer) Users() []User { return append([]User(nil), e.s.users...) }

// CA returns the CA that issued the server certificate.
func (e *EjabberdServer) CA() *CA { return e.s.ca }

// PID returns the Erlang VM's process id, or 0 when it is not running.
func (e *EjabberdServer) PID() int { return e.s.in.pid() }

// Log returns what the VM wrote to stdout and stderr, then ejabberd's own log file.
func (e *EjabberdServer) Log() string {
	return e.s.in.log() + "\n--- ejabberd.log ---\n" + e.ejabberdLog()
}

func (e *EjabberdServer) ejabberdLog() string {
	b, err := os.ReadFile(filepath.Join(e.Dir, "logs", "ejabberd.log"))
	if err != nil {
		return ""
	}
	if len(b) > logTailBytes {
		b = append([]byte("…"), b[len(b)-logTailBytes:]...)
	}
	return string(b)
}

// Restart stops the server and starts it again on the same ports with the same data
// (users, archives), for tests of reconnection. It blocks until the server is ready or
// ctx ends.
func (e *EjabberdServer) Restart(ctx context.Context) error { return e.s.restart(ctx) }

// Close stops the server (SIGTERM, then SIGKILL to its process group) and removes its
// directory when the lab made it. A second call returns an error matching net.ErrClosed.
func (e *EjabberdServer) Close() error { return e.s.in.close() }
