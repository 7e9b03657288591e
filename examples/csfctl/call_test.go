package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
)

func TestCallUsage(t *testing.T) {
	var out, errb strings.Builder
	env := &cmdEnv{stdout: &out, stderr: &errb}
	assert.Equal(t, 2, run(t.Context(), []string{"call"}, env))
	assert.Equal(t, 2, run(t.Context(), []string{"call", "bob"}, env), "no registrar configured")
	assert.Equal(t, 2, run(t.Context(), []string{"answer", "extra"}, env))
	assert.Equal(t, 2, run(t.Context(), []string{"tone"}, env))
}

func TestTone(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.wav")
	var out, errb strings.Builder
	require.Equal(t, 0, run(t.Context(), []string{"tone", p, "--hz", "1000", "--duration", "1s"}, &cmdEnv{stdout: &out, stderr: &errb}), errb.String())
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, int64(44+16000), fi.Size())
}

// TestIntegrationCallAnswer runs `answer` for bob and `call` for alice
// through kamailio over TLS, as the demo does.
func TestIntegrationCallAnswer(t *testing.T) {
	dir := t.TempDir()
	l, err := lab.Start(t.Context(), lab.Options{Servers: []string{"kamailio"}})
	if err != nil {
		if strings.Contains(err.Error(), "not installed") && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		require.NoError(t, err)
	}
	t.Cleanup(func() { l.Close() })
	cfg := filepath.Join(dir, "lab.yaml")
	require.NoError(t, l.WriteConfig(cfg))
	tone := filepath.Join(dir, "tone.wav")
	require.Equal(t, 0, run(t.Context(), []string{"tone", tone, "--duration", "3s"}, &cmdEnv{stdout: &strings.Builder{}, stderr: &strings.Builder{}}))

	bobOut := &syncBuffer{}
	bobDone := make(chan int, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	go func() {
		bobDone <- run(ctx, []string{"answer", "--config", cfg, "--user", "bob", "--calls", "1", "--record", filepath.Join(dir, "bob.wav")},
			&cmdEnv{stdout: bobOut, stderr: bobOut})
	}()
	require.Eventually(t, func() bool { return strings.Contains(bobOut.String(), "ready") }, 10*time.Second, 20*time.Millisecond)

	var out, errb strings.Builder
	code := run(ctx, []string{"call", "bob", "--config", cfg, "--user", "alice", "--play", tone, "--dtmf", "7", "--hangup-after", "1500ms"},
		&cmdEnv{stdout: &out, stderr: &errb})
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	assert.Contains(t, out.String(), "event call outgoing sip:bob@example.test: active")
	assert.Contains(t, out.String(), "stats codec=PCMU")
	assert.Contains(t, out.String(), "event unregistered sip:alice@example.test")
	select {
	case code := <-bobDone:
		assert.Equal(t, 0, code, bobOut.String())
	case <-ctx.Done():
		t.Fatalf("answer did not finish:\n%s", bobOut.String())
	}
	assert.Contains(t, bobOut.String(), "event dtmf 7")
	assert.Contains(t, bobOut.String(), "event call-received from sip:alice@example.test")
	fi, err := os.Stat(filepath.Join(dir, "bob.wav"))
	require.NoError(t, err)
	assert.Greater(t, fi.Size(), int64(8000))
}
