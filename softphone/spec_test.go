package softphone_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
)

// TestIntegrationFramework runs the phone as a csf service over TLS, its
// trust from the framework's roots, and sees it registered and healthy.
func TestIntegrationFramework(t *testing.T) {
	k := lab.Kamailio(t, nil)
	fw := csf.New(csf.Config{})
	t.Cleanup(func() { fw.Close() })
	sub := csf.SubscribeTo[softphone.Registered](fw.Bus(), 16)
	defer sub.Close()
	base := softphone.Config{
		Account:   softphone.Account{User: "alice", Domain: k.Domain, Password: config.Secret("secret1")},
		Registrar: k.TLSAddr, Transport: "tls", TLS: k.CA().ClientTLS(k.Domain),
	}
	require.NoError(t, fw.Register(softphone.Spec(base, nil)))
	require.NoError(t, fw.Start(t.Context()))
	select {
	case ev := <-sub.Events():
		assert.Equal(t, "sip:alice@example.test", ev.AOR)
		assert.Equal(t, "softphone", ev.Header().Service)
	case <-time.After(5 * time.Second):
		t.Fatal("no Registered event")
	}
	svc, ok := fw.Service("softphone")
	require.True(t, ok)
	h := svc.Health()
	assert.True(t, h.Healthy, h.Status)
	require.NoError(t, fw.Shutdown(t.Context()))
}
