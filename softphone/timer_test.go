package softphone_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
)

// TestIntegrationSessionTimer: with a 2 s session interval the caller
// refreshes the call with re-INVITEs; when the caller vanishes without BYE
// the callee hangs up by itself with ErrSessionExpired (RFC 4028).
func TestIntegrationSessionTimer(t *testing.T) {
	k := lab.Kamailio(t, nil)
	short := func(c *softphone.Config) { c.SessionExpires = 2 * time.Second }
	alice, bob, ac, bc := connect(t, k, nil, nil, short)
	eventually(t, 5*time.Second, func() bool { return ac.SessionRefreshes() >= 2 }, "no session refreshes")
	assert.Equal(t, softphone.CallActive, bc.State())
	assert.Equal(t, softphone.CallActive, ac.State())

	require.NoError(t, alice.Close()) // gone without BYE
	ev := waitFor[softphone.CallStateChanged](t, bob, 5*time.Second, func(e softphone.CallStateChanged) bool { return e.State == softphone.CallEnded })
	assert.ErrorIs(t, ev.Err, softphone.ErrSessionExpired)
}
