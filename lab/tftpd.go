package lab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TFTPOptions configures [StartTFTP]. The zero value is ready to use.
type TFTPOptions struct {
	Dir    string       // empty means a new temporary directory, removed by Close
	Logger *slog.Logger // nil means discard
}

// TFTPServer is a running tftpd-hpa (in.tftpd) serving [TFTPServer.Root] read-only
// over UDP, as a provisioning server. It needs root: in.tftpd chroots into Root.
type TFTPServer struct {
	Addr string // host:port on 127.0.0.1, UDP
	Root string // the served directory; files put here are served at once
	Dir  string

	s *server
}

// tftpProbeFile is asked for to see that the server answers; it does not exist, so
// the answer is a TFTP ERROR packet.
const tftpProbeFile = "opencsf-lab-readiness-probe"

// TFTP starts a TFTP server for the test t and closes it when t ends. It skips t when
// in.tftpd is not installed or the test is not root, or fails t when CI=true. opts nil
// means defaults.
func TFTP(t testing.TB, opts *TFTPOptions) *TFTPServer {
	t.Helper()
	requireBinaries(t, "in.tftpd")
	requireRoot(t, "in.tftpd")
	if opts == nil {
		opts = &TFTPOptions{}
	}
	return startForTest(t, "tftpd", func(ctx context.Context) (*TFTPServer, error) {
		return StartTFTP(ctx, *opts)
	})
}

// StartTFTP starts in.tftpd in the foreground as a child process, returning once it
// answers a read request. ctx bounds the start only.
func StartTFTP(ctx context.Context, opts TFTPOptions) (*TFTPServer, error) {
	bin, err := lookBinary("in.tftpd")
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		// Unprivileged, every request child's setgroups fails and clients time out.
		return nil, errors.New("lab: tftpd: in.tftpd needs root")
	}
	in, err := newInstance("tftpd", opts.Dir, opts.Logger)
	if err != nil {
		return nil, err
	}
	s := &server{in: in}
	t := &TFTPServer{Root: in.path("tftproot"), Dir: in.dir, s: s}
	if err := in.mkdirs(0o755, "tftproot"); err != nil {
		return nil, s.fail(fmt.Errorf("lab: tftpd: %w", err))
	}
	err = in.startRetrying(ctx, func() error {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		t.Addr = hostPort(ports[0])
		// -L: foreground; -s: chroot into Root; -u root: serve files of a 0711 tree.
		in.configure([]string{bin, "-L", "-a", t.Addr, "-s", t.Root, "-u", "root"}, nil, tftpProbe(t.Addr))
		return nil
	})
	if err != nil {
		return nil, s.fail(err)
	}
	return t, nil
}

// tftpProbe is ready when the server answers a read request (RFC 1350) with any packet.
func tftpProbe(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer c.Close()
		to, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return err
		}
		rrq := binary.BigEndian.AppendUint16(nil, 1) // RRQ
		rrq = append(rrq, tftpProbeFile+"\x00octet\x00"...)
		if _, err := c.WriteTo(rrq, to); err != nil {
			return err
		}
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(probeTimeout)
		}
		c.SetReadDeadline(deadline)
		buf := make([]byte, 600)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		if n < 4 {
			return fmt.Errorf("short TFTP packet (%d bytes)", n)
		}
		return nil
	}
}

// Put writes data to the file name (slash-separated, relative) under Root, making
// directories as needed, so that the server serves it.
func (t *TFTPServer) Put(name string, data []byte) error {
	clean := filepath.Clean(filepath.FromSlash(name))
	if name == "" || filepath.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return fmt.Errorf("lab: tftpd: put %q: want a relative path inside Root", name)
	}
	p := filepath.Join(t.Root, clean)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("lab: tftpd: put %q: %w", name, err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return fmt.Errorf("lab: tftpd: put %q: %w", name, err)
	}
	return nil
}

// PID returns the server's process id, or 0 when it is not running.
func (t *TFTPServer) PID() int { return t.s.in.pid() }

// Log returns what the server has written to stdout and stderr so far (in.tftpd
// logs to syslog, so usually little).
func (t *TFTPServer) Log() string { return t.s.in.log() }

// Restart stops the server and starts it again on the same port with the same files.
// It blocks until the server answers or ctx ends.
func (t *TFTPServer) Restart(ctx context.Context) error { return t.s.restart(ctx) }

// Close stops the server (SIGTERM, then SIGKILL to its process group) and removes its
// directory when the lab made it. A second call returns an error matching net.ErrClosed.
func (t *TFTPServer) Close() error { return t.s.in.close() }
