//go:build linux

package lab_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
)

func TestIntegrationBaresip(t *testing.T) {
	// One baresip calls another directly; the callee answers by itself and
	// records what it receives.
	callee := lab.Baresip(t, nil)
	caller := lab.Baresip(t, &lab.BaresipOptions{User: "alice", ToneHz: 500})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	require.NoError(t, caller.Dial(ctx, callee.URI))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if files := callee.Received(); len(files) > 0 {
			if fi, err := os.Stat(files[0]); err == nil && fi.Size() > 8000 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("callee recorded nothing; files in %s: %v", callee.RecordDir, glob(callee.RecordDir))
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, caller.Hangup(ctx))
	require.NoError(t, callee.Close())
	assert.ErrorIs(t, callee.Close(), net.ErrClosed)
}

func TestIntegrationBaresipRegisters(t *testing.T) {
	k := lab.Kamailio(t, nil)
	b := lab.Baresip(t, &lab.BaresipOptions{Registrar: k.UDPAddr})
	out, err := b.Command(t.Context(), "reginfo", "")
	require.NoError(t, err)
	assert.Contains(t, out, "OK")
	assert.Equal(t, "sip:bob@example.test", b.URI)
}

func TestWriteToneWAV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "t.wav")
	require.NoError(t, lab.WriteToneWAV(p, 440, time.Second))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, int64(44+16000), fi.Size())
}

func glob(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "*"))
	return m
}
