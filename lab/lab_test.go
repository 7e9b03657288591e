//go:build linux

package lab_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/opencsf/opencsf/lab"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "kamailio" {
		runKamailioHelper()
		return
	}
	goleak.VerifyTestMain(m)
}

// helperEnv makes the test binary a process that starts Kamailio and waits to be
// killed, for TestIntegrationServersDieWithTestBinary.
const helperEnv = "OPENCSF_LAB_TEST_HELPER"

func runKamailioHelper() {
	k, err := lab.StartKamailio(context.Background(), lab.KamailioOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d %s\n", k.PID(), k.Dir)
	time.Sleep(time.Minute) // killed long before
	k.Close()
}

// ioTimeout bounds each exchange with a server.
const ioTimeout = 5 * time.Second

func TestCAServerCertificate(t *testing.T) {
	ca, err := lab.NewCA(t.TempDir())
	require.NoError(t, err)
	for _, f := range []string{ca.CertFile, ca.ServerCertFile, ca.ServerKeyFile} {
		require.FileExists(t, f)
	}
	pair, err := tls.LoadX509KeyPair(ca.ServerCertFile, ca.ServerKeyFile)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)
	for _, name := range []string{"example.test", "conference.example.test", "localhost", "127.0.0.1"} {
		t.Run(name, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.CertPool()})
			assert.NoError(t, err)
		})
	}
	assert.True(t, ca.Certificate().IsCA)
	assert.Contains(t, string(ca.CertPEM()), "BEGIN CERTIFICATE")
}

func TestCABadCertificates(t *testing.T) {
	ca, err := lab.NewCA(t.TempDir())
	require.NoError(t, err)
	bad, err := ca.MakeBadCerts()
	require.NoError(t, err)

	verify := func(l *lab.Leaf) error {
		inter := x509.NewCertPool()
		for _, c := range l.Chain[1:] {
			inter.AddCert(c)
		}
		_, err := l.Chain[0].Verify(x509.VerifyOptions{DNSName: "example.test", Roots: ca.CertPool(), Intermediates: inter})
		return err
	}
	t.Run("expired", func(t *testing.T) {
		var e x509.CertificateInvalidError
		require.ErrorAs(t, verify(bad.Expired), &e)
		assert.Equal(t, x509.Expired, e.Reason)
	})
	t.Run("wrong name", func(t *testing.T) {
		var e x509.HostnameError
		require.ErrorAs(t, verify(bad.WrongName), &e)
		assert.Equal(t, "example.test", e.Host)
	})
	t.Run("unknown authority", func(t *testing.T) {
		var e x509.UnknownAuthorityError
		require.ErrorAs(t, verify(bad.UnknownAuthority), &e)
		// Trusting the other CA makes the same leaf valid: only the authority was wrong.
		other := x509.NewCertPool()
		other.AddCert(bad.OtherCA)
		_, err := bad.UnknownAuthority.Chain[0].Verify(x509.VerifyOptions{DNSName: "example.test", Roots: other})
		assert.NoError(t, err)
		assert.FileExists(t, bad.OtherCAFile)
	})
	t.Run("issuer without CA bit", func(t *testing.T) {
		require.Len(t, bad.NotCA.Chain, 2)
		assert.False(t, bad.NotCA.Chain[1].IsCA)
		err := verify(bad.NotCA)
		var e x509.UnknownAuthorityError
		require.ErrorAs(t, err, &e)
		assert.Contains(t, err.Error(), "parent certificate cannot sign")
		// The parent's own check names the cause directly.
		assert.ErrorAs(t, bad.NotCA.Chain[0].CheckSignatureFrom(bad.NotCA.Chain[1]), new(x509.ConstraintViolationError))
	})
	t.Run("over TLS", func(t *testing.T) {
		// The same failures as a client sees them in a handshake.
		for name, l := range map[string]*lab.Leaf{"expired": bad.Expired, "wrong name": bad.WrongName, "not CA": bad.NotCA} {
			err := handshakeWith(t, ca, l)
			var ve *tls.CertificateVerificationError
			assert.ErrorAs(t, err, &ve, name)
		}
	})
}

// handshakeWith runs a TLS server presenting l on 127.0.0.1 and returns the error of
// a client that trusts ca.
func handshakeWith(t *testing.T, ca *lab.CA, l *lab.Leaf) error {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{l.TLS}})
	require.NoError(t, err)
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		c.Close()
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), ca.ClientTLS("example.test"))
	if err == nil {
		c.Close()
	}
	<-done
	return err
}

// conversation reads a text protocol until an expected substring.
type conversation struct {
	t       testing.TB
	conn    net.Conn
	pending []byte // read but not yet returned
}

func newConversation(t testing.TB, c net.Conn) *conversation {
	return &conversation{t: t, conn: c}
}

// tlsConversation dials addr over TLS with conf; the connection closes
// when t ends.
func tlsConversation(t testing.TB, addr string, conf *tls.Config) *conversation {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", addr, conf)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return newConversation(t, conn)
}

func (c *conversation) send(s string) {
	c.t.Helper()
	require.NoError(c.t, c.conn.SetWriteDeadline(time.Now().Add(ioTimeout)))
	_, err := io.WriteString(c.conn, s)
	require.NoError(c.t, err)
}

// readUntil reads until want arrives and returns the text up to and including it.
func (c *conversation) readUntil(want string) string {
	c.t.Helper()
	require.NoError(c.t, c.conn.SetReadDeadline(time.Now().Add(ioTimeout)))
	buf := make([]byte, 4096)
	for {
		if i := bytes.Index(c.pending, []byte(want)); i >= 0 {
			got := string(c.pending[:i+len(want)])
			c.pending = c.pending[i+len(want):]
			return got
		}
		n, err := c.conn.Read(buf)
		c.pending = append(c.pending, buf[:n]...)
		require.NoError(c.t, err, "waiting for %q, got %q", want, c.pending)
	}
}

const xmppStreamHeader = "<?xml version='1.0'?><stream:stream to='example.test' xmlns='jabber:client' " +
	"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

func TestIntegrationProsody(t *testing.T) {
	t.Parallel()
	p := lab.Prosody(t, nil)
	ca := p.CA()

	t.Run("starttls", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", p.Addr, ioTimeout)
		require.NoError(t, err)
		defer conn.Close()
		c := newConversation(t, conn)
		c.send(xmppStreamHeader)
		features := c.readUntil("</stream:features>")
		assert.Contains(t, features, "urn:ietf:params:xml:ns:xmpp-tls")
		assert.Contains(t, features, "<required")
		c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		c.readUntil("<proceed")
		tc := tls.Client(conn, ca.ClientTLS("example.test"))
		require.NoError(t, tc.HandshakeContext(t.Context()))
		c = newConversation(t, tc)
		c.send(xmppStreamHeader)
		features = c.readUntil("</stream:features>")
		assert.Contains(t, features, "<mechanism>SCRAM-SHA-1</mechanism>")
		assert.NotContains(t, features, "<mechanism>PLAIN</mechanism>")
	})
	t.Run("direct TLS", func(t *testing.T) {
		c := tlsConversation(t, p.TLSAddr, ca.ClientTLS("example.test"))
		c.send(xmppStreamHeader)
		assert.Contains(t, c.readUntil("</stream:features>"), "SCRAM-SHA-1")
	})
	t.Run("conference certificate", func(t *testing.T) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", p.TLSAddr, ca.ClientTLS(p.MUC))
		require.NoError(t, err)
		conn.Close()
	})
}

func TestIntegrationDovecot(t *testing.T) {
	t.Parallel()
	d := lab.Dovecot(t, nil)
	ca := d.CA()
	alice := d.Users()[0]
	msg := "From: <voicemail@example.test>\r\nTo: <alice@example.test>\r\nSubject: voice message\r\n" +
		"Message-ID: <lab-1@example.test>\r\nDate: Wed, 25 Nov 2026 09:00:00 +0000\r\n\r\nhello\r\n"
	require.NoError(t, d.Deliver("alice", []byte(msg)))

	t.Run("imaps login", func(t *testing.T) {
		c := tlsConversation(t, d.TLSAddr, ca.ClientTLS("127.0.0.1"))
		assert.Contains(t, c.readUntil("\r\n"), "* OK")
		c.send(fmt.Sprintf("a LOGIN %s %s\r\n", alice.Email, alice.Password))
		assert.Contains(t, c.readUntil("a OK"), "a OK")
		c.send("b SELECT INBOX\r\n")
		sel := c.readUntil("b OK")
		assert.Contains(t, sel, "* 1 EXISTS")
		c.send("c LOGOUT\r\n")
		c.readUntil("c OK")
	})
	t.Run("starttls", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", d.Addr, ioTimeout)
		require.NoError(t, err)
		defer conn.Close()
		c := newConversation(t, conn)
		assert.Contains(t, c.readUntil("\r\n"), "STARTTLS")
		c.send("a STARTTLS\r\n")
		c.readUntil("a OK")
		tc := tls.Client(conn, ca.ClientTLS("example.test"))
		require.NoError(t, tc.HandshakeContext(t.Context()))
		c = newConversation(t, tc)
		c.send(fmt.Sprintf("b LOGIN %s %s\r\n", alice.Email, alice.Password))
		assert.Contains(t, c.readUntil("b OK"), "b OK")
	})
	t.Run("bad password", func(t *testing.T) {
		c := tlsConversation(t, d.TLSAddr, ca.ClientTLS("example.test"))
		c.readUntil("\r\n")
		c.send(fmt.Sprintf("a LOGIN %s wrong\r\n", alice.Email))
		assert.Contains(t, c.readUntil("a NO"), "a NO")
	})
}

// sipRequest builds a SIP request (RFC 3261 section 7.1) from alice to uri.
func sipRequest(method, uri, transport, local, callID string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, uri)
	fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK-%s;rport\r\n", transport, local, callID)
	b.WriteString("Max-Forwards: 70\r\n")
	b.WriteString("From: <sip:alice@example.test>;tag=lab1\r\n")
	if method == "REGISTER" {
		b.WriteString("To: <sip:alice@example.test>\r\n")
		fmt.Fprintf(&b, "Contact: <sip:alice@%s;transport=%s>\r\nExpires: 60\r\n", local, strings.ToLower(transport))
	} else {
		fmt.Fprintf(&b, "To: <%s>\r\n", uri)
	}
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\n", callID, 1+len(extra), method)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

func udpExchange(t *testing.T, c net.PacketConn, to net.Addr, req string) string {
	t.Helper()
	_, err := c.WriteTo([]byte(req), to)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(ioTimeout)))
	buf := make([]byte, 4096)
	for {
		n, _, err := c.ReadFrom(buf)
		require.NoError(t, err)
		resp := string(buf[:n])
		if !strings.HasPrefix(resp, "SIP/2.0 1") { // skip provisional responses
			return resp
		}
	}
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestIntegrationKamailio(t *testing.T) {
	t.Parallel()
	k := lab.Kamailio(t, nil)
	udpAddr, err := net.ResolveUDPAddr("udp", k.UDPAddr)
	require.NoError(t, err)

	t.Run("options over UDP", func(t *testing.T) {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		defer c.Close()
		resp := udpExchange(t, c, udpAddr, sipRequest("OPTIONS", "sip:"+k.UDPAddr, "UDP", c.LocalAddr().String(), "opt1"))
		assert.True(t, strings.HasPrefix(resp, "SIP/2.0 200 "), resp)
	})
	t.Run("digest register over UDP", func(t *testing.T) {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		defer c.Close()
		local := c.LocalAddr().String()
		resp := udpExchange(t, c, udpAddr, sipRequest("REGISTER", "sip:example.test", "UDP", local, "reg1"))
		require.True(t, strings.HasPrefix(resp, "SIP/2.0 401 "), resp)
		m := regexp.MustCompile(`WWW-Authenticate: Digest [^\r]*nonce="([^"]+)"`).FindStringSubmatch(resp)
		require.NotNil(t, m, resp)
		assert.Contains(t, resp, `realm="example.test"`)
		nonce := m[1]
		// RFC 2617 section 3.2.2 with qop=auth.
		ha1 := md5hex("alice:example.test:secret1")
		ha2 := md5hex("REGISTER:sip:example.test")
		response := md5hex(strings.Join([]string{ha1, nonce, "00000001", "0a4f113b", "auth", ha2}, ":"))
		auth := fmt.Sprintf(`Authorization: Digest username="alice", realm="example.test", nonce="%s", `+
			`uri="sip:example.test", qop=auth, nc=00000001, cnonce="0a4f113b", response="%s", algorithm=MD5`, nonce, response)
		resp = udpExchange(t, c, udpAddr, sipRequest("REGISTER", "sip:example.test", "UDP", local, "reg1", auth))
		assert.True(t, strings.HasPrefix(resp, "SIP/2.0 200 "), resp)
	})
	t.Run("options over TLS", func(t *testing.T) {
		c := tlsConversation(t, k.TLSAddr, k.CA().ClientTLS("example.test"))
		c.send(sipRequest("OPTIONS", "sip:example.test;transport=tls", "TLS", c.conn.LocalAddr().String(), "opt2"))
		assert.Contains(t, c.readUntil("\r\n"), "SIP/2.0 200 ")
	})
}

func TestIntegrationRadicale(t *testing.T) {
	t.Parallel()
	r := lab.Radicale(t, nil)
	tr := &http.Transport{TLSClientConfig: r.CA().ClientTLS("127.0.0.1")}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: ioTimeout}

	propfind := func(user, password, url string) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), "PROPFIND", url, strings.NewReader(
			`<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>`))
		require.NoError(t, err)
		req.SetBasicAuth(user, password)
		req.Header.Set("Depth", "0")
		req.Header.Set("Content-Type", "application/xml")
		resp, err := client.Do(req)
		require.NoError(t, err)
		return resp
	}
	t.Run("propfind own calendar", func(t *testing.T) {
		resp := propfind("alice", "secret1", r.CalendarURL("alice"))
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, http.StatusMultiStatus, resp.StatusCode, string(body))
		assert.Contains(t, string(body), "calendar")
	})
	t.Run("bad password", func(t *testing.T) {
		resp := propfind("alice", "wrong", r.CalendarURL("alice"))
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
}

func TestIntegrationTFTP(t *testing.T) {
	t.Parallel()
	s := lab.TFTP(t, nil)
	content := []byte("<device><name>SEP001122334455</name></device>\n")
	require.NoError(t, s.Put("SEP001122334455.cnf.xml", content))
	assert.Error(t, s.Put("../escape", nil))

	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	server, err := net.ResolveUDPAddr("udp", s.Addr)
	require.NoError(t, err)
	// RFC 1350: RRQ, then DATA block 1 from the server's transfer port, then ACK 1.
	rrq := binary.BigEndian.AppendUint16(nil, 1)
	rrq = append(rrq, "SEP001122334455.cnf.xml\x00octet\x00"...)
	_, err = c.WriteTo(rrq, server)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(ioTimeout)))
	buf := make([]byte, 516)
	n, from, err := c.ReadFrom(buf)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 4)
	require.Equal(t, uint16(3), binary.BigEndian.Uint16(buf), "opcode DATA, got packet %q", buf[:n])
	assert.Equal(t, uint16(1), binary.BigEndian.Uint16(buf[2:]))
	assert.Equal(t, content, buf[4:n])
	_, err = c.WriteTo([]byte{0, 4, 0, 1}, from)
	require.NoError(t, err)
}

// groupAlive reports whether a live (non-zombie) process is in process group pgid.
func groupAlive(t *testing.T, pgid int) bool {
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces, so cut after ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			return true
		}
	}
	return false
}

func TestIntegrationCloseLeavesNothing(t *testing.T) {
	t.Parallel()
	if os.Getenv("CI") != "true" {
		if _, err := os.Stat("/usr/sbin/kamailio"); err != nil {
			t.Skip("lab: kamailio is not installed")
		}
	}
	// Kamailio forks workers: the whole group must go, not only the main process.
	k, err := lab.StartKamailio(t.Context(), lab.KamailioOptions{})
	require.NoError(t, err)
	pid := k.PID()
	require.NotZero(t, pid)
	require.True(t, groupAlive(t, pid))
	began := time.Now()
	require.NoError(t, k.Close())
	t.Logf("close took %v", time.Since(began))
	assert.Zero(t, k.PID())
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "main process still there")
	assert.False(t, groupAlive(t, pid))
	assert.NoDirExists(t, k.Dir)
	assert.ErrorIs(t, k.Close(), net.ErrClosed)
}

func TestIntegrationRestart(t *testing.T) {
	t.Parallel()
	// A t.TempDir() (0700, in a 0700 parent) must work for Dovecot's unprivileged processes.
	d := lab.Dovecot(t, &lab.DovecotOptions{Dir: t.TempDir()})
	require.NoError(t, d.Deliver("bob@example.test", []byte("Subject: kept\r\n\r\nbody\r\n")))
	old := d.PID()
	require.NoError(t, d.Restart(t.Context()))
	assert.NotEqual(t, old, d.PID())
	assert.ErrorIs(t, syscall.Kill(old, 0), syscall.ESRCH)

	c := tlsConversation(t, d.TLSAddr, d.CA().ClientTLS("example.test"))
	c.readUntil("\r\n")
	c.send("a LOGIN bob@example.test secret2\r\nb SELECT INBOX\r\n")
	assert.Contains(t, c.readUntil("b OK"), "* 1 EXISTS")
}

func TestIntegrationLab(t *testing.T) {
	t.Parallel()
	for _, bin := range []string{"prosody", "dovecot", "kamailio", "radicale", "in.tftpd", "slapd"} {
		if _, err := os.Stat(filepath.Join("/usr/sbin", bin)); err != nil {
			if _, err := os.Stat(filepath.Join("/usr/bin", bin)); err != nil && os.Getenv("CI") != "true" {
				t.Skipf("lab: %s is not installed", bin)
			}
		}
	}
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("lab: in.tftpd needs root")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Servers: append(lab.DefaultServers(), lab.ServerSlapd)})
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, l.Close())
		assert.ErrorIs(t, l.Close(), net.ErrClosed)
	})
	t.Logf("whole lab started in %v", l.StartupTime)
	assert.Less(t, l.StartupTime, 5*time.Second, "start-up target")

	require.NotNil(t, l.Prosody)
	require.NotNil(t, l.Dovecot)
	require.NotNil(t, l.Kamailio)
	require.NotNil(t, l.Radicale)
	require.NotNil(t, l.TFTP)
	require.NotNil(t, l.Slapd)
	assert.Len(t, l.Users(), 3)
	assert.Equal(t, lab.User{Name: "carol", Password: "secret3", JID: "carol@example.test",
		SIPURI: "sip:carol@example.test", Email: "carol@example.test"}, l.Users()[2])

	// One CA for every server.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", l.Kamailio.TLSAddr, l.CA().ClientTLS("example.test"))
	require.NoError(t, err)
	conn.Close()

	path := filepath.Join(t.TempDir(), "opencsf.yaml")
	require.NoError(t, l.WriteConfig(path))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	assert.Equal(t, "example.test", cfg["Domain"])
	assert.Equal(t, l.CA().CertFile, cfg["TrustedCAFile"])
	assert.Equal(t, false, cfg["UseSystemTrustStore"])
	assert.Equal(t, l.Prosody.Addr, cfg["PresenceServerAddress"])
	assert.Equal(t, l.Kamailio.TLSAddr, cfg["SipRegistrar"])
	assert.Equal(t, "tls", cfg["SipTransport"])
	assert.Equal(t, l.Dovecot.TLSAddr, cfg["VoicemailPrimaryServer"])
	assert.Equal(t, "implicit", cfg["VoicemailTLS"])
	assert.Equal(t, l.Radicale.URL, cfg["CalendarServerURL"])
	assert.Equal(t, l.TFTP.Addr, cfg["TftpServer1"])
	assert.Equal(t, l.Slapd.Addr, cfg["LdapServer"])
	assert.Equal(t, "dc=example,dc=test", cfg["LdapBaseDN"])
	users, ok := cfg["Users"].(map[string]any)
	require.True(t, ok, "Users: %T", cfg["Users"])
	assert.Equal(t, map[string]any{"UserName": "bob", "Password": "secret2",
		"CalendarServerURL": l.Radicale.CalendarURL("bob"),
		"LdapBindDN":        "uid=bob,ou=people,dc=example,dc=test", "LdapPassword": "secret2"}, users["bob"])
	assert.Len(t, users, 3)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestStartRejectsUnknownServer(t *testing.T) {
	_, err := lab.Start(t.Context(), lab.Options{Servers: []string{"asterisk"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"asterisk"`)
}

func TestStartRejectsBadUser(t *testing.T) {
	_, err := lab.Start(t.Context(), lab.Options{Servers: []string{lab.ServerRadicale},
		Users: []lab.User{{Name: "Eve@x", Password: "pw"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Users[0].Name")
	assert.False(t, errors.Is(err, net.ErrClosed))
}

// ber encodes one BER element (X.690) with a definite length.
func ber(tag byte, content ...[]byte) []byte {
	body := bytes.Join(content, nil)
	out := []byte{tag}
	switch n := len(body); {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, body...)
}

// ldapBind sends an LDAP simple bind (RFC 4511 section 4.2) and returns the result code.
func ldapBind(t *testing.T, conn net.Conn, id byte, dn, password string) int {
	t.Helper()
	req := ber(0x30, ber(0x02, []byte{id}),
		ber(0x60, ber(0x02, []byte{3}), ber(0x04, []byte(dn)), ber(0x80, []byte(password))))
	require.NoError(t, conn.SetDeadline(time.Now().Add(ioTimeout)))
	_, err := conn.Write(req)
	require.NoError(t, err)
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	require.NoError(t, err)
	// 30 len 02 01 id 61 len 0a 01 CODE ...: short lengths in slapd's answer.
	resp := buf[:n]
	i := bytes.Index(resp, []byte{0x61})
	require.True(t, i > 0 && len(resp) > i+4 && resp[i+2] == 0x0a, "bind response % x", resp)
	return int(resp[i+4])
}

func TestIntegrationSlapd(t *testing.T) {
	t.Parallel()
	s := lab.Slapd(t, nil)
	t.Run("ldaps bind", func(t *testing.T) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: ioTimeout}, "tcp", s.TLSAddr, s.CA().ClientTLS("example.test"))
		require.NoError(t, err)
		defer conn.Close()
		assert.Equal(t, 0, ldapBind(t, conn, 1, s.UserDN("alice"), "secret1"), "success")
		assert.Equal(t, 49, ldapBind(t, conn, 2, s.UserDN("alice"), "wrong"), "invalidCredentials")
		assert.Equal(t, 0, ldapBind(t, conn, 3, s.AdminDN, s.AdminPassword), "success")
	})
	t.Run("ldap plain port", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", s.Addr, ioTimeout)
		require.NoError(t, err)
		defer conn.Close()
		assert.Equal(t, 0, ldapBind(t, conn, 1, s.UserDN("carol"), "secret3"))
	})
	t.Run("starttls", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", s.Addr, ioTimeout)
		require.NoError(t, err)
		defer conn.Close()
		// ExtendedRequest StartTLS (RFC 4511 section 4.14), then the handshake.
		req := ber(0x30, ber(0x02, []byte{1}), ber(0x77, ber(0x80, []byte("1.3.6.1.4.1.1466.20037"))))
		require.NoError(t, conn.SetDeadline(time.Now().Add(ioTimeout)))
		_, err = conn.Write(req)
		require.NoError(t, err)
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		require.NoError(t, err)
		i := bytes.Index(buf[:n], []byte{0x78})
		require.True(t, i > 0 && n > i+4 && buf[i+4] == 0, "extended response % x", buf[:n])
		tc := tls.Client(conn, s.CA().ClientTLS("127.0.0.1"))
		require.NoError(t, tc.HandshakeContext(t.Context()))
		assert.Equal(t, 0, ldapBind(t, tc, 2, s.UserDN("bob"), "secret2"))
	})
}

// A test binary killed without cleanup (go test -timeout, kill -9) must not leave
// servers behind: the kernel terminates their main process, which takes its workers.
func TestIntegrationServersDieWithTestBinary(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/sbin/kamailio"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("lab: kamailio is not installed")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=kamailio")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	var pid int
	var dir string
	_, err = fmt.Sscanf(line, "%d %s", &pid, &dir)
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.True(t, groupAlive(t, pid))

	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	assert.Eventually(t, func() bool { return !groupAlive(t, pid) }, 5*time.Second, 20*time.Millisecond,
		"kamailio group %d outlived the test binary", pid)
}
