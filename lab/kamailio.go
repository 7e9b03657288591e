package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// KamailioOptions configures [StartKamailio]. The zero value is ready to use.
type KamailioOptions struct {
	Dir    string       // empty means a new temporary directory, removed by Close
	Users  []User       // empty means DefaultUsers
	CA     *CA          // nil means a new CA in Dir/ca
	Logger *slog.Logger // nil means discard
	// DigestAlgorithm is the algorithm of the digest challenges: "MD5" or
	// "SHA-256" (RFC 8760); empty means MD5.
	DigestAlgorithm string
}

// KamailioServer is a running Kamailio SIP registrar and proxy for [Domain]. REGISTER
// is challenged with digest authentication (realm example.test, RFC 3261 section
// 22.4) and answered 401, INVITE, MESSAGE and SUBSCRIBE with 407; the From user's
// password is the lab password. OPTIONS to the server itself gets 200. STUN Binding
// requests on the SIP port are answered (module stun), as RFC 5626 keep-alives over UDP
// need. Registrations live in memory only: a restart forgets them.
type KamailioServer struct {
	// UDPAddr and TCPAddr are the same port; TLSAddr is the SIP over TLS port. All are
	// host:port on 127.0.0.1.
	UDPAddr string
	TCPAddr string
	TLSAddr string
	Domain  string // example.test: the digest realm and an alias of the server
	Dir     string

	s *server
}

// Kamailio starts a Kamailio server for the test t and closes it when t ends. It skips
// t when kamailio is not installed, or fails t when CI=true. opts nil means defaults.
func Kamailio(t testing.TB, opts *KamailioOptions) *KamailioServer {
	t.Helper()
	requireBinaries(t, "kamailio")
	if opts == nil {
		opts = &KamailioOptions{}
	}
	return startForTest(t, "kamailio", func(ctx context.Context) (*KamailioServer, error) {
		return StartKamailio(ctx, *opts)
	})
}

// StartKamailio starts Kamailio in the foreground as a child process listening on UDP,
// TCP and TLS, returning once the TCP and TLS ports accept connections. ctx bounds the
// start only.
func StartKamailio(ctx context.Context, opts KamailioOptions) (*KamailioServer, error) {
	bin, err := lookBinary("kamailio")
	if err != nil {
		return nil, err
	}
	s, err := newServer("kamailio", opts.Dir, opts.CA, opts.Users, opts.Logger)
	if err != nil {
		return nil, err
	}
	in := s.in
	switch opts.DigestAlgorithm {
	case "", "MD5", "SHA-256":
	default:
		return nil, s.fail(fmt.Errorf("lab: kamailio: digest algorithm %q: want MD5 or SHA-256", opts.DigestAlgorithm))
	}
	k := &KamailioServer{Domain: Domain, Dir: in.dir, s: s}
	if err := in.mkdirs(0o755, "run"); err != nil {
		return nil, s.fail(fmt.Errorf("lab: kamailio: %w", err))
	}
	tlsCfg := fmt.Sprintf("[server:default]\nmethod = TLSv1.2+\ncertificate = %s\nprivate_key = %s\n", s.certFile, s.keyFile)
	if err := writeFile(in.path("tls.cfg"), tlsCfg, 0o644); err != nil {
		return nil, s.fail(fmt.Errorf("lab: kamailio: %w", err))
	}
	cfg := in.path("kamailio.cfg")
	err = in.startRetrying(ctx, func() error {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		k.UDPAddr, k.TCPAddr, k.TLSAddr = hostPort(ports[0]), hostPort(ports[0]), hostPort(ports[1])
		if err := writeFile(cfg, kamailioConfig(in.dir, s.users, ports[0], ports[1], opts.DigestAlgorithm), 0o644); err != nil {
			return err
		}
		// Private memory holds the parsed config, which lists every user:
		// 8 MB runs out near 5,000 (bench/softphone's 3,000 calls need 6,000).
		in.configure([]string{bin, "-DD", "-E", "-f", cfg, "-P", in.path("kamailio.pid"),
			"-Y", in.path("run"), "-m", "64", "-M", "32"}, ports, kamailioProbe(ports[0]))
		return nil
	})
	if err != nil {
		return nil, s.fail(err)
	}
	return k, nil
}

// kamailioProbe is ready when OPTIONS over UDP and over TCP both get 200. Accepting
// TCP connections is not enough: the kernel queues them as soon as the main process
// has bound the port, before it has forked the workers that serve it, and a worker
// forked after a SIGTERM arrives may miss it.
func kamailioProbe(port int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := sipOptions(ctx, "udp", hostPort(port)); err != nil {
			return err
		}
		return sipOptions(ctx, "tcp", hostPort(port))
	}
}

// sipOptions sends an OPTIONS request to the server itself (RFC 3261 section 11) and
// wants 200 OK.
func sipOptions(ctx context.Context, network, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if deadline, ok := ctx.Deadline(); ok {
		c.SetDeadline(deadline)
	}
	local := c.LocalAddr().String()
	req := "OPTIONS sip:" + addr + " SIP/2.0\r\n" +
		"Via: SIP/2.0/" + strings.ToUpper(network) + " " + local + ";branch=z9hG4bK-opencsf-lab-probe;rport\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:probe@" + Domain + ">;tag=probe\r\nTo: <sip:" + addr + ">\r\n" +
		"Call-ID: opencsf-lab-probe-" + local + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return err
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if status := strings.SplitN(string(buf[:n]), "\r\n", 2)[0]; !strings.HasPrefix(status, "SIP/2.0 200 ") {
		return fmt.Errorf("OPTIONS over %s answered %q", network, status)
	}
	return nil
}

// kamailioModules returns Kamailio's module directory: Debian puts it under the
// multiarch directory (/usr/lib/x86_64-linux-gnu/kamailio/modules).
func kamailioModules() string {
	if m, _ := filepath.Glob("/usr/lib/*/kamailio/modules"); len(m) > 0 {
		return m[0] + "/"
	}
	return "/usr/lib/kamailio/modules/"
}

func kamailioConfig(dir string, users []User, sip, sips int, algorithm string) string {
	if algorithm == "" {
		algorithm = "MD5"
	}
	var fill strings.Builder
	for _, u := range users {
		fmt.Fprintf(&fill, "\t$sht(users=>%s) = \"%s\";\n", u.Name, u.Password)
	}
	r := strings.NewReplacer("$T/", dir+"/", "$P1", fmt.Sprint(sip), "$P2", fmt.Sprint(sips),
		"$DOMAIN", Domain, "$USERS\n", fill.String(), "$MPATH", kamailioModules(), "$ALG", algorithm)
	return r.Replace(`#!KAMAILIO
# written by the OpenCSF lab
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
alias="$DOMAIN"
enable_tls=yes
listen=udp:127.0.0.1:$P1
listen=tcp:127.0.0.1:$P1
listen=tls:127.0.0.1:$P2

mpath="$MPATH"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "htable.so"
loadmodule "tls.so"
loadmodule "stun.so"

modparam("usrloc", "db_mode", 0)
modparam("htable", "htable", "users=>size=4;")
modparam("auth", "algorithm", "$ALG")
modparam("tls", "config", "$T/tls.cfg")

event_route[htable:mod-init] {
$USERS
}

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (!sanity_check()) {
		exit;
	}
	if (has_totag()) {
		if (loose_route() || is_method("ACK|BYE|CANCEL|INFO|UPDATE|NOTIFY")) {
			t_relay();
		} else {
			sl_send_reply("404", "Not here");
		}
		exit;
	}
	if (is_method("OPTIONS") && uri==myself && $rU==$null) {
		sl_send_reply("200", "OK");
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	if (is_method("REGISTER|INVITE|MESSAGE|SUBSCRIBE")) {
		$var(pw) = $sht(users=>$fU);
		if ($var(pw) == $null || !pv_auth_check("$fd", "$var(pw)", "0", "1")) {
			auth_challenge("$fd", "1");
			exit;
		}
		consume_credentials();
	}
	if (is_method("REGISTER")) {
		save("location");
		exit;
	}
	if (is_method("INVITE|SUBSCRIBE")) {
		record_route();
	}
	if (!lookup("location")) {
		sl_send_reply("404", "Not Found");
		exit;
	}
	t_relay();
}
`)
}

// Users returns the accounts the registrar knows.
func (k *KamailioServer) Users() []User { return append([]User(nil), k.s.users...) }

// CA returns the CA that issued the server certificate.
func (k *KamailioServer) CA() *CA { return k.s.ca }

// PID returns the server's main process id, or 0 when it is not running.
func (k *KamailioServer) PID() int { return k.s.in.pid() }

// Log returns what the server has written to stdout and stderr so far.
func (k *KamailioServer) Log() string { return k.s.in.log() }

// Restart stops the server and starts it again on the same ports, for tests of
// re-registration: registrations are lost. It blocks until ready or ctx ends.
func (k *KamailioServer) Restart(ctx context.Context) error { return k.s.restart(ctx) }

// Stop stops the server and keeps its ports and directory for [KamailioServer.Start]:
// for tests of a registrar that is down for a while, with requests in flight.
func (k *KamailioServer) Stop() { k.s.in.stop() }

// Start starts a stopped server again on the same ports, once they are free, and
// blocks until it is ready or ctx ends. Registrations made before Stop are lost.
func (k *KamailioServer) Start(ctx context.Context) error {
	k.s.in.mu.Lock()
	ports := k.s.in.tcp
	k.s.in.mu.Unlock()
	if err := waitPortsFree(ctx, ports); err != nil {
		return fmt.Errorf("lab: kamailio: start: %w", err)
	}
	return k.s.in.start(ctx)
}

// Close stops the server (SIGTERM, then SIGKILL to its process group) and removes its
// directory when the lab made it. A second call returns an error matching net.ErrClosed.
func (k *KamailioServer) Close() error { return k.s.in.close() }
