package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
)

// SippOptions configures [StartSipp]. Scenario is required.
type SippOptions struct {
	Dir string // empty means a new temporary directory, removed by Close
	// Scenario is a built-in scenario name ("uac", "uas", …; see sipp -sn) or
	// the XML text of a scenario of one's own (anything starting with "<").
	Scenario string
	// Target is the host:port a client scenario sends to; empty for a server
	// scenario, which waits for calls on [SippServer.Addr].
	Target string
	// Service is the user part of the Request-URI (-s); empty means "service".
	Service string
	// Transport is "udp" or "tcp"; empty means "udp". SIPp from Debian has
	// no TLS.
	Transport string
	// Calls ends the run after this many calls (-m); 0 means 1 for a client
	// scenario and no limit for a server scenario.
	Calls int
	// Rate is the calls started per second by a client scenario (-r); 0
	// means SIPp's default (10).
	Rate int
	// AuthUser and AuthPassword answer digest challenges in scenarios that
	// have an [authentication] keyword (-au, -ap).
	AuthUser, AuthPassword string
	// RTPEcho makes SIPp echo the RTP it receives (-rtp_echo), on MediaPort.
	RTPEcho bool
	// Args are added to the command line as they are.
	Args   []string
	Logger *slog.Logger // nil means discard
}

// SippServer is a running SIPp: a server scenario waiting for calls, or a client
// scenario placing them. [SippServer.Wait] returns when it has finished.
type SippServer struct {
	// Addr is the SIP address SIPp listens on (host:port on 127.0.0.1).
	Addr string
	// MediaPort is SIPp's RTP port (-mp).
	MediaPort int
	Dir       string

	in *instance
}

// Sipp starts SIPp for the test t and stops it when t ends. It skips t when sipp is
// not installed (Debian package sip-tester), or fails t when CI=true.
func Sipp(t testing.TB, opts SippOptions) *SippServer {
	t.Helper()
	requireBinaries(t, "sipp")
	return startForTest(t, "sipp", func(ctx context.Context) (*SippServer, error) {
		return StartSipp(ctx, opts)
	})
}

// StartSipp runs SIPp in the foreground as a child process. A server scenario is
// ready once its SIP port is bound; a client scenario starts sending at once. ctx
// bounds the start only.
func StartSipp(ctx context.Context, opts SippOptions) (*SippServer, error) {
	bin, err := lookBinary("sipp")
	if err != nil {
		return nil, err
	}
	if opts.Scenario == "" {
		return nil, errors.New("lab: sipp: SippOptions.Scenario is required")
	}
	tp := "u1"
	network := "udp"
	switch strings.ToLower(opts.Transport) {
	case "", "udp":
	case "tcp":
		tp, network = "t1", "tcp"
	default:
		return nil, fmt.Errorf("lab: sipp: transport %q: want udp or tcp", opts.Transport)
	}
	in, err := newInstance("sipp", opts.Dir, opts.Logger)
	if err != nil {
		return nil, err
	}
	s := &SippServer{Dir: in.dir, in: in}
	scenario := []string{"-sn", opts.Scenario}
	if strings.HasPrefix(strings.TrimSpace(opts.Scenario), "<") {
		if err := writeFile(in.path("scenario.xml"), opts.Scenario, 0o644); err != nil {
			in.cleanup()
			return nil, fmt.Errorf("lab: sipp: %w", err)
		}
		scenario = []string{"-sf", in.path("scenario.xml")}
	}
	client := opts.Target != ""
	err = in.startRetrying(ctx, func() error {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		s.Addr, s.MediaPort = hostPort(ports[0]), ports[1]
		argv := append([]string{bin}, scenario...)
		argv = append(argv, "-i", "127.0.0.1", "-p", strconv.Itoa(ports[0]), "-mi", "127.0.0.1",
			"-mp", strconv.Itoa(ports[1]), "-t", tp, "-nostdin", "-trace_err",
			"-error_file", in.path("errors.log"))
		if opts.Service != "" {
			argv = append(argv, "-s", opts.Service)
		}
		calls := opts.Calls
		if calls == 0 && client {
			calls = 1
		}
		if calls > 0 {
			argv = append(argv, "-m", strconv.Itoa(calls))
		}
		if opts.Rate > 0 {
			argv = append(argv, "-r", strconv.Itoa(opts.Rate))
		}
		if opts.AuthUser != "" {
			argv = append(argv, "-au", opts.AuthUser, "-ap", opts.AuthPassword)
		}
		if opts.RTPEcho {
			argv = append(argv, "-rtp_echo")
		}
		argv = append(argv, opts.Args...)
		probe := func(context.Context) error { return nil }
		if client {
			argv = append(argv, opts.Target)
		} else {
			probe = portBoundProbe(network, ports[0])
		}
		in.configure(argv, nil, probe)
		return nil
	})
	if err != nil {
		in.cleanup()
		return nil, err
	}
	return s, nil
}

// portBoundProbe is ready when the port can no longer be bound here: the server has
// bound it. (SIPp answers nothing it is not scripted to, so a request cannot probe it.)
func portBoundProbe(network string, port int) func(ctx context.Context) error {
	return func(context.Context) error {
		if network == "tcp" {
			l, err := net.Listen("tcp", hostPort(port))
			if err != nil {
				return nil
			}
			l.Close()
		} else {
			c, err := net.ListenPacket("udp", hostPort(port))
			if err != nil {
				return nil
			}
			c.Close()
		}
		return errors.New("port not bound yet")
	}
}

// Wait waits until SIPp exits and returns nil when every call succeeded (exit
// status 0), else an error with SIPp's exit status and the tail of its log and
// error file.
func (s *SippServer) Wait(ctx context.Context) error {
	s.in.mu.Lock()
	r := s.in.run
	s.in.mu.Unlock()
	if r == nil {
		return fmt.Errorf("lab: sipp: not running: %w", net.ErrClosed)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if r.err != nil {
		return fmt.Errorf("lab: sipp: %w\n--- sipp errors ---\n%s", r.err, s.Errors())
	}
	return nil
}

// Errors returns the unexpected messages SIPp logged (-trace_err), if any.
func (s *SippServer) Errors() string {
	tail := (&instance{logPath: s.in.path("errors.log")}).log()
	return tail
}

// PID returns the process id, or 0 when not running.
func (s *SippServer) PID() int { return s.in.pid() }

// Log returns what SIPp has written to stdout and stderr so far.
func (s *SippServer) Log() string { return s.in.log() }

// Close stops SIPp and removes its directory when the lab made it. A second call
// returns an error matching net.ErrClosed.
func (s *SippServer) Close() error { return s.in.close() }
