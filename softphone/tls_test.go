package softphone_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
)

// TestIntegrationTLSUntrusted registers over TLS trusting another CA: Start
// fails with a classified *csf.TLSError, not a bare handshake message.
func TestIntegrationTLSUntrusted(t *testing.T) {
	k := lab.Kamailio(t, nil)
	other, err := lab.NewCA(t.TempDir())
	require.NoError(t, err)
	trust, err := csf.LoadTrust(other.CertFile, false)
	require.NoError(t, err)
	p := newPhone(t, k, "alice", "secret1", "tls", func(c *softphone.Config) {
		c.Trust = trust
		c.TLS = trust.TLSConfig(k.Domain)
	})
	err = p.Start(t.Context())
	require.Error(t, err)
	var te *csf.TLSError
	require.ErrorAs(t, err, &te, "got %v", err)
	assert.Equal(t, csf.TLSUnknownAuthority, te.Reason)
	assert.False(t, p.Health().Healthy)
}
