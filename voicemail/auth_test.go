package voicemail

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"
)

func TestChooseAuth(t *testing.T) {
	for _, tc := range []struct {
		name  string
		caps  []string
		scram bool
		want  string
		err   bool
	}{
		{"all offered", []string{"IMAP4rev1", "AUTH=PLAIN", "AUTH=SCRAM-SHA-1", "AUTH=SCRAM-SHA-256"}, true, mechSCRAMSHA256, false},
		{"sha-1 only", []string{"IMAP4rev1", "AUTH=PLAIN", "AUTH=SCRAM-SHA-1"}, true, mechSCRAMSHA1, false},
		{"any case", []string{"imap4rev1", "auth=scram-sha-256", "auth=plain"}, true, mechSCRAMSHA256, false},
		{"plain", []string{"IMAP4rev1", "AUTH=PLAIN", "LOGINDISABLED"}, true, mechPlain, false},
		{"no scram wanted", []string{"AUTH=SCRAM-SHA-256", "AUTH=PLAIN"}, false, mechPlain, false},
		{"no scram wanted nor plain", []string{"AUTH=SCRAM-SHA-256"}, false, mechLogin, false},
		{"plus only is not ours", []string{"AUTH=SCRAM-SHA-256-PLUS"}, true, mechLogin, false},
		{"login command", []string{"IMAP4rev1", "AUTH=GSSAPI"}, true, mechLogin, false},
		{"the sasl login mechanism is not the command", []string{"AUTH=LOGIN", "LOGINDISABLED"}, true, "", true},
		{"nothing usable", []string{"IMAP4rev1", "AUTH=GSSAPI", "LOGINDISABLED"}, true, "", true},
		{"only scram, not wanted", []string{"AUTH=SCRAM-SHA-1", "LOGINDISABLED"}, false, "", true},
		{"empty", nil, true, mechLogin, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := chooseAuth(tc.caps, tc.scram)
			if tc.err {
				assert.ErrorIs(t, err, errNoMechanism)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// scramServer is mellium's SCRAM-SHA-256 server side for a password, to
// check the adapter's handling of the server's messages. It is the SASL
// mechanism only (RFC 5802), not an imitation of an IMAP server.
func scramServer(password string) *sasl.Negotiator {
	salt := []byte("0123456789abcdef")
	const iter = 4096
	return sasl.NewServer(sasl.ScramSha256, func(*sasl.Negotiator) bool { return true },
		sasl.SaltedCredentials(func(_, _ []byte, _ string) ([]byte, []byte, int64, error) {
			return salt, sasl.SCRAMSaltPassword(sha256.New, []byte(password), salt, iter), iter, nil
		}))
}

func TestSASLClientVerifiesServer(t *testing.T) {
	t.Run("good server", func(t *testing.T) {
		srv := scramServer("secret")
		c := &saslClient{mech: mechSCRAMSHA256, n: newNegotiator(mechSCRAMSHA256, "alice", "secret")}
		mech, ir, err := c.Start()
		require.NoError(t, err)
		assert.Equal(t, mechSCRAMSHA256, mech)
		_, first, err := srv.Step(ir)
		require.NoError(t, err)
		final, err := c.Next(first)
		require.NoError(t, err)
		assert.False(t, c.verified, "not before the server's final message")
		_, last, err := srv.Step(final)
		require.NoError(t, err)
		resp, err := c.Next(last)
		require.NoError(t, err)
		assert.Empty(t, resp)
		assert.True(t, c.verified)
		_, err = c.Next([]byte("v=more"))
		assert.Error(t, err, "a challenge after the end")
	})
	t.Run("server without the password", func(t *testing.T) {
		srv := scramServer("secret")
		c := &saslClient{mech: mechSCRAMSHA256, n: newNegotiator(mechSCRAMSHA256, "alice", "secret")}
		_, ir, err := c.Start()
		require.NoError(t, err)
		_, first, err := srv.Step(ir)
		require.NoError(t, err)
		_, err = c.Next(first)
		require.NoError(t, err)
		// A server that accepted the proof without knowing the password
		// cannot compute the signature: any other one must fail.
		bad := "v=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, sha256.Size))
		_, err = c.Next([]byte(bad))
		var se *saslError
		require.ErrorAs(t, err, &se)
		assert.ErrorIs(t, err, sasl.ErrAuthn)
		assert.False(t, c.verified)
		_, err = c.Next([]byte(bad))
		assert.Error(t, err, "no step after a failure (mellium would panic)")
	})
	t.Run("server error message", func(t *testing.T) {
		srv := scramServer("secret")
		c := &saslClient{mech: mechSCRAMSHA256, n: newNegotiator(mechSCRAMSHA256, "alice", "secret")}
		_, ir, _ := c.Start()
		_, first, err := srv.Step(ir)
		require.NoError(t, err)
		_, err = c.Next(first)
		require.NoError(t, err)
		_, err = c.Next([]byte("e=invalid-proof"))
		assert.Error(t, err)
		assert.False(t, c.verified)
	})
}

func TestDecodeChallenge(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     string
		err      bool
	}{
		{"challenge", "+ " + base64.StdEncoding.EncodeToString([]byte("r=abc,s=c2FsdA==,i=4096")) + "\r\n", "r=abc,s=c2FsdA==,i=4096", false},
		{"empty with space", "+ \r\n", "", false},
		{"empty bare", "+\r\n", "", false},
		{"not base64", "+ not base64!\r\n", "", true},
		{"not a continuation", "* OK hello\r\n", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeChallenge([]byte(tc.in))
			if tc.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

func TestCapabilityCode(t *testing.T) {
	caps, ok := capabilityCode([]byte("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=SCRAM-SHA-256] Dovecot ready.\r\n"))
	require.True(t, ok)
	assert.Equal(t, []string{"IMAP4rev1", "SASL-IR", "AUTH=PLAIN", "AUTH=SCRAM-SHA-256"}, caps)
	_, ok = capabilityCode([]byte("* OK server ready\r\n"))
	assert.False(t, ok)
	_, ok = capabilityCode([]byte("* OK [CAPABILITY IMAP4rev1 unterminated\r\n"))
	assert.False(t, ok)
}

// FuzzDecodeChallenge checks that any challenge bytes survive the trip
// through a continuation request, and that arbitrary lines never panic
// and decode only to what re-encodes to them.
func FuzzDecodeChallenge(f *testing.F) {
	for _, s := range []string{"", "r=abc,s=c2FsdA==,i=4096", "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", "\x00\xff"} {
		f.Add([]byte(s), []byte("+ "+base64.StdEncoding.EncodeToString([]byte(s))+"\r\n"))
	}
	f.Add([]byte{}, []byte("+\r\n"))
	f.Add([]byte{}, []byte("+ ===\r\n"))
	f.Fuzz(func(t *testing.T, data, line []byte) {
		got, err := decodeChallenge([]byte("+ " + base64.StdEncoding.EncodeToString(data) + "\r\n"))
		require.NoError(t, err)
		require.Equal(t, data, got)
		dec, err := decodeChallenge(line)
		if err != nil {
			return
		}
		body := bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("+")), []byte(" "))
		body = bytes.TrimSuffix(bytes.TrimSuffix(body, []byte("\n")), []byte("\r"))
		require.Equal(t, string(body), base64.StdEncoding.EncodeToString(dec), "strict base64 decodes one way only")
	})
}

// FuzzCapabilityCode checks that the capabilities read from a response
// are words of its CAPABILITY code, never past its end.
func FuzzCapabilityCode(f *testing.F) {
	f.Add([]byte("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n"))
	f.Add([]byte("* OK [CAPABILITY ] ready\r\n"))
	f.Add([]byte("* OK [CAPABILITY IMAP4rev1\r\n"))
	f.Add([]byte("[CAPABILITY ]]]"))
	f.Fuzz(func(t *testing.T, resp []byte) {
		caps, ok := capabilityCode(resp)
		if !ok {
			require.Empty(t, caps)
			return
		}
		i := bytes.Index(resp, []byte("[CAPABILITY "))
		require.GreaterOrEqual(t, i, 0)
		code := resp[i+len("[CAPABILITY "):]
		code = code[:bytes.IndexByte(code, ']')]
		require.Equal(t, len(bytes.Fields(code)), len(caps))
		for _, c := range caps {
			require.NotEmpty(t, c)
			require.NotContains(t, c, "]")
			require.True(t, bytes.Contains(code, []byte(c)))
		}
	})
}
