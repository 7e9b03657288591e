//go:build linux

package lab_test

import (
	"encoding/base64"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"

	"github.com/opencsf/opencsf/lab"
)

func cyrusClient(t *testing.T, c *lab.CyrusServer, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.TLSConfig = c.CA().ClientTLS("example.test")
	cl, err := imapclient.DialTLS(c.TLSAddr, opts)
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

func TestIntegrationCyrus(t *testing.T) {
	t.Parallel()
	// A t.TempDir() (0700, in a 0700 parent) must work for the cyrus user when root.
	c := lab.Cyrus(t, &lab.CyrusOptions{Dir: t.TempDir()})
	alice := c.Users()[0]
	msg := "From: <voicemail@example.test>\r\nTo: <alice@example.test>\r\nSubject: voice message\r\n" +
		"Message-ID: <lab-cyrus-1@example.test>\r\nDate: Wed, 25 Nov 2026 09:00:00 +0000\r\n\r\nhello\r\n"

	t.Run("imaps login and LMTP delivery", func(t *testing.T) {
		cl := cyrusClient(t, c, nil)
		require.NoError(t, cl.Login(alice.Email, alice.Password).Wait())
		sel, err := cl.Select("INBOX", nil).Wait()
		require.NoError(t, err, "the lab made alice's INBOX")
		assert.Zero(t, sel.NumMessages)
		require.NoError(t, c.Deliver(t.Context(), "alice", []byte(msg)))
		// The same message twice: the lab turns Cyrus's duplicate suppression off.
		require.NoError(t, c.Deliver(t.Context(), "alice@example.test", []byte(msg)))
		msgs, err := cl.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{Envelope: true, Flags: true}).Collect()
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		assert.Equal(t, "voice message", msgs[0].Envelope.Subject)
		assert.NotContains(t, msgs[0].Flags, imap.FlagSeen)
		assert.Error(t, c.Deliver(t.Context(), "nobody", []byte(msg)))
	})
	t.Run("IDLE hears a delivery", func(t *testing.T) {
		bob := c.Users()[1]
		exists := make(chan uint32, 8)
		cl := cyrusClient(t, c, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		}})
		require.NoError(t, cl.Login(bob.Email, bob.Password).Wait())
		_, err := cl.Select("INBOX", nil).Wait()
		require.NoError(t, err)
		idle, err := cl.Idle()
		require.NoError(t, err)
		require.NoError(t, c.Deliver(t.Context(), "bob", []byte(msg)))
		// Without idled, imapd would poll once a minute.
		select {
		case n := <-exists:
			assert.EqualValues(t, 1, n)
		case <-time.After(5 * time.Second):
			t.Fatal("no EXISTS in IDLE within 5 s")
		}
		require.NoError(t, idle.Close())
		require.NoError(t, idle.Wait())
	})
	t.Run("SCRAM-SHA-256", func(t *testing.T) {
		// mellium's SCRAM client (the one the im package uses) against Cyrus's,
		// over a bare conversation: go-imap answers the server's last SCRAM
		// challenge with "=", which Cyrus refuses (RFC 3501 wants an empty line;
		// "=" is SASL-IR's empty initial response only).
		conv := tlsConversation(t, c.TLSAddr, c.CA().ClientTLS("example.test"))
		assert.Contains(t, conv.readUntil("\r\n"), "AUTH=SCRAM-SHA-256")
		n := sasl.NewClient(sasl.ScramSha256, sasl.Credentials(func() ([]byte, []byte, []byte) {
			return []byte(alice.Email), []byte(alice.Password), nil
		}))
		_, first, err := n.Step(nil)
		require.NoError(t, err)
		conv.send("a AUTHENTICATE SCRAM-SHA-256 " + base64.StdEncoding.EncodeToString(first) + "\r\n")
		for range 2 { // server-first, then server-final (verified by Step)
			line := conv.readUntil("\r\n")
			require.True(t, strings.HasPrefix(line, "+ "), "%q", line)
			ch, err := base64.StdEncoding.DecodeString(strings.TrimSpace(line[2:]))
			require.NoError(t, err)
			_, resp, err := n.Step(ch)
			require.NoError(t, err)
			conv.send(base64.StdEncoding.EncodeToString(resp) + "\r\n")
		}
		assert.Contains(t, conv.readUntil("\r\n"), "a OK")
	})
	t.Run("starttls", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", c.Addr, ioTimeout)
		require.NoError(t, err)
		defer conn.Close()
		// Before TLS, no password may be sent.
		conv := newConversation(t, conn)
		greeting := conv.readUntil("\r\n")
		assert.Contains(t, greeting, "STARTTLS")
		assert.Contains(t, greeting, "LOGINDISABLED")
		conv.send("a LOGIN " + alice.Email + " " + alice.Password + "\r\n")
		assert.Contains(t, conv.readUntil("a NO"), "a NO")
		conn.Close()

		cl, err := imapclient.DialStartTLS(c.Addr, &imapclient.Options{TLSConfig: c.CA().ClientTLS("example.test")})
		require.NoError(t, err)
		defer cl.Close()
		require.NoError(t, cl.Login(alice.Email, alice.Password).Wait())
		require.NoError(t, cl.Logout().Wait())
	})
	t.Run("bad password", func(t *testing.T) {
		cl := cyrusClient(t, c, nil)
		err := cl.Login(alice.Email, "wrong").Wait()
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), "NO") || strings.Contains(strings.ToLower(err.Error()), "authentication"), "%v", err)
	})
	t.Run("restart keeps mail and users", func(t *testing.T) {
		old := c.PID()
		require.NoError(t, c.Restart(t.Context()))
		assert.NotEqual(t, old, c.PID())
		assert.ErrorIs(t, syscall.Kill(old, 0), syscall.ESRCH)
		cl := cyrusClient(t, c, nil)
		require.NoError(t, cl.Login(alice.Email, alice.Password).Wait())
		sel, err := cl.Select("INBOX", nil).Wait()
		require.NoError(t, err)
		assert.EqualValues(t, 2, sel.NumMessages)
	})
}
