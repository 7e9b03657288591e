package softphone_test

import (
	"testing"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/directory"
	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An incoming call carries the caller's name from the directory: extension
// 1003 calls bob through kamailio, and slapd knows 1003 is Carol.
func TestIntegrationCallReceivedCarriesDirectoryName(t *testing.T) {
	k := lab.Kamailio(t, &lab.KamailioOptions{Users: append(lab.DefaultUsers(), lab.NewUser("1003", "pw-1003"))})
	ldap := lab.Slapd(t, nil)
	dir, err := directory.New(directory.Config{Server: ldap.Addr, BaseDN: ldap.BaseDN, BindDN: ldap.UserDN("alice"), Password: "secret1"})
	require.NoError(t, err)
	require.NoError(t, dir.Start(t.Context()))
	defer dir.Close()

	bob := newPhone(t, k, "bob", "secret2", "udp", func(c *softphone.Config) { c.Callers = dir })
	ext := newPhone(t, k, "1003", "pw-1003", "udp", nil)
	alice := newPhone(t, k, "alice", "secret1", "udp", nil)
	for _, p := range []*testPhone{bob, ext, alice} {
		require.NoError(t, p.Start(t.Context()))
	}

	for _, tc := range []struct {
		from *testPhone
		want csf.Person
	}{
		{ext, csf.Person{CallerID: "1003", Name: "Carol", JID: "carol@example.test", Mailbox: "1003"}},
		{alice, csf.Person{CallerID: "alice"}}, // no number: nobody to look up
	} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			call, err := tc.from.Dial(t.Context(), "sip:bob@example.test", nil)
			if assert.NoError(t, err) {
				assert.NoError(t, call.Hangup(t.Context()))
			}
		}()
		ev := waitFor[softphone.CallReceived](t, bob, 10*time.Second, nil)
		assert.Equal(t, tc.want, ev.Caller)
		require.NoError(t, ev.Call.Answer(t.Context(), nil))
		<-done
		waitFor[softphone.CallStateChanged](t, bob, 5*time.Second, func(e softphone.CallStateChanged) bool { return e.State == softphone.CallEnded })
	}
}
