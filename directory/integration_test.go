package directory

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/dialrules"
	"github.com/opencsf/opencsf/lab"
)

// lookupRules turn E.164 caller IDs of the lab's site into extensions and
// a UK number into its national form, as DirLookupDialRules.xml would.
const lookupRules = `<DialRules>
  <DialRule BeginsWith="+1408555" NumDigits="12" DigitsToRemove="8"/>
  <DialRule BeginsWith="+44" NumDigits="13" DigitsToRemove="3" PrefixWith="0"/>
</DialRules>`

// addPerson adds a test-made entry as the directory's administrator.
func addPerson(t *testing.T, srv *lab.SlapdServer, uid, name, phone, mobile string) {
	t.Helper()
	c, err := ldap.DialURL("ldap://" + srv.Addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Bind(srv.AdminDN, srv.AdminPassword))
	req := ldap.NewAddRequest("uid="+uid+",ou=people,"+srv.BaseDN, nil)
	req.Attribute("objectClass", []string{"inetOrgPerson"})
	req.Attribute("uid", []string{uid})
	req.Attribute("cn", []string{name})
	req.Attribute("sn", []string{name})
	req.Attribute("telephoneNumber", []string{phone})
	if mobile != "" {
		req.Attribute("mobile", []string{mobile})
	}
	require.NoError(t, c.Add(req))
}

func newSet(t testing.TB, rules string) *dialrules.Set {
	var s dialrules.Set
	_, err := s.Reload("DirLookupDialRules.xml", strings.NewReader(rules))
	require.NoError(t, err)
	return &s
}

func TestIntegrationDirectorySlapd(t *testing.T) {
	srv := lab.Slapd(t, nil)
	addPerson(t, srv, "dave", "Dave Test-Made", "02079460958", "+33612345678")

	rules := newSet(t, lookupRules)
	d, err := New(Config{Server: srv.Addr, BaseDN: srv.BaseDN, BindDN: srv.UserDN("alice"), Password: "secret1", Rules: rules})
	require.NoError(t, err)
	require.NoError(t, d.Start(t.Context()))
	defer d.Close()

	tests := []struct {
		name, callerID string
		want           Person
		err            error
	}{
		{"extension", "1001", Person{DN: srv.UserDN("alice"), Name: "Alice", JID: "alice@example.test", Mailbox: "1001", Number: "1001"}, nil},
		{"E.164 through lookup rules", "+1 408 555 1002", Person{DN: srv.UserDN("bob"), Name: "Bob", JID: "bob@example.test", Mailbox: "1002", Number: "1002"}, nil},
		{"UK to national form", "+44 20 7946 0958", Person{DN: "uid=dave,ou=people," + srv.BaseDN, Name: "Dave Test-Made", Mailbox: "02079460958", Number: "02079460958"}, nil},
		{"mobile attribute", "+33612345678", Person{DN: "uid=dave,ou=people," + srv.BaseDN, Name: "Dave Test-Made", Mailbox: "02079460958", Number: "+33612345678"}, nil},
		{"nobody", "+1 408 555 9999", Person{}, ErrNotFound},
		{"filter injection is a bad number", "1001)(uid=*", Person{}, ErrInvalidCallerID},
		{"anonymous", "anonymous", Person{}, ErrInvalidCallerID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := d.Lookup(t.Context(), tc.callerID)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, *p)
		})
	}

	t.Run("cache", func(t *testing.T) {
		before := d.Health().Counters["cache_hits"]
		_, err := d.Lookup(t.Context(), "1001")
		require.NoError(t, err)
		_, err = d.Lookup(t.Context(), "+1 408 555 9999")
		assert.ErrorIs(t, err, ErrNotFound)
		assert.Equal(t, before+2, d.Health().Counters["cache_hits"])
	})

	t.Run("concurrent", func(t *testing.T) {
		d.Flush()
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				p, err := d.Lookup(t.Context(), "+14085551003")
				if assert.NoError(t, err) {
					assert.Equal(t, "Carol", p.Name)
				}
			})
		}
		wg.Wait()
	})

	t.Run("reconnect after server restart", func(t *testing.T) {
		d.Flush()
		require.NoError(t, srv.Restart(t.Context()))
		p, err := d.Lookup(t.Context(), "1002")
		require.NoError(t, err)
		assert.Equal(t, "Bob", p.Name)
		assert.True(t, d.Health().Healthy)
	})

	t.Run("StartTLS with the lab CA", func(t *testing.T) {
		dt, err := New(Config{Server: srv.Addr, BaseDN: srv.BaseDN, TLS: srv.CA().ClientTLS("localhost"), StartTLS: true})
		require.NoError(t, err)
		defer dt.Close()
		require.NoError(t, dt.Start(t.Context()))
		p, err := dt.Lookup(t.Context(), "1003")
		require.NoError(t, err)
		assert.Equal(t, "carol@example.test", p.JID)
	})

	t.Run("LDAPS", func(t *testing.T) {
		dt, err := New(Config{Server: srv.TLSAddr, BaseDN: srv.BaseDN, TLS: srv.CA().ClientTLS("localhost")})
		require.NoError(t, err)
		defer dt.Close()
		p, err := dt.Lookup(t.Context(), "1001")
		require.NoError(t, err)
		assert.Equal(t, "Alice", p.Name)
	})

	t.Run("wrong password fails the start", func(t *testing.T) {
		dt, err := New(Config{Server: srv.Addr, BaseDN: srv.BaseDN, BindDN: srv.UserDN("alice"), Password: "wrong"})
		require.NoError(t, err)
		defer dt.Close()
		err = dt.Start(t.Context())
		require.Error(t, err)
		assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials), "%v", err)
	})

	t.Run("shutdown unbinds", func(t *testing.T) {
		dt, err := New(Config{Server: srv.Addr, BaseDN: srv.BaseDN})
		require.NoError(t, err)
		require.NoError(t, dt.Start(t.Context()))
		require.NoError(t, dt.Shutdown(t.Context()))
		assert.ErrorIs(t, dt.Close(), net.ErrClosed)
		_, err = dt.Lookup(t.Context(), "1001")
		assert.ErrorIs(t, err, net.ErrClosed)
	})
}

func TestDirectoryServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	d, err := New(Config{Server: addr, BaseDN: "dc=example,dc=test", Timeout: time.Second})
	require.NoError(t, err)
	defer d.Close()
	_, err = d.Lookup(t.Context(), "1001")
	var se *SearchError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "1001", se.Number)
	assert.False(t, d.Health().Healthy)
	_, err = d.Lookup(t.Context(), "1001")
	assert.False(t, errors.Is(err, ErrNotFound), "errors are not cached")
}

func TestDirectoryCancel(t *testing.T) {
	// A server that accepts and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		l.Close()
		<-accepted
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	d, err := New(Config{Server: l.Addr().String(), BaseDN: "dc=example,dc=test", Timeout: 10 * time.Second})
	require.NoError(t, err)
	defer d.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = d.Lookup(ctx, "1001")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		has string
	}{
		{Config{BaseDN: "dc=x"}, "Server is required"},
		{Config{Server: "nohost", BaseDN: "dc=x"}, "host:port"},
		{Config{Server: "h:389"}, "BaseDN is required"},
		{Config{Server: "h:389", BaseDN: "dc=x", JIDAttribute: "mail)(x"}, "not an attribute name"},
	} {
		_, err := New(tc.cfg)
		assert.ErrorContains(t, err, tc.has)
	}
}
