package lab

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RadicaleOptions configures [StartRadicale]. The zero value is ready to use.
type RadicaleOptions struct {
	Dir    string       // empty means a new temporary directory, removed by Close
	Users  []User       // empty means DefaultUsers
	CA     *CA          // nil means a new CA in Dir/ca
	Logger *slog.Logger // nil means discard
}

// RadicaleServer is a running Radicale CalDAV server over HTTPS with basic
// authentication by user Name and password. Every user owns an empty calendar
// collection, [RadicaleServer.CalendarURL]; users see only their own collections.
type RadicaleServer struct {
	// Addr is host:port on 127.0.0.1; URL is "https://127.0.0.1:port/".
	Addr string
	URL  string
	Dir  string

	s *server
}

// calendarName is the collection made for every user.
const calendarName = "calendar"

// Radicale starts a Radicale server for the test t and closes it when t ends. It skips
// t when radicale is not installed, or fails t when CI=true. opts nil means defaults.
func Radicale(t testing.TB, opts *RadicaleOptions) *RadicaleServer {
	t.Helper()
	requireBinaries(t, "radicale")
	if opts == nil {
		opts = &RadicaleOptions{}
	}
	return startForTest(t, "radicale", func(ctx context.Context) (*RadicaleServer, error) {
		return StartRadicale(ctx, *opts)
	})
}

// StartRadicale makes each user's calendar and starts Radicale as a child process,
// returning once its port accepts connections. ctx bounds the start only.
func StartRadicale(ctx context.Context, opts RadicaleOptions) (*RadicaleServer, error) {
	bin, err := lookBinary("radicale")
	if err != nil {
		return nil, err
	}
	s, err := newServer("radicale", opts.Dir, opts.CA, opts.Users, opts.Logger)
	if err != nil {
		return nil, err
	}
	in := s.in
	r := &RadicaleServer{Dir: in.dir, s: s}
	var htpasswd strings.Builder
	for _, u := range s.users {
		fmt.Fprintf(&htpasswd, "%s:%s\n", u.Name, u.Password)
		// A collection is a directory; its .Radicale.props makes it a calendar, as
		// MKCALENDAR would, without waiting for the server.
		cal := in.path("collections", "collection-root", u.Name, calendarName)
		if err := os.MkdirAll(cal, 0o755); err != nil {
			return nil, s.fail(fmt.Errorf("lab: radicale: %w", err))
		}
		props := fmt.Sprintf(`{"C:supported-calendar-component-set": "VEVENT,VTODO", "D:displayname": "%s", "tag": "VCALENDAR"}`, u.Name)
		if err := writeFile(filepath.Join(cal, ".Radicale.props"), props, 0o644); err != nil {
			return nil, s.fail(fmt.Errorf("lab: radicale: %w", err))
		}
	}
	if err := writeFile(in.path("users"), htpasswd.String(), 0o600); err != nil {
		return nil, s.fail(fmt.Errorf("lab: radicale: %w", err))
	}
	cfg := in.path("config")
	err = in.startRetrying(ctx, func() error {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		r.Addr = hostPort(ports[0])
		r.URL = "https://" + r.Addr + "/"
		if err := writeFile(cfg, radicaleConfig(in.dir, s.certFile, s.keyFile, ports[0]), 0o644); err != nil {
			return err
		}
		in.configure([]string{bin, "-C", cfg}, ports, tcpProbe(ports...))
		return nil
	})
	if err != nil {
		return nil, s.fail(err)
	}
	return r, nil
}

func radicaleConfig(dir, certFile, keyFile string, port int) string {
	return fmt.Sprintf(`# written by the OpenCSF lab
[server]
hosts = 127.0.0.1:%d
ssl = True
certificate = %s
key = %s

[auth]
type = htpasswd
htpasswd_filename = %s/users
htpasswd_encryption = plain

[rights]
type = owner_only

[storage]
filesystem_folder = %s/collections

[logging]
level = info
`, port, certFile, keyFile, dir, dir)
}

// CalendarURL returns the URL of the calendar collection of user (a Name), such as
// "https://127.0.0.1:port/alice/calendar/".
func (r *RadicaleServer) CalendarURL(user string) string {
	return r.URL + user + "/" + calendarName + "/"
}

// Users returns the accounts; they log in with Name and Password.
func (r *RadicaleServer) Users() []User { return append([]User(nil), r.s.users...) }

// CA returns the CA that issued the server certificate.
func (r *RadicaleServer) CA() *CA { return r.s.ca }

// PID returns the server's process id, or 0 when it is not running.
func (r *RadicaleServer) PID() int { return r.s.in.pid() }

// Log returns what the server has written to stdout and stderr so far.
func (r *RadicaleServer) Log() string { return r.s.in.log() }

// Restart stops the server and starts it again on the same port with the same
// calendars. It blocks until the server is ready or ctx ends.
func (r *RadicaleServer) Restart(ctx context.Context) error { return r.s.restart(ctx) }

// Close stops the server (SIGTERM, then SIGKILL to its process group) and removes its
// directory when the lab made it. A second call returns an error matching net.ErrClosed.
func (r *RadicaleServer) Close() error { return r.s.in.close() }
