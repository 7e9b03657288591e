package im_test

import (
	"context"
	"testing"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/im"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func labSettings(t *testing.T, addr string, ca *lab.CA, user, password string) *config.Snapshot {
	st := config.NewStore()
	for k, v := range map[string]any{
		config.KeyUserName: user, config.KeyPassword: password, config.KeyDomain: lab.Domain,
		config.KeyPresenceServerAddress: addr, config.KeyTrustedCAFile: ca.CertFile,
		config.KeyUseSystemTrustStore: false, config.KeyXmppResource: "framework",
	} {
		require.NoError(t, st.Set(k, v))
	}
	return st.Effective()
}

func TestConfigFromSettings(t *testing.T) {
	ca, err := lab.NewCA(t.TempDir())
	require.NoError(t, err)
	cfg, err := im.ConfigFromSettings(labSettings(t, "127.0.0.1:5222", ca, "alice", "secret1"))
	require.NoError(t, err)
	assert.Equal(t, "alice@example.test", cfg.JID)
	assert.Equal(t, "secret1", cfg.Password.Reveal())
	assert.Equal(t, "framework", cfg.Resource)
	assert.Equal(t, "127.0.0.1:5222", cfg.Server)
	assert.NotNil(t, cfg.Trust)

	_, err = im.ConfigFromSettings(config.NewStore().Effective())
	assert.ErrorContains(t, err, "UserName")
}

func TestNewNamesTheBadField(t *testing.T) {
	for _, tt := range []struct {
		cfg  im.Config
		want string
	}{
		{im.Config{Password: "x"}, "Config.JID"},
		{im.Config{JID: "no-local-part.test", Password: "x"}, "Config.JID"},
		{im.Config{JID: "a@b.test"}, "Config.Password"},
		{im.Config{JID: "a@b.test", Password: "x", Server: "no-port"}, "Config.Server"},
	} {
		_, err := im.New(tt.cfg)
		assert.ErrorContains(t, err, tt.want)
	}
}

// TestIntegrationFrameworkService runs the client as the framework's "im"
// service, configured from settings, and publishing on the framework bus.
func TestIntegrationFrameworkService(t *testing.T) {
	p := lab.Prosody(t, nil)
	fw := csf.New(csf.Config{Settings: labSettings(t, p.Addr, p.CA(), "alice", "secret1")})
	defer fw.Close()
	require.NoError(t, fw.Register(im.Spec()))
	conn := csf.SubscribeTo[im.Connected](fw.Bus(), 0)
	defer conn.Close()
	require.NoError(t, fw.Start(t.Context()))
	select {
	case ev := <-conn.Events():
		assert.Equal(t, "alice@example.test/framework", ev.JID)
		assert.Equal(t, "im", ev.Service)
	case <-time.After(10 * time.Second):
		t.Fatal("no Connected event")
	}
	svc, ok := fw.Service("im")
	require.True(t, ok)
	h := svc.Health()
	assert.True(t, h.Healthy)
	assert.Equal(t, p.Addr, h.Server)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, fw.Shutdown(ctx))
}
