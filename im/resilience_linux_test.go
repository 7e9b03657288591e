//go:build linux

package im_test

import (
	"syscall"
	"testing"

	"github.com/opencsf/opencsf/im"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/require"
)

func TestIntegrationResilienceServerKilled(t *testing.T) {
	p := lab.Prosody(t, nil)
	alice := startClient(t, p.Addr, p.CA(), "alice", "secret1", func(c *im.Config) { c.Resource = "kill" })
	bob := startClient(t, p.Addr, p.CA(), "bob", "secret2", func(c *im.Config) { c.Resource = "kill" })
	converse(t, alice, bob, 30, func() {
		// SIGKILL: no goodbye, nothing flushed; then the same server again.
		require.NoError(t, syscall.Kill(p.PID(), syscall.SIGKILL))
		require.NoError(t, p.Restart(t.Context()))
	})
	waitCount(t, alice, 2, func(e im.Connected) bool { return !e.Resumed })
	waitCount(t, bob, 2, func(e im.Connected) bool { return !e.Resumed })
}
