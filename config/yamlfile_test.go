package config

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseYAMLSample(t *testing.T) {
	data, err := os.ReadFile("testdata/config.yaml")
	require.NoError(t, err)
	src, ws, err := ParseYAML("config.yaml", data)
	require.NoError(t, err)
	assert.Equal(t, []Warning{{Key: "FavouriteColour", Source: "config.yaml", Line: 8, Msg: "unknown key, ignored"}}, ws)
	assert.Equal(t, "alice", get(src, KeyUserName))
	assert.Equal(t, Secret("secret1"), get(src, KeyPassword))
	assert.Equal(t, "127.0.0.1:5060", get(src, KeySipRegistrar))
	assert.Equal(t, []string{"phone", "availability"}, get(src, KeyPresencePriority))
	assert.Equal(t, false, get(src, KeyEnableCalendarPresence))
	assert.Equal(t, 5, lineOf(src, KeySipRegistrar))

	assert.Equal(t, []string{"alice", "bob"}, src.Profiles())
	bob, ok := src.Profile("bob")
	require.True(t, ok)
	assert.Equal(t, "config.yaml#Users.bob", bob.Name())
	assert.Equal(t, []string{KeyPassword, KeySipTransport, KeyUserName}, bob.Keys())
	assert.Equal(t, Secret("secret2"), get(bob, KeyPassword))
	assert.Equal(t, 11, lineOf(bob, KeyPassword))
	_, ok = src.Profile("carol")
	assert.False(t, ok)
}

func TestParseYAMLValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		key  string
		want any
	}{
		{"case-insensitive key", "sipregistrar: h:1", KeySipRegistrar, "h:1"},
		{"quoted", `UserName: "007"`, KeyUserName, "007"},
		{"number as string", `DeviceName: 0123`, KeyDeviceName, "0123"},
		{"list string", `PresencePriority: "phone, calendar"`, KeyPresencePriority, []string{"phone", "calendar"}},
		{"list sequence", "PresencePriority:\n  - calendar\n  - phone", KeyPresencePriority, []string{"calendar", "phone"}},
		{"empty list", "PresencePriority: []", KeyPresencePriority, []string(nil)},
		{"null is unset", "UserName:", KeyUserName, nil},
		{"tilde is unset", "UserName: ~", KeyUserName, nil},
		{"empty string", `UserName: ""`, KeyUserName, ""},
		{"bool yes", "UseSystemTrustStore: yes", KeyUseSystemTrustStore, true},
		{"bool off", "UseSystemTrustStore: off", KeyUseSystemTrustStore, false},
		{"duration", "ProvisionPollInterval: 90s", KeyProvisionPollInterval, 90 * time.Second},
		{"duration seconds", "ProvisionPollInterval: 30", KeyProvisionPollInterval, 30 * time.Second},
		{"url", "CalendarServerURL: https://cal.example.test/dav/alice/", KeyCalendarServerURL, "https://cal.example.test/dav/alice/"},
		{"ipv6 hostport", `SipRegistrar: "[::1]:5061"`, KeySipRegistrar, "[::1]:5061"},
		{"enum upper", "VoicemailTLS: STARTTLS", KeyVoicemailTLS, "starttls"},
		{"alias", "Domain: &d example.test\nPresenceDomain: *d", KeyPresenceDomain, "example.test"},
		{"merge", "base: &b {UserName: m, Domain: d}\n<<: *b\nUserName: explicit", KeyDomain, "d"},
		{"merge explicit wins", "base: &b {UserName: m}\n<<: *b\nUserName: explicit", KeyUserName, "explicit"},
		{"empty file", "", KeyUserName, nil},
		{"comment only", "# nothing", KeyUserName, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, _, err := ParseYAML("t.yaml", []byte(tc.yaml))
			require.NoError(t, err)
			assert.Equal(t, tc.want, get(src, tc.key))
		})
	}
}

func TestParseYAMLProfilesMerge(t *testing.T) {
	src, _, err := ParseYAML("t.yaml", []byte(`
Users:
  alice: &alice {UserName: alice, Domain: example.test}
  bob:
    <<: *alice
    UserName: bob
  carol:
`))
	require.NoError(t, err)
	bob, ok := src.Profile("bob")
	require.True(t, ok)
	assert.Equal(t, "bob", get(bob, KeyUserName))
	assert.Equal(t, "example.test", get(bob, KeyDomain))
	carol, ok := src.Profile("carol")
	require.True(t, ok)
	assert.Empty(t, carol.Keys())
}

func TestParseYAMLErrors(t *testing.T) {
	bad, err := os.ReadFile("testdata/bad.yaml")
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		data []byte
		kind error
		msg  string
	}{
		{"bad enum", bad, ErrBadValue, `config: t.yaml:3: key SipTransport: "carrier-pigeon" is not one of udp, tcp, tls`},
		{"bad bool", []byte("UserName: a\nUseSystemTrustStore: maybe"), ErrBadValue, `config: t.yaml:2: key UseSystemTrustStore: "maybe" is not a boolean (true or false)`},
		{"bad url", []byte("HttpFileServer: tftp://x"), ErrBadValue, `config: t.yaml:1: key HttpFileServer: "tftp://x" is not an absolute http or https URL`},
		{"bad port", []byte("SipRegistrar: h:99999"), ErrBadValue, `config: t.yaml:1: key SipRegistrar: "h:99999" has a bad port (want 1 to 65535)`},
		{"bad duration", []byte("ProvisionPollInterval: 5 minutes"), ErrBadValue, `config: t.yaml:1: key ProvisionPollInterval: "5 minutes" is not a duration (such as 5m, or 300 for seconds)`},
		{"list for scalar key", []byte("UserName: [a, b]"), ErrBadValue, "config: t.yaml:1: key UserName: a list is not a valid string value"},
		{"mapping value", []byte("UserName: {a: b}"), ErrBadValue, "config: t.yaml:1: key UserName: a mapping is not a valid string value"},
		{"comma in item", []byte("PresencePriority: [\"a,b\"]"), ErrBadValue, `config: t.yaml:1: key PresencePriority: list item "a,b" contains a comma`},
		{"bad profile value", []byte("Users:\n  bob:\n    SipTransport: pigeon"), ErrBadValue, `config: t.yaml:3: key SipTransport: "pigeon" is not one of udp, tcp, tls`},
		{"duplicate key", []byte("UserName: a\nusername: b"), ErrSyntax, "config: t.yaml:2: duplicate key username (first at line 1)"},
		{"syntax", []byte("UserName: a\n  Domain: b: c"), ErrSyntax, "config: t.yaml:2: mapping values are not allowed in this context"},
		{"top-level list", []byte("- a\n- b"), ErrSyntax, "config: t.yaml:1: top level must be a mapping of keys to values"},
		{"users not a map", []byte("Users: [a]"), ErrSyntax, "config: t.yaml:1: Users must map profile names to keys"},
		{"latin-1", []byte("UserName: a\nDomain: caf\xe9"), ErrBadEncoding, "config: t.yaml:2: file is not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseYAML("t.yaml", tc.data)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.kind)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, tc.msg, err.Error())
		})
	}
}

func TestParseEnv(t *testing.T) {
	src, ws, err := ParseEnv([]string{
		"HOME=/root",
		"OPENCSF_SIP_REGISTRAR=10.0.0.1:5060",
		"OPENCSF_username=alice",
		"OPENCSF_PRESENCEPRIORITY=phone,calendar",
		"OPENCSF_NOPE=1",
		"OPENCSF_USERNAME=bob", // later wins
		"opencsf_domain=lower-case prefix is not ours",
	})
	require.NoError(t, err)
	assert.Equal(t, "env", src.Name())
	assert.Equal(t, "10.0.0.1:5060", get(src, KeySipRegistrar))
	assert.Equal(t, "bob", get(src, KeyUserName))
	assert.Equal(t, []string{"phone", "calendar"}, get(src, KeyPresencePriority))
	assert.Nil(t, get(src, KeyDomain))
	assert.Equal(t, []Warning{{Key: "OPENCSF_NOPE", Source: "env", Msg: "unknown key, ignored"}}, ws)

	_, _, err = ParseEnv([]string{"OPENCSF_SIP_TRANSPORT=smoke"})
	assert.EqualError(t, err, `config: env: key SipTransport: "smoke" is not one of udp, tcp, tls`)
	assert.ErrorIs(t, err, ErrBadValue)
}
