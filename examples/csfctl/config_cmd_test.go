package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type explained struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Layer  string `json:"layer"`
	Source string `json:"source"`
	Line   int    `json:"line"`
}

func explainJSON(t *testing.T, environ []string, args ...string) map[string]explained {
	t.Helper()
	code, out, stderr := runCmd(t, environ, append([]string{"config", "explain", "--json"}, args...)...)
	require.Equal(t, 0, code, "stderr: %s", stderr)
	var list []explained
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	m := map[string]explained{}
	for _, e := range list {
		m[e.Key] = e
	}
	return m
}

// The seed's rule: the Policies key wins over the user's AdminData key,
// here from real regedit exports in both encodings.
func TestConfigExplainPolicyWinsOverUser(t *testing.T) {
	got := explainJSON(t, nil, "--reg", "testdata/user.reg", "--reg", "testdata/policy.reg")
	assert.Equal(t, explained{Key: "SipRegistrar", Value: "pbx.corp.example.test:5061", Layer: "policy", Source: "testdata/policy.reg", Line: 5}, got["SipRegistrar"])
	assert.Equal(t, "true", got["StopWhenLastAppDetaches"].Value)
	assert.Equal(t, "policy", got["StopWhenLastAppDetaches"].Layer)
	assert.Equal(t, explained{Key: "VoicemailFolder", Value: "Voice Messages", Layer: "user", Source: "testdata/user.reg", Line: 6}, got["VoicemailFolder"])
	assert.Equal(t, "calendar,phone,availability", got["PresencePriority"].Value)

	// Order on the command line does not matter: layers decide.
	again := explainJSON(t, nil, "--reg", "testdata/policy.reg", "--reg", "testdata/user.reg")
	assert.Equal(t, got["SipRegistrar"], again["SipRegistrar"])
}

func TestConfigExplainLayersAndKey(t *testing.T) {
	user := writeTemp(t, "user.yaml", "SipRegistrar: 10.0.0.1:5060\nPassword: hunter2\nSipTransport: udp\n")
	got := explainJSON(t, []string{"OPENCSF_SIP_TRANSPORT=tcp"}, "--file", user, "--reg", "testdata/policy.reg")
	assert.Equal(t, "policy", got["SipRegistrar"].Layer)
	assert.Equal(t, "[redacted]", got["Password"].Value)
	assert.Equal(t, "tls", got["SipTransport"].Value, "policy beats both the file and the environment")

	code, out, _ := runCmd(t, nil, "config", "explain", "--file", user, "VoicemailFolder")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "INBOX")
	assert.Contains(t, out, "default")
	assert.NotContains(t, out, "hunter2")

	code, out, _ = runCmd(t, nil, "config", "explain", "--config", user, "--json", "--all")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "hunter2")
	assert.Contains(t, out, `"key": "LdapServer"`, "--all lists defaults too")
}

func TestConfigExplainBadSourceFails(t *testing.T) {
	bad := writeTemp(t, "bad.yaml", "SipTransport: carrier-pigeon\n")
	truncated := writeTemp(t, "trunc.reg", "\xff\xfeW\x00i\x00n\x00")
	for name, args := range map[string][]string{
		"bad value":     {"--file", bad},
		"truncated reg": {"--reg", truncated},
		"missing file":  {"--file", "testdata/nope.yaml"},
		"unknown key":   {"NoSuchKey"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, stderr := runCmd(t, nil, append([]string{"config", "explain"}, args...)...)
			assert.Equal(t, 1, code)
			assert.Empty(t, out)
			assert.NotEmpty(t, stderr)
		})
	}
	code, _, stderr := runCmd(t, nil, "config", "explain", "--file", bad)
	require.Equal(t, 1, code)
	assert.Contains(t, stderr, "bad.yaml:1")
	assert.Contains(t, stderr, "SipTransport")
	code, _, _ = runCmd(t, nil, "config", "explain", "--bogus")
	assert.Equal(t, 2, code)
}
