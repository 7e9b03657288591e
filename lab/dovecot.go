package lab

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// DovecotOptions configures [StartDovecot]. The zero value is ready to use.
type DovecotOptions struct {
	Dir    string       // empty means a new temporary directory, removed by Close
	Users  []User       // empty means DefaultUsers
	CA     *CA          // nil means a new CA in Dir/ca
	Logger *slog.Logger // nil means discard
	// AuthMechanisms are the SASL mechanisms dovecot offers, written into
	// dovecot.conf's auth_mechanisms ("plain", "scram-sha-1", …); empty
	// means "plain scram-sha-1 scram-sha-256". A test narrows it to make the
	// client take one path, such as SCRAM-SHA-1 with no SCRAM-SHA-256 on
	// offer. Without "plain" dovecot also refuses the LOGIN command
	// (it announces LOGINDISABLED). Names are letters, digits and '-'
	// only, so that no option can add lines to the configuration;
	// StartDovecot refuses others.
	AuthMechanisms []string
}

// defaultDovecotAuthMechanisms are what the lab's dovecot offers unless
// DovecotOptions.AuthMechanisms says otherwise.
const defaultDovecotAuthMechanisms = "plain scram-sha-1 scram-sha-256"

// DovecotServer is a running Dovecot IMAP server. Logins are the users' Email
// addresses (alice@example.test) with their passwords, only over TLS, with SASL
// PLAIN, SCRAM-SHA-1 or SCRAM-SHA-256 (dovecot derives the SCRAM keys from the
// plain passwords of its passwd-file), or the LOGIN command, unless
// DovecotOptions.AuthMechanisms narrows them.
type DovecotServer struct {
	// Addr is the IMAP port (STARTTLS required), TLSAddr the IMAPS port (implicit TLS),
	// both host:port on 127.0.0.1.
	Addr    string
	TLSAddr string
	// LMTPAddr is the LMTP port (RFC 2033) on 127.0.0.1, how a voicemail
	// system hands messages to dovecot; empty when dovecot's lmtp
	// (Debian's dovecot-lmtpd) is not installed. See DeliverLMTP.
	LMTPAddr string
	Dir      string

	s       *server
	uid     int // owner of the mail directories
	gid     int
	counter atomic.Int64 // makes delivered file names unique
}

// Dovecot starts a Dovecot server for the test t and closes it when t ends. It skips t
// when dovecot is not installed, or fails t when CI=true. opts nil means defaults.
func Dovecot(t testing.TB, opts *DovecotOptions) *DovecotServer {
	t.Helper()
	requireBinaries(t, "dovecot")
	if opts == nil {
		opts = &DovecotOptions{}
	}
	return startForTest(t, "dovecot", func(ctx context.Context) (*DovecotServer, error) {
		return StartDovecot(ctx, *opts)
	})
}

// StartDovecot starts Dovecot in the foreground as a child process with a maildir per
// user, returning once both ports accept connections. ctx bounds the start only.
func StartDovecot(ctx context.Context, opts DovecotOptions) (*DovecotServer, error) {
	mechs, err := dovecotAuthMechanisms(opts.AuthMechanisms)
	if err != nil {
		return nil, err
	}
	bin, err := lookBinary("dovecot")
	if err != nil {
		return nil, err
	}
	s, err := newServer("dovecot", opts.Dir, opts.CA, opts.Users, opts.Logger)
	if err != nil {
		return nil, err
	}
	in := s.in
	d := &DovecotServer{Dir: in.dir, s: s, uid: os.Getuid(), gid: os.Getgid()}
	// As root, Dovecot refuses mail uid 0: mail belongs to nobody and its group.
	var mailUser, mailGroup string
	if d.uid == 0 {
		if mailUser, mailGroup, d.uid, d.gid, err = lookupUser("nobody"); err != nil {
			return nil, s.fail(fmt.Errorf("lab: dovecot: %w", err))
		}
	} else {
		u, err := user.Current()
		if err != nil {
			return nil, s.fail(fmt.Errorf("lab: dovecot: %w", err))
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			return nil, s.fail(fmt.Errorf("lab: dovecot: %w", err))
		}
		mailUser, mailGroup = u.Username, g.Name
	}
	if err := d.prepareMail(); err != nil {
		return nil, s.fail(fmt.Errorf("lab: dovecot: %w", err))
	}
	var users strings.Builder
	for _, u := range s.users {
		fmt.Fprintf(&users, "%s:{PLAIN}%s\n", u.Email, u.Password)
	}
	// The passwd-file must be complete before start: Dovecot rejected a line appended
	// right after start.
	if err := writeFile(in.path("users"), users.String(), 0o644); err != nil {
		return nil, s.fail(fmt.Errorf("lab: dovecot: %w", err))
	}
	if err := in.mkdirs(0o755, "run", "state"); err != nil {
		return nil, s.fail(fmt.Errorf("lab: dovecot: %w", err))
	}
	cfg := in.path("dovecot.conf")
	lmtp := dovecotHasLMTP()
	err = in.startRetrying(ctx, func() error {
		n := 2
		if lmtp {
			n = 3
		}
		ports, err := freePorts(n)
		if err != nil {
			return err
		}
		d.Addr, d.TLSAddr = hostPort(ports[0]), hostPort(ports[1])
		lmtpPort := 0
		if lmtp {
			lmtpPort = ports[2]
			d.LMTPAddr = hostPort(lmtpPort)
		}
		conf := dovecotConfig(in.dir, s.certFile, s.keyFile, mailUser, mailGroup, mechs, ports[0], ports[1], lmtpPort)
		if err := writeFile(cfg, conf, 0o644); err != nil {
			return err
		}
		in.configure([]string{bin, "-F", "-c", cfg}, ports, tcpProbe(ports...))
		return nil
	})
	if err != nil {
		return nil, s.fail(err)
	}
	return d, nil
}

// dovecotLibexec are where distributions put dovecot's helper binaries
// (lmtp, dovecot-lda).
var dovecotLibexec = []string{"/usr/lib/dovecot", "/usr/libexec/dovecot", "/usr/local/libexec/dovecot"}

// DovecotHelper returns the path of one of dovecot's helper binaries,
// such as "dovecot-lda" or "lmtp", or an error matching exec.ErrNotFound.
func DovecotHelper(name string) (string, error) {
	for _, d := range dovecotLibexec {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("lab: dovecot's %s not installed: %w", name, exec.ErrNotFound)
}

// dovecotHasLMTP reports whether dovecot's LMTP server is installed: the
// lab then configures it, else dovecot would refuse the protocol.
func dovecotHasLMTP() bool {
	_, err := DovecotHelper("lmtp")
	return err == nil
}

// dovecotAuthMechanisms returns the auth_mechanisms value for names, the
// default when there are none. A name with anything but letters, digits
// and '-' is refused: written into dovecot.conf it could end the line and
// start another setting.
func dovecotAuthMechanisms(names []string) (string, error) {
	if len(names) == 0 {
		return defaultDovecotAuthMechanisms, nil
	}
	for _, n := range names {
		if n == "" || strings.ContainsFunc(n, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-')
		}) {
			return "", fmt.Errorf("lab: dovecot: auth mechanism %q: only letters, digits and '-'", n)
		}
	}
	return strings.Join(names, " "), nil
}

func dovecotConfig(dir, certFile, keyFile, mailUser, mailGroup, mechs string, imap, imaps, lmtp int) string {
	unprivileged := ""
	loginChroot := ""
	if os.Geteuid() != 0 {
		unprivileged = fmt.Sprintf("default_login_user = %s\ndefault_internal_user = %s\ndefault_internal_group = %s\n",
			mailUser, mailUser, mailGroup)
		loginChroot = "  chroot =\n"
	}
	protocols, lmtpService := "imap", ""
	if lmtp != 0 {
		// LMTP on loopback, as a voicemail system delivers over the network.
		protocols = "imap lmtp"
		lmtpService = fmt.Sprintf("service lmtp {\n  inet_listener lmtp {\n    address = 127.0.0.1\n    port = %d\n  }\n}\n", lmtp)
	}
	r := strings.NewReplacer("$T", dir, "$CERT", certFile, "$KEY", keyFile, "$P1", fmt.Sprint(imap),
		"$P2", fmt.Sprint(imaps), "$MAILUSER", mailUser, "$MAILGROUP", mailGroup,
		"$UNPRIV\n", unprivileged, "$CHROOT\n", loginChroot, "$PROTOCOLS", protocols, "$LMTP\n", lmtpService, "$MECHS", mechs)
	return r.Replace(`# written by the OpenCSF lab
base_dir = $T/run
state_dir = $T/state
protocols = $PROTOCOLS
listen = 127.0.0.1
log_path = /dev/stderr
ssl = required
ssl_cert = <$CERT
ssl_key = <$KEY
auth_mechanisms = $MECHS
mail_location = maildir:$T/mail/%u
$UNPRIV
service imap-login {
$CHROOT
  inet_listener imap {
    port = $P1
  }
  inet_listener imaps {
    port = $P2
    ssl = yes
  }
}
service anvil {
$CHROOT
}
$LMTP
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $T/users
}
userdb {
  driver = static
  args = uid=$MAILUSER gid=$MAILGROUP home=$T/mail/%u
}
`)
}

// prepareMail makes a maildir (cur, new, tmp) for every user, owned by the mail user.
func (d *DovecotServer) prepareMail() error {
	root := filepath.Join(d.Dir, "mail")
	dirs := []string{root}
	for _, u := range d.s.users {
		for _, sub := range []string{"", "cur", "new", "tmp"} {
			dirs = append(dirs, filepath.Join(root, u.Email, sub))
		}
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := os.Lchown(dir, d.uid, d.gid); err != nil {
			return err
		}
	}
	return nil
}

// lookupUser returns the names and ids of a user and its primary group.
func lookupUser(name string) (userName, groupName string, uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", "", 0, 0, err
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return "", "", 0, 0, err
	}
	if uid, err = strconv.Atoi(u.Uid); err != nil {
		return "", "", 0, 0, err
	}
	if gid, err = strconv.Atoi(u.Gid); err != nil {
		return "", "", 0, 0, err
	}
	return u.Username, g.Name, uid, gid, nil
}

// Deliver puts an RFC 5322 message (CRLF line ends) into the INBOX of user, named
// "alice" or "alice@example.test", by writing it into the user's maildir: it shows as
// a new (unseen) message. It works whether or not the server is running.
func (d *DovecotServer) Deliver(userName string, rfc822 []byte) error {
	u, ok := findUser(d.s.users, userName)
	if !ok {
		return fmt.Errorf("lab: dovecot: deliver: no user %q", userName)
	}
	box := filepath.Join(d.Dir, "mail", u.Email)
	name := fmt.Sprintf("%d.M%dP%dQ%d.opencsf-lab", time.Now().Unix(), time.Now().Nanosecond()/1000,
		os.Getpid(), d.counter.Add(1))
	tmp := filepath.Join(box, "tmp", name)
	if err := os.WriteFile(tmp, rfc822, 0o600); err != nil {
		return fmt.Errorf("lab: dovecot: deliver: %w", err)
	}
	if err := os.Lchown(tmp, d.uid, d.gid); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("lab: dovecot: deliver: %w", err)
	}
	// The rename makes the message appear whole, never half-written (maildir's rule).
	if err := os.Rename(tmp, filepath.Join(box, "new", name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("lab: dovecot: deliver: %w", err)
	}
	return nil
}

// Users returns the accounts; their Email is the IMAP login.
func (d *DovecotServer) Users() []User { return append([]User(nil), d.s.users...) }

// CA returns the CA that issued the server certificate.
func (d *DovecotServer) CA() *CA { return d.s.ca }

// PID returns the server's process id, or 0 when it is not running.
func (d *DovecotServer) PID() int { return d.s.in.pid() }

// Log returns what the server has written to stdout and stderr so far.
func (d *DovecotServer) Log() string { return d.s.in.log() }

// Restart stops the server and starts it again on the same ports with the same mail,
// for tests of reconnection. It blocks until the server is ready or ctx ends.
func (d *DovecotServer) Restart(ctx context.Context) error { return d.s.restart(ctx) }

// Close stops the server (SIGTERM, then SIGKILL to its process group) and removes its
// directory when the lab made it. A second call returns an error matching net.ErrClosed.
func (d *DovecotServer) Close() error { return d.s.in.close() }
