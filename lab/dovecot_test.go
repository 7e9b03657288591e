//go:build linux

package lab_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
)

// A mechanism name is written into dovecot.conf: anything that could end
// the line, or is not a name at all, is refused before anything starts.
func TestDovecotAuthMechanismsRefused(t *testing.T) {
	for _, bad := range [][]string{
		{"plain\nauth_debug_passwords = yes"},
		{"scram-sha-1", "plain\r"},
		{"scram sha 1"},
		{"plain#"},
		{"$T"},
		{""},
	} {
		dir := t.TempDir()
		d, err := lab.StartDovecot(t.Context(), lab.DovecotOptions{Dir: dir, AuthMechanisms: bad})
		require.Error(t, err, "%q", bad)
		assert.Nil(t, d)
		assert.Contains(t, err.Error(), "auth mechanism", "%q", bad)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Empty(t, entries, "%q: nothing written", bad)
	}
}

// The server offers exactly the mechanisms asked for, and the default
// ones when none are.
func TestIntegrationDovecotAuthMechanisms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		mechs []string
		want  []string
	}{
		{"default", nil, []string{"AUTH=PLAIN", "AUTH=SCRAM-SHA-1", "AUTH=SCRAM-SHA-256"}},
		// Without PLAIN dovecot cannot check a LOGIN command either.
		{"scram-sha-1", []string{"scram-sha-1"}, []string{"AUTH=SCRAM-SHA-1", "LOGINDISABLED"}},
		{"PLAIN", []string{"PLAIN"}, []string{"AUTH=PLAIN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := lab.Dovecot(t, &lab.DovecotOptions{AuthMechanisms: tc.mechs})
			c := tlsConversation(t, d.TLSAddr, d.CA().ClientTLS("127.0.0.1"))
			c.readUntil("\r\n")
			c.send("a CAPABILITY\r\n")
			resp := c.readUntil("a OK")
			var got []string
			for _, f := range strings.Fields(resp) {
				if strings.HasPrefix(f, "AUTH=") || f == "LOGINDISABLED" {
					got = append(got, f)
				}
			}
			assert.ElementsMatch(t, tc.want, got, resp)
		})
	}
}
