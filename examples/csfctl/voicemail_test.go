package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The voicemail subcommands against dovecot from the lab: list (text and
// --json), export, delete.
func TestIntegrationVoicemailCommands(t *testing.T) {
	d := lab.Dovecot(t, nil)
	cfg := writeTemp(t, "vm.yaml", fmt.Sprintf(
		"VoicemailPrimaryServer: %s\nVoicemailTLS: implicit\nTrustedCAFile: %s\nUseSystemTrustStore: false\n"+
			"Domain: example.test\nUsers:\n  alice: {UserName: alice, Password: secret1}\n",
		d.TLSAddr, d.CA().CertFile))
	for _, f := range []string{"asterisk-style.eml", "noaudio.eml"} {
		msg, err := os.ReadFile(filepath.Join("..", "..", "voicemail", "testdata", f))
		require.NoError(t, err)
		require.NoError(t, d.Deliver("alice", msg))
	}

	code, out, stderr := runCmd(t, nil, "voicemail", "list", "--config", cfg, "--user", "alice", "--json")
	require.Equal(t, 0, code, stderr)
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Len(t, list, 2, "a message without audio is listed, not dropped")
	for _, key := range []string{"id", "caller_name", "caller_number", "date", "duration_seconds", "format", "heard", "error"} {
		assert.Contains(t, list[0], key)
	}
	assert.Equal(t, "Carol Jones", list[0]["caller_name"])
	assert.Equal(t, "+15550001", list[0]["caller_number"])
	assert.EqualValues(t, 2, list[0]["duration_seconds"])
	assert.Equal(t, false, list[0]["heard"])
	assert.Nil(t, list[0]["error"])
	assert.Contains(t, list[1]["error"], "no audio")

	code, out, stderr = runCmd(t, nil, "voicemail", "list", "--config", cfg, "--user", "alice")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "Carol Jones")
	assert.Contains(t, stderr, "2 unheard")

	wav := filepath.Join(t.TempDir(), "m.wav")
	id := fmt.Sprint(list[0]["id"])
	code, _, stderr = runCmd(t, nil, "voicemail", "export", "--config", cfg, "--user", "alice", id, wav)
	require.Equal(t, 0, code, stderr)
	data, err := os.ReadFile(wav)
	require.NoError(t, err)
	assert.Equal(t, "RIFF", string(data[:4]))
	assert.Greater(t, len(data), 30000, "2 s of 8 kHz 16-bit PCM")

	code, _, stderr = runCmd(t, nil, "voicemail", "delete", "--config", cfg, "--user", "alice", id)
	require.Equal(t, 0, code, stderr)
	code, out, _ = runCmd(t, nil, "voicemail", "list", "--config", cfg, "--user", "alice", "--json")
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	assert.Len(t, list, 1)

	code, _, stderr = runCmd(t, nil, "voicemail", "export", "--config", cfg, "--user", "alice", "999", wav)
	assert.Equal(t, 1, code)
	assert.NotEmpty(t, stderr)
}
