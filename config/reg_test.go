package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	userKey   = `[HKEY_CURRENT_USER\Software\Cisco Systems, Inc.\Client Services Framework\AdminData]`
	policyKey = `[HKEY_CURRENT_USER\Software\Policies\Cisco Systems, Inc.\Client Services Framework\AdminData]`
)

// reg4 builds a REGEDIT4 file from lines, with CRLF endings.
func reg4(lines ...string) []byte {
	return []byte("REGEDIT4\r\n\r\n" + strings.Join(lines, "\r\n") + "\r\n")
}

// reg5 builds a version 5 file (UTF-16LE with BOM) from lines.
func reg5(lines ...string) []byte {
	return utf16File("Windows Registry Editor Version 5.00\r\n\r\n" + strings.Join(lines, "\r\n") + "\r\n")
}

// get returns the typed value of key in src, or nil.
func get(src *Source, key string) any {
	i, ok := byFold[strings.ToLower(key)]
	if !ok {
		return nil
	}
	return src.values[i].value
}

func lineOf(src *Source, key string) int {
	_, line, _ := src.Get(key)
	return line
}

func TestParseRegSamples(t *testing.T) {
	t.Setenv("OPENCSF_TEST_HOME", `C:\Users\alice`)
	t.Run("v5 UTF-16LE", func(t *testing.T) {
		data, err := os.ReadFile("testdata/both_v5.reg")
		require.NoError(t, err)
		user, policy, ws, err := ParseReg("both_v5.reg", data)
		require.NoError(t, err)

		assert.Equal(t, "alice", get(user, KeyUserName))
		assert.Equal(t, "example.test", get(user, KeyDomain))
		assert.Equal(t, "udp", get(user, KeySipTransport))
		assert.Equal(t, true, get(user, KeyStopWhenLastAppDetaches))
		assert.Equal(t, 300*time.Second, get(user, KeyProvisionPollInterval))
		assert.Equal(t, []string{"phone", "availability"}, get(user, KeyPresencePriority))
		assert.Equal(t, `C:\Users\alice\certs\ca.pem`, get(user, KeyTrustedCAFile))
		assert.Equal(t, `CSF "alice" \ desk`, get(user, KeyDeviceName))
		assert.Nil(t, get(user, KeyXmppResource), "deleted value")
		assert.Equal(t, 4, lineOf(user, KeyUserName))

		assert.Equal(t, "tls", get(policy, KeySipTransport))
		assert.Equal(t, "sip.example.test:5061", get(policy, KeySipRegistrar))
		assert.Equal(t, Secret("secret1"), get(policy, KeyPassword))
		assert.Equal(t, "ldap.example.test:389", get(policy, KeyLdapServer))
		assert.Len(t, user.Keys(), 9)
		assert.Equal(t, []string{KeyLdapServer, KeyPassword, KeySipRegistrar, KeySipTransport}, policy.Keys())

		var msgs []string
		for _, w := range ws {
			msgs = append(msgs, w.String())
		}
		assert.Equal(t, []string{
			"both_v5.reg:17: key FavouriteColour: unknown key, ignored",
			"both_v5.reg:18: key @: default value ignored",
			`both_v5.reg:27: key [HKEY_CURRENT_USER\Software\Cisco Systems, Inc.\Jabber] is not CSF AdminData; its values are ignored`,
		}, msgs)
	})
	t.Run("REGEDIT4 ANSI", func(t *testing.T) {
		data, err := os.ReadFile("testdata/ansi_v4.reg")
		require.NoError(t, err)
		user, policy, ws, err := ParseReg("ansi_v4.reg", data)
		require.NoError(t, err)
		assert.Empty(t, ws)
		assert.Equal(t, "bob", get(user, KeyUserName))
		assert.Equal(t, Secret("secret2"), get(user, KeyPassword))
		assert.Equal(t, false, get(user, KeyUseSystemTrustStore))
		assert.Equal(t, "Boîte vocale", get(user, KeyVoicemailFolder))
		assert.Equal(t, "résumé", get(user, KeyXmppResource))
		assert.Equal(t, "tls", get(policy, KeySipTransport))
	})
}

func TestParseRegValues(t *testing.T) {
	t.Setenv("OPENCSF_TEST_DIR", `D:\pki`)
	for _, tc := range []struct {
		name  string
		data  []byte
		key   string
		want  any
		layer Layer // zero means user
	}{
		{"string", reg4(userKey, `"UserName"="alice"`), KeyUserName, "alice", 0},
		{"escapes", reg4(userKey, `"LdapBaseDN"="ou=\"x\",dc=a\\b"`), KeyLdapBaseDN, `ou="x",dc=a\b`, 0},
		{"key case", reg4(userKey, `"username"="alice"`), KeyUserName, "alice", 0},
		{"LF endings", []byte("REGEDIT4\n" + userKey + "\n\"UserName\"=\"lf\"\n"), KeyUserName, "lf", 0},
		{"no final newline", []byte("REGEDIT4\r\n" + userKey + "\r\n\"UserName\"=\"x\""), KeyUserName, "x", 0},
		{"multi-line string", reg4(userKey, `"LdapBindDN"="a`, `b"`), KeyLdapBindDN, "a\nb", 0},
		{"dword bool 0", reg4(userKey, `"UseSystemTrustStore"=dword:00000000`), KeyUseSystemTrustStore, false, 0},
		{"dword bool 1", reg4(userKey, `"UseSystemTrustStore"=dword:00000001`), KeyUseSystemTrustStore, true, 0},
		{"dword duration", reg4(userKey, `"ProvisionPollInterval"=dword:0000000a`), KeyProvisionPollInterval, 10 * time.Second, 0},
		{"dword into string", reg4(userKey, `"DeviceName"=dword:0000000a`), KeyDeviceName, "10", 0},
		{"string duration", reg4(userKey, `"ProvisionPollInterval"="1h"`), KeyProvisionPollInterval, time.Hour, 0},
		{"qword", reg4(userKey, `"ProvisionPollInterval"=hex(b):3c,00,00,00,00,00,00,00`), KeyProvisionPollInterval, time.Minute, 0},
		{"hex(4) dword", reg4(userKey, `"UseSystemTrustStore"=hex(4):01,00,00,00`), KeyUseSystemTrustStore, true, 0},
		{"expand v5", reg5(userKey, `"TrustedCAFile"=hex(2):25,00,4f,00,50,00,45,00,4e,00,43,00,53,00,46,00,5f,00,\`,
			`  54,00,45,00,53,00,54,00,5f,00,44,00,49,00,52,00,25,00,5c,00,63,00,61,00,2e,00,70,00,\`,
			`  65,00,6d,00,00,00`), KeyTrustedCAFile, `D:\pki\ca.pem`, 0},
		{"expand unknown var kept", reg4(userKey, `"TrustedCAFile"=hex(2):25,4e,4f,50,45,25,2f,78,00`), KeyTrustedCAFile, `%NOPE%/x`, 0},
		{"REG_SZ not expanded", reg4(userKey, `"TrustedCAFile"="%OPENCSF_TEST_DIR%"`), KeyTrustedCAFile, `%OPENCSF_TEST_DIR%`, 0},
		{"multi_sz v4", reg4(userKey, `"PresencePriority"=hex(7):63,61,6c,00,70,68,6f,6e,65,00,00`), KeyPresencePriority, []string{"cal", "phone"}, 0},
		{"multi_sz into string", reg4(userKey, `"UserName"=hex(7):61,6c,00,00`), KeyUserName, "al", 0},
		{"list as text", reg4(userKey, `"PresencePriority"="phone, calendar"`), KeyPresencePriority, []string{"phone", "calendar"}, 0},
		{"enum case", reg4(userKey, `"SipTransport"="TCP"`), KeySipTransport, "tcp", 0},
		{"comments and blanks", reg4("; top", "", userKey, "  ; indented", "", `"UserName"="c" ; trailing`), KeyUserName, "c", 0},
		{"HKCU abbreviation policy", reg4(`[HKCU\Software\Policies\Cisco Systems, Inc.\Client Services Framework\AdminData]`, `"UserName"="p"`), KeyUserName, "p", LayerPolicy},
		{"HKLM", reg4(`[HKEY_LOCAL_MACHINE\SOFTWARE\Cisco Systems, Inc.\Client Services Framework\AdminData]`, `"UserName"="m"`), KeyUserName, "m", 0},
		{"Wow6432Node", reg4(`[HKLM\SOFTWARE\Wow6432Node\Policies\Cisco Systems, Inc.\Client Services Framework\AdminData\]`, `"UserName"="w"`), KeyUserName, "w", LayerPolicy},
		{"last wins", reg4(userKey, `"UserName"="a"`, userKey, `"UserName"="b"`), KeyUserName, "b", 0},
		{"value deletion", reg4(userKey, `"UserName"="a"`, `"UserName"=-`), KeyUserName, nil, 0},
		{"key deletion", reg4(userKey, `"UserName"="a"`, "[-"+userKey[1:], userKey, `"Domain"="d"`), KeyUserName, nil, 0},
		{"parent deletion", reg4(policyKey, `"UserName"="a"`, `[-HKEY_CURRENT_USER\Software\Policies]`), KeyUserName, nil, LayerPolicy},
		{"unrelated deletion", reg4(userKey, `"UserName"="a"`, `[-HKEY_CURRENT_USER\Software\Other]`), KeyUserName, "a", 0},
		{"v5 multi_sz", reg5(userKey, `"PresencePriority"=hex(7):61,00,00,00,62,00,00,00,00,00`), KeyPresencePriority, []string{"a", "b"}, 0},
		{"v5 in UTF-8", []byte("Windows Registry Editor Version 5.00\n" + userKey + "\n\"UserName\"=\"u8\"\n"), KeyUserName, "u8", 0},
		{"UTF-8 BOM", append([]byte{0xEF, 0xBB, 0xBF}, reg4(userKey, `"UserName"="bom"`)...), KeyUserName, "bom", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user, policy, _, err := ParseReg("t.reg", tc.data)
			require.NoError(t, err)
			src := user
			if tc.layer == LayerPolicy {
				src = policy
			}
			assert.Equal(t, tc.want, get(src, tc.key))
		})
	}
}

func TestParseRegErrors(t *testing.T) {
	truncUTF16, err := os.ReadFile("testdata/truncated_utf16.reg")
	require.NoError(t, err)
	noBOM, err := os.ReadFile("testdata/nobom_utf16.reg")
	require.NoError(t, err)
	truncHex, err := os.ReadFile("testdata/truncated_hex.reg")
	require.NoError(t, err)
	badValue, err := os.ReadFile("testdata/bad_value.reg")
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		data []byte
		kind error
		msg  string
	}{
		{"empty", nil, ErrSyntax, `config: t.reg:1: missing header "Windows Registry Editor Version 5.00" or "REGEDIT4": empty file`},
		{"missing header", []byte(userKey + "\r\n"), ErrSyntax, `config: t.reg:1: missing header "Windows Registry Editor Version 5.00" or "REGEDIT4"`},
		{"odd UTF-16", truncUTF16, ErrBadEncoding, "config: t.reg:5: odd number of bytes in UTF-16: truncated file"},
		{"UTF-16 without BOM", noBOM, ErrBadEncoding, "config: t.reg:1: NUL bytes in the header: UTF-16 without a byte order mark?"},
		{"truncated hex", truncHex, ErrSyntax, "config: t.reg:5: truncated file: line continuation at the end of the file"},
		{"truncated string", []byte("REGEDIT4\n" + userKey + "\n\"UserName\"=\"ali"), ErrSyntax, "config: t.reg:3: truncated file: unterminated string"},
		{"truncated section", []byte("REGEDIT4\n[HKEY_CURRENT_USER\\Soft"), ErrSyntax, "config: t.reg:2: truncated file: key name without ]"},
		{"truncated hex byte", []byte("REGEDIT4\n" + userKey + "\n\"UserName\"=hex(1):61,6"), ErrSyntax, "config: t.reg:3: truncated file: incomplete hex byte"},
		{"invalid hex byte", reg4(userKey, `"UserName"=hex(1):61,zz`), ErrSyntax, `config: t.reg:4: invalid hex byte "zz"`},
		{"three-digit hex byte", reg4(userKey, `"UserName"=hex(1):611`), ErrSyntax, `config: t.reg:4: invalid hex byte "611"`},
		{"dword out of range", reg4(userKey, `"UseSystemTrustStore"=dword:100000000`), ErrSyntax, "config: t.reg:4: dword 100000000 out of range (at most 8 hex digits)"},
		{"dword not hex", reg4(userKey, `"UseSystemTrustStore"=dword:0000000g`), ErrSyntax, `config: t.reg:4: invalid dword "0000000g"`},
		{"dword into bool", reg4(userKey, `"UseSystemTrustStore"=dword:00000002`), ErrBadValue, "config: t.reg:4: key UseSystemTrustStore: REG_DWORD 2 is not 0 or 1"},
		{"bad enum", badValue, ErrBadValue, `config: t.reg:5: key SipTransport: "carrier-pigeon" is not one of udp, tcp, tls`},
		{"bad hostport", reg4(policyKey, `"SipRegistrar"="sip.example.test"`), ErrBadValue, `config: t.reg:4: key SipRegistrar: "sip.example.test" is not host:port`},
		{"odd UTF-16 hex string", reg5(userKey, `"UserName"=hex(2):61,00,62`), ErrBadEncoding, "config: t.reg:4: odd number of bytes in UTF-16 string data"},
		{"binary into string", reg4(userKey, `"UserName"=hex:01,02`), ErrBadValue, "config: t.reg:4: key UserName: REG_BINARY is not a valid string value"},
		{"value before key", reg4(`"UserName"="a"`), ErrSyntax, "config: t.reg:3: value before any [key] line"},
		{"garbage line", reg4(userKey, `UserName=a`), ErrSyntax, `config: t.reg:4: unexpected "UserName=a" at the start of a line`},
		{"unknown type", reg4(userKey, `"UserName"=str:a`), ErrSyntax, `config: t.reg:4: unknown value type "str:a"`},
		{"text after value", reg4(userKey, `"UserName"="a" "b"`), ErrSyntax, `config: t.reg:4: unexpected "\"b\"" after the value`},
		{"comma in list item", reg4(userKey, `"PresencePriority"=hex(7):61,2c,62,00,00`), ErrBadValue, `config: t.reg:4: key PresencePriority: list item "a,b" contains a comma`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := ParseReg("t.reg", tc.data)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.kind)
			var ce *Error
			require.True(t, errors.As(err, &ce), "want *config.Error, got %T", err)
			assert.Equal(t, "t.reg", ce.Source)
			assert.Equal(t, tc.msg, err.Error())
		})
	}
}

func TestPolicyBeatsUser(t *testing.T) {
	t.Setenv("OPENCSF_TEST_HOME", `C:\Users\alice`)
	st := NewStore()
	ws, err := st.LoadFile("testdata/both_v5.reg", nil)
	require.NoError(t, err)
	assert.Len(t, ws, 3)
	snap := st.Effective()
	assert.Equal(t, "tls", snap.String(KeySipTransport))
	assert.Equal(t, "sip.example.test:5061", snap.String(KeySipRegistrar))
	assert.Equal(t, "alice", snap.String(KeyUserName))

	e, ok := snap.Explain("siptransport")
	require.True(t, ok)
	assert.Equal(t, Explanation{
		Key: KeySipTransport, Value: "tls", Layer: LayerPolicy, Source: "testdata/both_v5.reg", Line: 21,
		Shadowed: []Origin{
			{Layer: LayerUser, Source: "testdata/both_v5.reg", Line: 7, Value: "udp"},
			{Layer: LayerDefault, Source: "default", Value: "tls"},
		},
	}, e)
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"A": "1", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for in, want := range map[string]string{
		"":          "",
		"x":         "x",
		"%A%":       "1",
		"%A%%A%":    "11",
		"a%A%b":     "a1b",
		"%B%":       "%B%",
		"%B%A%":     "%B1",
		"%%":        "%%",
		"100%":      "100%",
		"%EMPTY%x":  "x",
		"%A":        "%A",
		"50% of %A": "50% of %A",
	} {
		assert.Equal(t, want, expandEnv(in, lookup), "expand %q", in)
	}
}
