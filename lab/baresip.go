package lab

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BaresipOptions configures [StartBaresip]. The zero value is a far end answering
// every call at once and playing a 800 Hz tone, reachable without a registrar.
type BaresipOptions struct {
	Dir string // empty means a new temporary directory, removed by Close
	// User is the account baresip uses; empty means "bob". Its password comes
	// from Users.
	User  string
	Users []User // empty means DefaultUsers
	// Registrar is the host:port of a registrar (Kamailio's UDPAddr) to
	// register with over UDP; empty means no registration: calls go straight to
	// [BaresipServer.URI].
	Registrar string
	// Play is a WAV file (8 kHz, mono, 16 bit) that baresip sends in every call;
	// empty means a 30 s tone of ToneHz. baresip hangs up when the file ends.
	Play string
	// ToneHz is the tone's frequency when Play is empty; 0 means 800.
	ToneHz float64
	// Manual makes baresip ring instead of answering incoming calls.
	Manual bool
	Logger *slog.Logger // nil means discard
}

// BaresipServer is a running baresip user agent, controlled through its ctrl_tcp
// module. It records every call in both directions under RecordDir.
type BaresipServer struct {
	// Addr is baresip's SIP address, host:port on 127.0.0.1.
	Addr string
	// URI is the address that reaches it without a registrar
	// (sip:bob@127.0.0.1:port); with a registrar, call sip:bob@example.test.
	URI string
	// RecordDir holds dump-*-dec.wav (what baresip received) and
	// dump-*-enc.wav (what it sent), one pair per call.
	RecordDir string
	Dir       string

	ctrl string
	in   *instance
}

// Baresip starts baresip for the test t and stops it when t ends (before a Kamailio
// started earlier in t, since cleanups run in reverse: baresip waits ~30 s on exit
// for a registrar that is already gone). It skips t when baresip is not installed
// (Debian package baresip-core), or fails t when CI=true.
func Baresip(t testing.TB, opts *BaresipOptions) *BaresipServer {
	t.Helper()
	requireBinaries(t, "baresip")
	if opts == nil {
		opts = &BaresipOptions{}
	}
	return startForTest(t, "baresip", func(ctx context.Context) (*BaresipServer, error) {
		return StartBaresip(ctx, *opts)
	})
}

// baresipModules returns baresip's module directory.
func baresipModules() string {
	for _, d := range []string{"/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules"} {
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	if m, _ := filepath.Glob("/usr/lib/*/baresip/modules"); len(m) > 0 {
		return m[0]
	}
	return "/usr/lib/baresip/modules"
}

// StartBaresip starts baresip in the foreground as a child process and returns once
// its control port answers and, with a registrar, it has registered. ctx bounds the
// start only.
func StartBaresip(ctx context.Context, opts BaresipOptions) (*BaresipServer, error) {
	bin, err := lookBinary("baresip")
	if err != nil {
		return nil, err
	}
	users, err := usersOrDefault(opts.Users)
	if err != nil {
		return nil, err
	}
	name := opts.User
	if name == "" {
		name = "bob"
	}
	u, ok := findUser(users, name)
	if !ok {
		return nil, fmt.Errorf("lab: baresip: unknown user %q", name)
	}
	in, err := newInstance("baresip", opts.Dir, opts.Logger)
	if err != nil {
		return nil, err
	}
	b := &BaresipServer{Dir: in.dir, RecordDir: in.path("rec"), in: in}
	if err := in.mkdirs(0o755, "rec"); err != nil {
		in.cleanup()
		return nil, fmt.Errorf("lab: baresip: %w", err)
	}
	play := opts.Play
	if play == "" {
		play = in.path("tone.wav")
		hz := opts.ToneHz
		if hz == 0 {
			hz = 800
		}
		if err := WriteToneWAV(play, hz, 30*time.Second); err != nil {
			in.cleanup()
			return nil, fmt.Errorf("lab: baresip: %w", err)
		}
	}
	answer := "auto"
	if opts.Manual {
		answer = "manual"
	}
	err = in.startRetrying(ctx, func() error {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		b.Addr, b.ctrl = hostPort(ports[0]), hostPort(ports[1])
		// RTP ports: a block above the SIP port, away from other lab ports.
		rtpLo := 20000 + ports[0]%20000
		cfg := strings.Join([]string{
			"sip_listen " + b.Addr,
			"net_interface 127.0.0.1",
			"audio_source aufile," + play,
			"audio_player aubridge,sink",
			"audio_alert aubridge,sink",
			fmt.Sprintf("rtp_ports %d-%d", rtpLo, rtpLo+99),
			"module_path " + baresipModules(),
			"module g711.so", "module aufile.so", "module aubridge.so", "module sndfile.so",
			"snd_path " + b.RecordDir,
			"module_app account.so", "module_app menu.so", "module_app ctrl_tcp.so",
			"ctrl_tcp_listen " + b.ctrl,
			"",
		}, "\n")
		var account string
		if opts.Registrar != "" {
			account = fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;outbound=\"sip:%s;transport=udp\";regint=300;answermode=%s;audio_codecs=PCMU,PCMA\n",
				u.Name, Domain, u.Password, opts.Registrar, answer)
			b.URI = "sip:" + u.Name + "@" + Domain
		} else {
			account = fmt.Sprintf("<sip:%s@127.0.0.1>;regint=0;answermode=%s;audio_codecs=PCMU,PCMA\n", u.Name, answer)
			b.URI = "sip:" + u.Name + "@" + b.Addr
		}
		if err := writeFile(in.path("config"), cfg, 0o644); err != nil {
			return err
		}
		if err := writeFile(in.path("accounts"), account, 0o600); err != nil {
			return err
		}
		probe := func(ctx context.Context) error {
			out, err := b.command(ctx, "reginfo", "")
			if err != nil {
				return err
			}
			if opts.Registrar != "" && !strings.Contains(out, "OK") {
				return errors.New("not registered yet")
			}
			return nil
		}
		in.configure([]string{bin, "-f", in.dir}, nil, probe)
		return nil
	})
	if err != nil {
		in.cleanup()
		return nil, err
	}
	return b, nil
}

// command sends one ctrl_tcp command (netstring-framed JSON) and returns the
// response's data.
func (b *BaresipServer) command(ctx context.Context, cmd, params string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", b.ctrl)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if deadline, ok := ctx.Deadline(); ok {
		c.SetDeadline(deadline)
	} else {
		c.SetDeadline(time.Now().Add(5 * time.Second))
	}
	msg, _ := json.Marshal(map[string]string{"command": cmd, "params": params, "token": "lab"})
	if _, err := fmt.Fprintf(c, "%d:%s,", len(msg), msg); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	for {
		// Events may come before the response: read netstrings until ours.
		lenStr, err := r.ReadString(':')
		if err != nil {
			return "", err
		}
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(lenStr, ":")))
		if err != nil || n < 0 || n > 1<<20 {
			return "", fmt.Errorf("lab: baresip: bad netstring length %q", lenStr)
		}
		body := make([]byte, n+1)
		if _, err := ioReadFull(r, body); err != nil {
			return "", err
		}
		var resp struct {
			Response bool   `json:"response"`
			OK       bool   `json:"ok"`
			Data     string `json:"data"`
			Token    string `json:"token"`
		}
		if json.Unmarshal(body[:n], &resp) != nil || !resp.Response {
			continue
		}
		if !resp.OK {
			return resp.Data, fmt.Errorf("lab: baresip: %s %s: %s", cmd, params, resp.Data)
		}
		return resp.Data, nil
	}
}

func ioReadFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Dial makes baresip call uri.
func (b *BaresipServer) Dial(ctx context.Context, uri string) error {
	_, err := b.command(ctx, "dial", uri)
	return err
}

// Answer answers a ringing call (with Manual).
func (b *BaresipServer) Answer(ctx context.Context) error {
	_, err := b.command(ctx, "accept", "")
	return err
}

// Hangup ends the current call.
func (b *BaresipServer) Hangup(ctx context.Context) error {
	_, err := b.command(ctx, "hangup", "")
	return err
}

// Command runs any ctrl_tcp command and returns its output.
func (b *BaresipServer) Command(ctx context.Context, cmd, params string) (string, error) {
	return b.command(ctx, cmd, params)
}

// Received returns the recordings of what baresip received, oldest first.
func (b *BaresipServer) Received() []string {
	m, _ := filepath.Glob(filepath.Join(b.RecordDir, "dump-*-dec.wav"))
	sort.Strings(m)
	return m
}

// PID returns the process id, or 0 when not running.
func (b *BaresipServer) PID() int { return b.in.pid() }

// Log returns what baresip has written so far.
func (b *BaresipServer) Log() string { return b.in.log() }

// Close stops baresip (it unregisters first) and removes its directory when the lab
// made it. A second call returns an error matching net.ErrClosed.
func (b *BaresipServer) Close() error { return b.in.close() }

// WriteToneWAV writes a WAV file (8 kHz, mono, 16-bit PCM) holding a sine tone
// of hz at a third of full scale for d, for servers that play a file.
func WriteToneWAV(path string, hz float64, d time.Duration) error {
	n := int(d.Seconds() * 8000)
	buf := make([]byte, 44+2*n)
	copy(buf[0:], "RIFF")
	binary.LittleEndian.PutUint32(buf[4:], uint32(36+2*n))
	copy(buf[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(buf[16:], 16)
	binary.LittleEndian.PutUint16(buf[20:], 1)
	binary.LittleEndian.PutUint16(buf[22:], 1)
	binary.LittleEndian.PutUint32(buf[24:], 8000)
	binary.LittleEndian.PutUint32(buf[28:], 16000)
	binary.LittleEndian.PutUint16(buf[32:], 2)
	binary.LittleEndian.PutUint16(buf[34:], 16)
	copy(buf[36:], "data")
	binary.LittleEndian.PutUint32(buf[40:], uint32(2*n))
	for i := range n {
		v := int16(10000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
		binary.LittleEndian.PutUint16(buf[44+2*i:], uint16(v))
	}
	return os.WriteFile(path, buf, 0o644)
}
