package softphone_test

import (
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
)

// TestIntegrationDigestSHA256: kamailio challenges with SHA-256 only (RFC
// 8760, qop=auth); the phones register and call through it with SHA-256
// answers, and a wrong password is still ErrAuthFailed.
func TestIntegrationDigestSHA256(t *testing.T) {
	k := lab.Kamailio(t, &lab.KamailioOptions{DigestAlgorithm: "SHA-256"})
	challenge := rawChallenge(t, k.UDPAddr)
	require.Contains(t, challenge, "algorithm=SHA-256", "kamailio does not challenge with SHA-256")
	require.Contains(t, challenge, `qop="auth"`)

	logs := &recorder{}
	debug := func(c *softphone.Config) { c.Logger = slog.New(logs) }
	alice := newPhone(t, k, "alice", "secret1", "udp", debug)
	bob := newPhone(t, k, "bob", "secret2", "tcp", debug)
	require.NoError(t, alice.Start(t.Context()))
	require.NoError(t, bob.Start(t.Context()))
	go func() {
		ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
		assert.NoError(t, ev.Call.Answer(t.Context(), nil))
	}()
	// The INVITE is challenged too (407), with SHA-256.
	call, err := alice.Dial(t.Context(), "bob", nil)
	require.NoError(t, err)
	require.NoError(t, call.Hangup(t.Context()))
	logs.mu.Lock()
	assert.False(t, slices.Contains(logs.msgs, "answering an MD5 digest challenge"), "answered with MD5")
	logs.mu.Unlock()

	wrong := newPhone(t, k, "carol", "wrong", "udp", nil)
	assert.ErrorIs(t, wrong.Start(t.Context()), softphone.ErrAuthFailed)
	require.NoError(t, alice.Shutdown(t.Context()))
	require.NoError(t, bob.Shutdown(t.Context()))
}

// rawChallenge sends a REGISTER without credentials and returns the
// WWW-Authenticate line of the 401.
func rawChallenge(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	require.NoError(t, err)
	defer c.Close()
	local := c.LocalAddr().String()
	req := "REGISTER sip:example.test SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-sha256-probe;rport\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=probe\r\nTo: <sip:alice@example.test>\r\n" +
		"Call-ID: sha256-probe\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@" + local + ">\r\nContent-Length: 0\r\n\r\n"
	_, err = c.Write([]byte(req))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(buf[:n]), "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "www-authenticate:") {
			return line
		}
	}
	t.Fatalf("no challenge in %q", buf[:n])
	return ""
}
