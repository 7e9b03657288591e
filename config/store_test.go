package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
}

func TestDefaults(t *testing.T) {
	snap := NewStore().Effective()
	assert.Equal(t, "info", snap.String(KeyLogLevel))
	assert.False(t, snap.Bool(KeyStopWhenLastAppDetaches))
	assert.True(t, snap.Bool(KeyUseSystemTrustStore))
	assert.Equal(t, []string{"phone", "calendar", "availability"}, snap.List(KeyPresencePriority))
	assert.Equal(t, 5*time.Minute, snap.Duration(KeyProvisionPollInterval))
	assert.Equal(t, "tls", snap.String(KeySipTransport))
	assert.Equal(t, "INBOX", snap.String(KeyVoicemailFolder))
	assert.Equal(t, "opencsf", snap.String(KeyXmppResource))
	assert.Equal(t, Secret(""), snap.Secret(KeyPassword))
	assert.Equal(t, "", snap.String("NoSuchKey"))
	assert.False(t, snap.Bool(KeyUserName), "wrong type gives the zero value")
	assert.Len(t, Keys(), 33)

	var zero Snapshot
	assert.Equal(t, snap.Redacted(), zero.Redacted())
	assert.Empty(t, zero.Changed(snap))
	var src Source
	require.NoError(t, src.Set(KeyUserName, "z"))
	assert.Equal(t, []string{KeyUserName}, src.Keys())
}

func TestSchema(t *testing.T) {
	k, ok := LookupKey("SIPTRANSPORT")
	require.True(t, ok)
	assert.Equal(t, Key{Name: KeySipTransport, Type: TypeEnum, Default: "tls", Allowed: []string{"udp", "tcp", "tls"}, Doc: "SIP transport"}, k)
	k.Allowed[0] = "changed"
	k2, _ := LookupKey(KeySipTransport)
	assert.Equal(t, "udp", k2.Allowed[0], "LookupKey returns a copy")
	_, ok = LookupKey("Nope")
	assert.False(t, ok)
	keys := Keys()
	for i := 1; i < len(keys); i++ {
		assert.Less(t, keys[i-1].Name, keys[i].Name)
	}
	assert.Equal(t, "hostport", TypeHostPort.String())
	assert.Equal(t, "policy", LayerPolicy.String())
	var l Layer
	require.NoError(t, l.UnmarshalText([]byte("server")))
	assert.Equal(t, LayerServer, l)
	assert.Error(t, l.UnmarshalText([]byte("nope")))
}

func TestLayers(t *testing.T) {
	dir := t.TempDir()
	server, user, policy := filepath.Join(dir, "server.yaml"), filepath.Join(dir, "user.yaml"), filepath.Join(dir, "policy.yaml")
	writeFile(t, server, "SipRegistrar: server:5060\nDomain: server.test\nUserName: s\nLdapServer: ldap:389\n")
	writeFile(t, user, "SipRegistrar: user:5060\nDomain: user.test\nUserName: u\n")
	writeFile(t, policy, "SipRegistrar: policy:5060\n")

	st := NewStore()
	// Load in an order unlike the layers: the layer decides, not the order.
	_, err := st.LoadFile(policy, &LoadOptions{Layer: LayerPolicy})
	require.NoError(t, err)
	_, err = st.LoadFile(user, nil)
	require.NoError(t, err)
	_, err = st.LoadFile(server, &LoadOptions{Layer: LayerServer})
	require.NoError(t, err)
	_, err = st.LoadEnv([]string{"OPENCSF_DOMAIN=env.test"})
	require.NoError(t, err)
	require.NoError(t, st.Set("username", "code"))

	snap := st.Effective()
	assert.Equal(t, "policy:5060", snap.String(KeySipRegistrar))
	assert.Equal(t, "env.test", snap.String(KeyDomain), "env is put after the file in the user layer")
	assert.Equal(t, "code", snap.String(KeyUserName))
	assert.Equal(t, "ldap:389", snap.String(KeyLdapServer))

	e, ok := snap.Explain(KeySipRegistrar)
	require.True(t, ok)
	assert.Equal(t, Explanation{
		Key: KeySipRegistrar, Value: "policy:5060", Layer: LayerPolicy, Source: policy, Line: 1,
		Shadowed: []Origin{
			{Layer: LayerUser, Source: user, Line: 1, Value: "user:5060"},
			{Layer: LayerServer, Source: server, Line: 1, Value: "server:5060"},
			{Layer: LayerDefault, Source: "default", Value: ""},
		},
	}, e)
	e, _ = snap.Explain(KeyUserName)
	assert.Equal(t, `UserName = "code" (code); shadows "u" (user `+user+`:3), "s" (server `+server+`:3), "" (default)`, e.String())
	e, _ = snap.Explain(KeyDomain)
	assert.Equal(t, LayerUser, e.Layer)
	assert.Equal(t, "env", e.Source)
	assert.Equal(t, 0, e.Line)

	_, ok = snap.Explain("Nope")
	assert.False(t, ok)

	all := snap.ExplainAll()
	require.Len(t, all, 33)
	assert.Equal(t, KeyCalendarPassword, all[0].Key)

	// Reloading a source keeps its place in the layer: env still wins.
	writeFile(t, user, "Domain: user2.test\n")
	_, err = st.LoadFile(user, nil)
	require.NoError(t, err)
	assert.Equal(t, "env.test", st.Effective().String(KeyDomain))
	assert.Equal(t, "policy:5060", snap.String(KeySipRegistrar), "old snapshots stay as they were")

	require.True(t, st.Remove(LayerUser, "env"))
	assert.False(t, st.Remove(LayerUser, "env"))
	assert.Equal(t, "user2.test", st.Effective().String(KeyDomain))
}

func TestLoadFailureKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "tls.yaml")
	writeFile(t, yml, "SipTransport: tcp\nUserName: alice\n")
	reg := filepath.Join(dir, "gpo.reg")
	writeFile(t, reg, string(reg4(policyKey, `"SipTransport"="udp"`)))

	st := NewStore()
	_, err := st.LoadFile(yml, nil)
	require.NoError(t, err)
	_, err = st.LoadFile(reg, nil)
	require.NoError(t, err)
	before := st.Effective()

	writeFile(t, yml, "UserName: mallory\nDomain: x\nSipRegistrar: a:1\n\n\n\n\n\n\n\n\nSipTransport: carrier-pigeon\n")
	_, err = st.LoadFile(yml, nil)
	var ce *Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, &Error{Key: KeySipTransport, Source: yml, Line: 12, Err: ce.Err}, ce)
	assert.Equal(t, "config: "+yml+`:12: key SipTransport: "carrier-pigeon" is not one of udp, tcp, tls`, err.Error())

	writeFile(t, reg, string(reg4(policyKey, `"SipTransport"="udp"`, `"UserName"=dword:1`))[:60])
	_, err = st.LoadFile(reg, nil)
	require.ErrorIs(t, err, ErrSyntax)

	// A regedit export with another name, read as YAML or as .reg.
	gpo := filepath.Join(dir, "gpo.txt")
	writeFile(t, gpo, string(reg4(policyKey, `"SipTransport"="carrier-pigeon"`)))
	_, err = st.LoadFile(gpo, nil)
	require.ErrorIs(t, err, ErrSyntax, "not YAML")
	_, err = st.LoadFile(gpo, &LoadOptions{Reg: true})
	require.ErrorIs(t, err, ErrBadValue)

	_, err = st.LoadFile(filepath.Join(dir, "missing.yaml"), nil)
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorAs(t, err, &ce)

	after := st.Effective()
	assert.Equal(t, before.Redacted(), after.Redacted())
	assert.Equal(t, "alice", after.String(KeyUserName))
	assert.Equal(t, "udp", after.String(KeySipTransport))
}

func TestProfiles(t *testing.T) {
	st := NewStore()
	_, err := st.LoadFile("testdata/config.yaml", &LoadOptions{Profile: "bob"})
	require.NoError(t, err)
	snap := st.Effective()
	assert.Equal(t, "bob", snap.String(KeyUserName))
	assert.Equal(t, "secret2", snap.Secret(KeyPassword).Reveal())
	assert.Equal(t, "tcp", snap.String(KeySipTransport))
	assert.Equal(t, "example.test", snap.String(KeyDomain), "from the top level")
	e, _ := snap.Explain(KeyUserName)
	assert.Equal(t, "testdata/config.yaml#Users.bob", e.Source)
	assert.Equal(t, 11, e.Line)

	_, err = st.LoadFile("testdata/config.yaml", &LoadOptions{Profile: "dave"})
	assert.ErrorIs(t, err, ErrNoProfile)
	assert.EqualError(t, err, `config: testdata/config.yaml: no profile "dave" under Users`)
}

func TestSetAndPut(t *testing.T) {
	st := NewStore()
	require.NoError(t, st.Set(KeyUseSystemTrustStore, false))
	require.NoError(t, st.Set(KeyProvisionPollInterval, time.Second))
	require.NoError(t, st.Set(KeyPresencePriority, []string{"calendar"}))
	require.NoError(t, st.Set(KeyPassword, Secret("pw")))
	require.NoError(t, st.Set(KeyLogLevel, "DEBUG"))

	err := st.Set("Nope", "x")
	assert.ErrorIs(t, err, ErrUnknownKey)
	assert.EqualError(t, err, "config: code: key Nope: unknown key")
	err = st.Set(KeyUseSystemTrustStore, 1)
	assert.ErrorIs(t, err, ErrBadValue)
	assert.EqualError(t, err, "config: code: key UseSystemTrustStore: a Go int is not a valid bool value")
	assert.ErrorIs(t, st.Set(KeyLogLevel, "loud"), ErrBadValue)
	assert.ErrorIs(t, st.Set(KeyProvisionPollInterval, -time.Second), ErrBadValue)

	snap := st.Effective()
	assert.False(t, snap.Bool(KeyUseSystemTrustStore))
	assert.Equal(t, time.Second, snap.Duration(KeyProvisionPollInterval))
	assert.Equal(t, []string{"calendar"}, snap.List(KeyPresencePriority))
	assert.Equal(t, "debug", snap.String(KeyLogLevel))
	assert.Equal(t, "[redacted]", snap.String(KeyPassword))
	assert.Equal(t, Secret("pw"), snap.Secret(KeyPassword))

	src := NewSource("mine")
	require.NoError(t, src.Set(KeyUserName, "x"))
	require.NoError(t, st.Put(LayerServer, src))
	require.NoError(t, src.Set(KeyUserName, "changed after Put"))
	assert.Equal(t, "x", st.Effective().String(KeyUserName), "Put copies the source")
	assert.Error(t, st.Put(LayerDefault, src))
	assert.Error(t, st.Put(Layer(9), src))

	l := snap.List(KeyPresencePriority)
	l[0] = "mutated"
	assert.Equal(t, []string{"calendar"}, snap.List(KeyPresencePriority), "List returns a copy")
}

func TestRedacted(t *testing.T) {
	st := NewStore()
	require.NoError(t, st.Set(KeyPassword, "hunter2"))
	require.NoError(t, st.Set(KeyUserName, "alice"))
	snap := st.Effective()
	m := snap.Redacted()
	assert.Len(t, m, 33)
	assert.Equal(t, "[redacted]", m[KeyPassword])
	assert.Equal(t, "", m[KeySipPassword], "an unset secret shows as empty")
	assert.Equal(t, "alice", m[KeyUserName])
	assert.Equal(t, "phone,calendar,availability", m[KeyPresencePriority])

	b, err := json.Marshal(snap.ExplainAll())
	require.NoError(t, err)
	assert.NotContains(t, string(b), "hunter2")
	e, _ := snap.Explain(KeyPassword)
	assert.Equal(t, "[redacted]", e.Value)
	b, err = json.Marshal(e)
	require.NoError(t, err)
	assert.JSONEq(t, `{"key":"Password","value":"[redacted]","layer":"code","source":"code",
		"shadowed":[{"layer":"default","source":"default","value":""}]}`, string(b))
	src := NewSource("s")
	require.NoError(t, src.Set(KeyPassword, "hunter2"))
	text, _, ok := src.Get("password")
	assert.True(t, ok)
	assert.Equal(t, "[redacted]", text)
}

func TestStoreConcurrent(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.yaml")
	writeFile(t, f, "UserName: a\n")
	st := NewStore()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 50 {
				if i%2 == 0 {
					_, err := st.LoadFile(f, nil)
					assert.NoError(t, err)
					assert.NoError(t, st.Set(KeyDomain, "d"))
				} else {
					snap := st.Effective()
					_ = snap.ExplainAll()
					_ = snap.String(KeyUserName)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, "a", st.Effective().String(KeyUserName))
}

func TestDecode(t *testing.T) {
	st := NewStore()
	require.NoError(t, st.Set(KeySipRegistrar, "pbx:5060"))
	require.NoError(t, st.Set(KeySipPassword, "pw"))
	require.NoError(t, st.Set(KeyUserName, "alice"))
	type account struct {
		User string `config:"UserName"`
	}
	type softphone struct {
		Registrar string        `config:"SipRegistrar"`
		Transport string        `config:"siptransport"`
		Password  Secret        `config:"SipPassword"`
		Poll      time.Duration `config:"ProvisionPollInterval"`
		Trust     bool          `config:"UseSystemTrustStore"`
		Facets    []string      `config:"PresencePriority"`
		Account   account
		Skip      string `config:"-"`
		untouched string
	}
	var c softphone
	c.Skip = "kept"
	require.NoError(t, st.Effective().Decode(&c))
	assert.Equal(t, softphone{
		Registrar: "pbx:5060", Transport: "tls", Password: "pw", Poll: 5 * time.Minute, Trust: true,
		Facets: []string{"phone", "calendar", "availability"}, Account: account{User: "alice"}, Skip: "kept",
	}, c)

	var wrongType struct {
		N int `config:"UserName"`
	}
	err := st.Effective().Decode(&wrongType)
	assert.EqualError(t, err, "config: decode field N: key UserName: a field of type int cannot hold a string value")
	var leak struct {
		P string `config:"Password"`
	}
	assert.Error(t, st.Effective().Decode(&leak), "a secret needs a Secret field")
	var unknown struct {
		X string `config:"Nope"`
	}
	assert.True(t, errors.Is(st.Effective().Decode(&unknown), ErrUnknownKey))
	assert.Error(t, st.Effective().Decode(c))
}

func TestDecodeSetKeepsCodeValuesForDefaults(t *testing.T) {
	type cfg struct {
		Folder string        `config:"VoicemailFolder"`
		Poll   time.Duration `config:"ProvisionPollInterval"`
		User   string        `config:"UserName"`
	}
	st := NewStore()
	require.NoError(t, st.Set(KeyUserName, "bob"))
	c := cfg{Folder: "Voice Messages", Poll: time.Second, User: "alice"}
	require.NoError(t, st.Effective().DecodeSet(&c))
	assert.Equal(t, cfg{Folder: "Voice Messages", Poll: time.Second, User: "bob"}, c)

	var all cfg
	require.NoError(t, st.Effective().Decode(&all))
	assert.Equal(t, "INBOX", all.Folder, "Decode takes defaults too")
}
