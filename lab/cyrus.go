package lab

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// CyrusOptions configures [StartCyrus]. The zero value is ready to use.
type CyrusOptions struct {
	Dir    string       // empty means a new temporary directory, removed by Close
	Users  []User       // empty means DefaultUsers
	CA     *CA          // nil means a new CA in Dir/ca
	Logger *slog.Logger // nil means discard
}

// CyrusServer is a running Cyrus IMAP server: the second real IMAP server beside
// [DovecotServer], for interop, and one whose IDLE reports a delivery at once (its
// idled daemon wakes the IDLE sessions when lmtpd stores a message, where dovecot
// waits half a second). Logins are the users' Email addresses (alice@example.test)
// with their passwords, only over TLS (PLAIN, SCRAM-SHA-1 and SCRAM-SHA-256, from a
// SASL database in the server's directory). Every user's INBOX exists once the
// server is started; users may create folders of their own next to it (the
// alternate namespace: "Trash", not "INBOX/Trash").
type CyrusServer struct {
	// Addr is the IMAP port (STARTTLS before any login), TLSAddr the IMAPS port
	// (implicit TLS), LMTPAddr the LMTP port (RFC 2033) that [CyrusServer.Deliver]
	// uses; all host:port on 127.0.0.1.
	Addr     string
	TLSAddr  string
	LMTPAddr string
	Dir      string

	s *server
}

// cyrusLibexec are where distributions put Cyrus's programs (master, imapd,
// lmtpd, idled…), which are not on PATH. /usr/local/lib/cyrus/bin is where the
// lab's install script puts imapd and idled on Debian, whose cyrus-imapd package
// conflicts with dovecot-imapd (both provide imap-server): see the package doc.
var cyrusLibexec = []string{"/usr/lib/cyrus/bin", "/usr/local/lib/cyrus/bin", "/usr/libexec/cyrus-imapd", "/usr/lib/cyrus-imapd"}

// cyrusPrograms are the Cyrus programs the lab runs.
var cyrusPrograms = []string{"master", "imapd", "lmtpd", "idled", "ctl_cyrusdb"}

// cyrusProgram returns the path of one of Cyrus's programs, or an error matching
// exec.ErrNotFound.
func cyrusProgram(name string) (string, error) {
	if !supported {
		return "", fmt.Errorf("lab: cyrus: the lab runs servers on Linux only: %w", exec.ErrNotFound)
	}
	for _, d := range cyrusLibexec {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("lab: cyrus's %s not installed (looked in %v): %w", name, cyrusLibexec, exec.ErrNotFound)
}

// Cyrus starts a Cyrus IMAP server for the test t and closes it when t ends. It
// skips t when Cyrus (or saslpasswd2) is not installed, or fails t when CI=true.
// opts nil means defaults.
func Cyrus(t testing.TB, opts *CyrusOptions) *CyrusServer {
	t.Helper()
	for _, p := range cyrusPrograms {
		if _, err := cyrusProgram(p); err != nil {
			skipOrFail(t, "%v (the package doc says how to install it)", err)
			return nil
		}
	}
	requireBinaries(t, "saslpasswd2")
	if opts == nil {
		opts = &CyrusOptions{}
	}
	return startForTest(t, "cyrus", func(ctx context.Context) (*CyrusServer, error) {
		return StartCyrus(ctx, *opts)
	})
}

// cyrusSocketMax is the longest Unix socket path Linux takes (sun_path less its
// terminating NUL). Cyrus puts its sockets under its configuration directory; the
// longest is an imapd's IDLE socket, socket/idle.PID.
const cyrusSocketMax = 107

// StartCyrus writes the users into a SASL database, starts Cyrus's master in the
// foreground as a child process (it starts idled and, per connection, imapd and
// lmtpd) and returns once its ports accept connections and every user has logged in
// once over TLS, which creates their INBOX. ctx bounds the start only.
//
// As root, master switches to the cyrus user, which then owns the server's data
// directories and key; otherwise Cyrus runs as the current user.
func StartCyrus(ctx context.Context, opts CyrusOptions) (*CyrusServer, error) {
	progs := map[string]string{}
	for _, p := range cyrusPrograms {
		path, err := cyrusProgram(p)
		if err != nil {
			return nil, err
		}
		progs[p] = path
	}
	saslpasswd, err := lookBinary("saslpasswd2")
	if err != nil {
		return nil, err
	}
	s, err := newServer("cyrus", opts.Dir, opts.CA, opts.Users, opts.Logger)
	if err != nil {
		return nil, err
	}
	in := s.in
	c := &CyrusServer{Dir: in.dir, s: s}
	// cyrus.conf cannot quote inside its quoted cmd= strings.
	if strings.ContainsAny(in.dir, " \t\"'\\") {
		return nil, s.fail(fmt.Errorf("lab: cyrus: directory %q: no spaces, quotes or backslashes, please", in.dir))
	}
	if n := len(in.path("conf", "socket", "idle.4294967295")); n > cyrusSocketMax {
		return nil, s.fail(fmt.Errorf("lab: cyrus: directory %q is too long for Cyrus's Unix sockets (%d > %d bytes): use a shorter Dir", in.dir, n, cyrusSocketMax))
	}
	runAs, uid, gid, err := cyrusUser()
	if err != nil {
		return nil, s.fail(fmt.Errorf("lab: cyrus: %w", err))
	}
	if err := c.prepare(ctx, saslpasswd, uid, gid); err != nil {
		return nil, s.fail(fmt.Errorf("lab: cyrus: %w", err))
	}
	imapdConf, cyrusConf := in.path("imapd.conf"), in.path("cyrus.conf")
	if err := writeFile(imapdConf, cyrusIMAPDConfig(in.dir, s.certFile, s.keyFile, runAs), 0o644); err != nil {
		return nil, s.fail(fmt.Errorf("lab: cyrus: %w", err))
	}
	idleSocket := in.path("conf", "socket", "idle")
	err = in.startRetrying(ctx, func() error {
		ports, err := freePorts(3)
		if err != nil {
			return err
		}
		c.Addr, c.TLSAddr, c.LMTPAddr = hostPort(ports[0]), hostPort(ports[1]), hostPort(ports[2])
		if err := writeFile(cyrusConf, cyrusMasterConfig(progs, imapdConf, ports[0], ports[1], ports[2]), 0o644); err != nil {
			return err
		}
		// Without -d master stays in the foreground; -D keeps its stderr (and its
		// children's) open: the only output not sent to syslog.
		in.configure([]string{progs["master"], "-D", "-C", imapdConf, "-M", cyrusConf, "-p", in.path("conf", "master.pid")},
			ports, cyrusProbe(idleSocket, ports...))
		return nil
	})
	if err != nil {
		return nil, s.fail(err)
	}
	for _, u := range s.users {
		if err := c.login(ctx, u); err != nil {
			return nil, s.fail(fmt.Errorf("lab: cyrus: first login of %s: %w\n--- cyrus log ---\n%s", u.Email, err, in.log()))
		}
	}
	return c, nil
}

// cyrusUser returns who Cyrus runs as: the cyrus user when we are root (master
// switches to it), else ourselves (imapd.conf's cyrus_user names us, so that
// master does not try to switch).
func cyrusUser() (name string, uid, gid int, err error) {
	if os.Geteuid() == 0 {
		name, _, uid, gid, err = lookupUser("cyrus")
		if err != nil {
			return "", 0, 0, fmt.Errorf("the cyrus user (made by Debian's cyrus-common): %w", err)
		}
		return name, uid, gid, nil
	}
	u, err := user.Current()
	if err != nil {
		return "", 0, 0, err
	}
	return u.Username, os.Getuid(), os.Getgid(), nil
}

// prepare makes Cyrus's directories, writes the SASL database and hands both,
// and the server key, to the user Cyrus runs as.
func (c *CyrusServer) prepare(ctx context.Context, saslpasswd string, uid, gid int) error {
	in := c.s.in
	dirs := []string{"conf", filepath.Join("conf", "socket"), filepath.Join("conf", "proc"),
		filepath.Join("conf", "lock"), "spool", "sieve"}
	if err := in.mkdirs(0o750, dirs...); err != nil {
		return err
	}
	db := in.path("conf", "sasldb2")
	for _, u := range c.s.users {
		// -p: the password comes from stdin, not a prompt; -c: create the entry.
		// The realm is the part after @, as imapd looks the user up.
		cmd := exec.CommandContext(ctx, saslpasswd, "-f", db, "-p", "-c", u.Email)
		cmd.Stdin = strings.NewReader(u.Password)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("saslpasswd2 %s: %w: %s", u.Email, err, out)
		}
	}
	chown := []string{db, c.s.keyFile}
	for _, d := range dirs {
		chown = append(chown, in.path(d))
	}
	for _, p := range chown {
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// cyrusProbe is ready when every port accepts a connection and idled listens:
// an IDLE begun before idled is up would fall back to polling once a minute.
func cyrusProbe(idleSocket string, ports ...int) func(ctx context.Context) error {
	tcp := tcpProbe(ports...)
	return func(ctx context.Context) error {
		if err := tcp(ctx); err != nil {
			return err
		}
		if _, err := os.Stat(idleSocket); err != nil {
			return fmt.Errorf("idled: %w", err)
		}
		return nil
	}
}

func cyrusIMAPDConfig(dir, certFile, keyFile, runAs string) string {
	r := strings.NewReplacer("$T", dir, "$CERT", certFile, "$KEY", keyFile, "$USER", runAs)
	// Every path Cyrus would take from /var/lib/cyrus, /var/spool/cyrus or /run/cyrus
	// is in $T. The sockets must be under configdirectory/socket: an imapd in IDLE
	// binds configdirectory/socket/idle.PID for idled to wake it, whatever
	// idlesocket says.
	return r.Replace(`# written by the OpenCSF lab
cyrus_user: $USER
configdirectory: $T/conf
proc_path: $T/conf/proc
mboxname_lockpath: $T/conf/lock
idlesocket: $T/conf/socket/idle
lmtpsocket: $T/conf/socket/lmtp
notifysocket: $T/conf/socket/notify
defaultpartition: default
partition-default: $T/spool
sievedir: $T/sieve
servername: example.test
# Logins are full addresses: alice@example.test is the user alice in the domain
# example.test, with an INBOX of her own.
virtdomains: userid
defaultdomain: example.test
unixhierarchysep: 1
# Personal folders next to INBOX ("Trash"), as with dovecot.
altnamespace: 1
# A user's INBOX is made at the first login or delivery (no admin account).
autocreate_quota: 0
autocreate_post: 1
# Passwords only inside TLS; the SASL database holds them in the clear, so
# PLAIN and SCRAM both work.
allowplaintext: 0
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $T/conf/sasldb2
sasl_mech_list: PLAIN SCRAM-SHA-1 SCRAM-SHA-256
tls_server_cert: $CERT
tls_server_key: $KEY
tls_client_certs: off
# A store, not a mail system: tests deliver the same message twice on purpose
# (Cyrus drops a second delivery with the same Message-ID by default).
duplicatesuppression: 0
delete_mode: immediate
syslog_prefix: opencsf-lab
`)
}

func cyrusMasterConfig(progs map[string]string, imapdConf string, imap, imaps, lmtp int) string {
	r := strings.NewReplacer("$CONF", imapdConf, "$CTL", progs["ctl_cyrusdb"], "$IMAPD", progs["imapd"],
		"$LMTPD", progs["lmtpd"], "$IDLED", progs["idled"],
		"$P1", strconv.Itoa(imap), "$P2", strconv.Itoa(imaps), "$P3", strconv.Itoa(lmtp))
	// lmtpd -a: deliveries on the loopback LMTP port need no authentication, as
	// from a voicemail system on a trusted network.
	return r.Replace(`# written by the OpenCSF lab
START {
  recover cmd="$CTL -r -C $CONF"
}
SERVICES {
  imap cmd="$IMAPD -C $CONF" listen="127.0.0.1:$P1" proto="tcp4" prefork=0
  imaps cmd="$IMAPD -s -C $CONF" listen="127.0.0.1:$P2" proto="tcp4" prefork=0
  lmtp cmd="$LMTPD -a -C $CONF" listen="127.0.0.1:$P3" proto="tcp4" prefork=0
}
DAEMON {
  idled cmd="$IDLED -C $CONF"
}
`)
}

// cyrusLoginTimeout bounds one login of StartCyrus.
const cyrusLoginTimeout = 10 * time.Second

// login logs u in over implicit TLS, which makes u's INBOX.
func (c *CyrusServer) login(ctx context.Context, u User) error {
	ctx, cancel := context.WithTimeout(ctx, cyrusLoginTimeout)
	defer cancel()
	d := tls.Dialer{Config: c.s.ca.ClientTLS("example.test")}
	nc, err := d.DialContext(ctx, "tcp", c.TLSAddr)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	r := bufio.NewReader(nc)
	// reply reads lines up to the one starting with prefix and returns it.
	reply := func(prefix string) (string, error) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(line, prefix) {
				return strings.TrimRight(line, "\r\n"), nil
			}
		}
	}
	if _, err := reply("* OK"); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	// Quoted strings: lab passwords hold no quote or backslash (usersOrDefault).
	if _, err := fmt.Fprintf(nc, "a LOGIN \"%s\" \"%s\"\r\nb SELECT INBOX\r\nc LOGOUT\r\n", u.Email, u.Password); err != nil {
		return err
	}
	for _, tag := range []string{"a ", "b "} {
		line, err := reply(tag)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, tag+"OK") {
			return errors.New(line)
		}
	}
	return nil
}

// Deliver hands an RFC 5322 message (CRLF line ends) to Cyrus's lmtpd for user
// ("alice" or "alice@example.test"), as a voicemail system would: it lands in the
// user's INBOX, unseen, and IDLE sessions on that INBOX hear of it at once.
func (c *CyrusServer) Deliver(ctx context.Context, userName string, rfc822 []byte) error {
	u, ok := findUser(c.s.users, userName)
	if !ok {
		return fmt.Errorf("lab: cyrus: deliver: no user %q", userName)
	}
	if err := deliverLMTP(ctx, c.LMTPAddr, u.Email, rfc822); err != nil {
		return fmt.Errorf("lab: cyrus: deliver to %s: %w", u.Email, err)
	}
	return nil
}

// Users returns the accounts; their Email is the IMAP login.
func (c *CyrusServer) Users() []User { return append([]User(nil), c.s.users...) }

// CA returns the CA that issued the server certificate.
func (c *CyrusServer) CA() *CA { return c.s.ca }

// PID returns the master process's id, or 0 when it is not running.
func (c *CyrusServer) PID() int { return c.s.in.pid() }

// Log returns what the server has written to stdout and stderr so far. Cyrus
// logs to syslog: this holds only what its programs print before they can.
func (c *CyrusServer) Log() string { return c.s.in.log() }

// Restart stops the server and starts it again on the same ports with the same
// mail and users, for tests of reconnection. It blocks until the server is ready
// or ctx ends.
func (c *CyrusServer) Restart(ctx context.Context) error { return c.s.restart(ctx) }

// Close stops the server (SIGTERM, then SIGKILL to its process group) and removes
// its directory when the lab made it. A second call returns an error matching
// net.ErrClosed.
func (c *CyrusServer) Close() error { return c.s.in.close() }
