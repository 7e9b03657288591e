//go:build linux

package lab_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
)

func TestIntegrationSipp(t *testing.T) {
	// SIPp's built-in server answers two calls from its built-in client.
	uas := lab.Sipp(t, lab.SippOptions{Scenario: "uas", Calls: 2})
	uac := lab.Sipp(t, lab.SippOptions{Scenario: "uac", Target: uas.Addr, Calls: 2})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, uac.Wait(ctx))
	require.NoError(t, uas.Wait(ctx))
	assert.NotZero(t, uas.MediaPort)

	// A client scenario with nobody answering fails with SIPp's errors.
	dead := lab.Sipp(t, lab.SippOptions{Scenario: "uac", Target: "127.0.0.1:9", Args: []string{"-timeout", "2s", "-timeout_error"}})
	err := dead.Wait(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit status")

	require.NoError(t, uas.Close())
	assert.ErrorIs(t, uas.Close(), net.ErrClosed)
}
