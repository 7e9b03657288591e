package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer lets the test read what the command prints while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lab up starts real servers, writes a config a client can use, and stops
// everything when interrupted.
func TestIntegrationLabUp(t *testing.T) {
	// Skip (or fail under CI=true) as the lab does when its servers are
	// missing; these two are the ones the written config must point at.
	lab.Kamailio(t, nil).Close()
	lab.Dovecot(t, nil).Close()

	cfg := filepath.Join(t.TempDir(), "lab.yaml")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"lab", "up", "--servers", "kamailio,dovecot", "--write-config", cfg}, &cmdEnv{stdout: &out, stderr: &errb})
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "ready") }, 30*time.Second, 20*time.Millisecond, "stderr: %s", errb.String())

	st := config.NewStore()
	_, err := st.LoadFile(cfg, &config.LoadOptions{Profile: "bob"})
	require.NoError(t, err)
	snap := st.Effective()
	assert.Equal(t, "bob", snap.String(config.KeyUserName))
	assert.Equal(t, "secret2", snap.Secret(config.KeyPassword).Reveal())
	assert.True(t, strings.HasPrefix(snap.String(config.KeySipRegistrar), "127.0.0.1:"))
	ca := snap.String(config.KeyTrustedCAFile)
	_, err = os.Stat(ca)
	require.NoError(t, err, "the CA file the config names exists while the lab runs")
	assert.Contains(t, out.String(), "user bob")

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, "stderr: %s", errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("lab up did not stop on interrupt")
	}
	_, err = os.Stat(ca)
	assert.ErrorIs(t, err, os.ErrNotExist, "a temporary lab leaves nothing behind")
}
