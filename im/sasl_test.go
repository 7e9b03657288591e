package im

import (
	"context"
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"mellium.im/sasl"
)

// saslClient starts alice against addr with the TLS version capped at
// maxTLS (0: no cap) and offered, if not nil, rewriting the server's
// mechanism list. It returns the mechanism that authenticated, or the
// start error.
func saslClient(t *testing.T, addr string, ca *lab.CA, maxTLS uint16, offered func([]string) []string) (string, error) {
	t.Helper()
	trust, err := csf.LoadTrust("", false)
	require.NoError(t, err)
	require.NoError(t, trust.AddPEM(ca.CertPEM()))
	tc := trust.TLSConfig(lab.Domain)
	tc.MaxVersion = maxTLS
	fw := csf.New(csf.Config{})
	defer fw.Close()
	connected := csf.SubscribeTo[Connected](fw.Bus(), 4)
	defer connected.Close()
	c, err := New(Config{JID: "alice@" + lab.Domain, Password: "secret1", Server: addr, Trust: trust, TLS: tc,
		Events: fw.Bus().NewPublisher("im")})
	require.NoError(t, err)
	defer c.Close()
	c.offered = offered
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		return "", err
	}
	require.NoError(t, c.Ping(ctx))
	select {
	case ev := <-connected.Events():
		return ev.Mechanism, nil
	case <-ctx.Done():
		t.Fatal("no Connected event")
	}
	return "", nil
}

// stripPlus is a man in the middle striking the -PLUS mechanisms.
func stripPlus(m []string) []string {
	return slices.DeleteFunc(slices.Clone(m), func(s string) bool { return strings.HasSuffix(s, "-PLUS") })
}

// TestChannelBindingEjabberd: ejabberd 23.01 offers SCRAM-SHA-1-PLUS
// without announcing binding types (XEP-0440); tls-unique, the default,
// works over TLS 1.2; over TLS 1.3 the client uses SCRAM without binding
// rather than tls-exporter, which ejabberd 23.01 refuses.
func TestChannelBindingEjabberd(t *testing.T) {
	e := lab.Ejabberd(t, nil)

	mech, err := saslClient(t, e.Addr, e.CA(), tls.VersionTLS12, nil)
	require.NoError(t, err)
	assert.Equal(t, "SCRAM-SHA-1-PLUS", mech, "channel binding (tls-unique) over TLS 1.2")

	mech, err = saslClient(t, e.Addr, e.CA(), 0, nil)
	require.NoError(t, err)
	assert.Equal(t, "SCRAM-SHA-1", mech, "TLS 1.3: ejabberd 23.01's tls-exporter is not usable")

	// A man in the middle strikes -PLUS from the list: the client says
	// with the "y" flag that it could bind (see TestSCRAMYFlag), and
	// RFC 5802 section 6 requires a server that supports channel binding
	// to fail the exchange then. ejabberd 23.01 does not check the flag:
	// it accepts, so this downgrade goes unnoticed with it (and prosody
	// 0.12 has no channel binding to protect).
	mech, err = saslClient(t, e.Addr, e.CA(), tls.VersionTLS12, stripPlus)
	t.Logf("ejabberd with -PLUS struck: mechanism %q, error %v", mech, err)
}

// TestSCRAMYFlag: when the server offers no -PLUS mechanism on a
// connection where we could bind, SCRAM's first message carries the "y"
// flag (RFC 5802 section 6), so that a server that does support binding
// detects the downgrade; with -PLUS offered and our binding type usable,
// -PLUS comes first; with it offered but unusable, plain SCRAM says "n".
func TestSCRAMYFlag(t *testing.T) {
	tls12 := tls.ConnectionState{Version: tls.VersionTLS12, TLSUnique: []byte("0123456789ab")}
	tls13 := tls.ConnectionState{Version: tls.VersionTLS13}
	first := func(state tls.ConnectionState, offered, types []string, announced bool) (string, string) {
		mechs := chooseMechanisms(state, offered, types, announced)
		name := pickMechanism(mechs, offered)
		require.NotEmpty(t, name)
		i := slices.IndexFunc(mechs, func(m sasl.Mechanism) bool { return m.Name == name })
		n := sasl.NewClient(mechs[i], sasl.Credentials(func() ([]byte, []byte, []byte) {
			return []byte("alice"), []byte("pw"), nil
		}), sasl.RemoteMechanisms(offered...), sasl.TLSState(state))
		_, resp, err := n.Step(nil)
		require.NoError(t, err)
		return name, string(resp)
	}
	plain := []string{"SCRAM-SHA-1", "PLAIN"}
	plus := []string{"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"}
	for _, st := range []tls.ConnectionState{tls12, tls13} {
		name, resp := first(st, plain, nil, false)
		assert.Equal(t, "SCRAM-SHA-1", name)
		assert.True(t, strings.HasPrefix(resp, "y,,"), "no -PLUS offered: %q", resp)
	}
	name, resp := first(tls12, plus, nil, false)
	assert.Equal(t, "SCRAM-SHA-1-PLUS", name)
	assert.True(t, strings.HasPrefix(resp, "p=tls-unique,,"), resp)
	name, resp = first(tls13, plus, []string{"tls-exporter"}, true)
	assert.Equal(t, "SCRAM-SHA-1-PLUS", name)
	assert.True(t, strings.HasPrefix(resp, "p=tls-exporter,,"), resp)
	name, resp = first(tls13, plus, nil, false)
	assert.Equal(t, "SCRAM-SHA-1", name, "tls-exporter not announced")
	assert.True(t, strings.HasPrefix(resp, "n,,"), resp)
}

// TestChannelBindingProsody: prosody 0.12 offers SCRAM-SHA-1-PLUS over
// TLS 1.2 only (tls-unique; it has no tls-exporter), and it checks the "y"
// flag: with -PLUS struck from the list by a man in the middle, the
// exchange fails instead of going on without binding.
func TestChannelBindingProsody(t *testing.T) {
	p := lab.Prosody(t, nil)
	mech, err := saslClient(t, p.Addr, p.CA(), tls.VersionTLS12, nil)
	require.NoError(t, err)
	assert.Equal(t, "SCRAM-SHA-1-PLUS", mech)
	mech, err = saslClient(t, p.Addr, p.CA(), 0, nil)
	require.NoError(t, err)
	assert.Equal(t, "SCRAM-SHA-1", mech)

	_, err = saslClient(t, p.Addr, p.CA(), tls.VersionTLS12, stripPlus)
	assert.ErrorIs(t, err, ErrAuth, "downgrade detected")
	mech, err = saslClient(t, p.Addr, p.CA(), 0, stripPlus)
	require.NoError(t, err, "TLS 1.3: prosody offers no -PLUS, so nothing was struck and y is right")
	assert.Equal(t, "SCRAM-SHA-1", mech)
}
