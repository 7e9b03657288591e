package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func imLabConfig(t *testing.T, p *lab.ProsodyServer) string {
	path := filepath.Join(t.TempDir(), "im.yaml")
	yaml := fmt.Sprintf(`Domain: example.test
TrustedCAFile: %s
UseSystemTrustStore: false
PresenceServerAddress: %s
Users:
  alice: {UserName: alice, Password: secret1}
  bob: {UserName: bob, Password: secret2}
`, p.CA().CertFile, p.Addr)
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

func TestIntegrationChatSendListen(t *testing.T) {
	p := lab.Prosody(t, nil)
	cfg := imLabConfig(t, p)
	ready := filepath.Join(t.TempDir(), "ready")

	var bobOut, bobErr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(t.Context(), []string{"chat", "listen", "--config", cfg, "--user", "bob", "--count", "2",
			"--timeout", "30s", "--ready-file", ready}, &cmdEnv{stdout: &bobOut, stderr: &bobErr})
	}()
	require.Eventually(t, func() bool { _, err := os.Stat(ready); return err == nil }, 20*time.Second, 20*time.Millisecond)

	code, out, errs := runCmd(t, nil, "chat", "send", "--config", cfg, "--user", "alice", "--to", "bob@example.test",
		"--receipt", "10s", "hello", "bob")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "sent ")
	assert.Contains(t, out, "delivered to bob@example.test/opencsf")
	code, _, errs = runCmd(t, nil, "chat", "send", "--config", cfg, "--user", "alice", "--to", "bob@example.test", "second")
	require.Equal(t, 0, code, errs)

	select {
	case code := <-done:
		require.Equal(t, 0, code, bobErr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("listener did not stop after two messages")
	}
	assert.Regexp(t, `alice@example.test/opencsf-send-[0-9a-f]+: hello bob\n`, bobOut.String())
	assert.Contains(t, bobOut.String(), ": second\n")

	// A listener that hears nothing fails after its timeout when it wanted
	// messages.
	code, _, errs = runCmd(t, nil, "chat", "listen", "--config", cfg, "--user", "bob", "--count", "1", "--timeout", "1s")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "timed out after 0 of 1 messages")
}

func TestIntegrationRosterCommand(t *testing.T) {
	p := lab.Prosody(t, nil)
	cfg := imLabConfig(t, p)
	code, out, errs := runCmd(t, nil, "roster", "add", "bob@example.test", "--config", cfg, "--user", "alice",
		"--name", "Bob", "--group", "Team", "--subscribe")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "added bob@example.test\n", out)
	code, out, errs = runCmd(t, nil, "roster", "--config", cfg, "--user", "alice")
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `bob@example.test\s+Bob\s+none \(asked\)\s+Team`, out)

	code, _, errs = runCmd(t, nil, "chat", "send", "--config", cfg, "--user", "alice", "hi")
	assert.Equal(t, 2, code, errs)
}
