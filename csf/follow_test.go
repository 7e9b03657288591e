package csf_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Editing a watched config file restarts only the service that reads the
// changed key; a broken edit is reported and changes nothing.
func TestFollowConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "user.yaml")
	require.NoError(t, os.WriteFile(path, []byte("SipRegistrar: 127.0.0.1:5060\nVoicemailFolder: INBOX\n"), 0o600))
	st := config.NewStore()
	_, err := st.LoadFile(path, nil)
	require.NoError(t, err)
	w, err := st.Watch(&config.WatchOptions{Debounce: 20 * time.Millisecond})
	require.NoError(t, err)
	defer w.Close()

	j := &journal{}
	fw := csf.New(csf.Config{Settings: st.Effective()})
	defer fw.Close()
	sp := spec(j, "softphone", nil, nil)
	sp.Keys = []string{config.KeySipRegistrar}
	require.NoError(t, fw.Register(sp))
	vm := spec(j, "voicemail", nil, nil)
	vm.Keys = []string{config.KeyVoicemailFolder}
	require.NoError(t, fw.Register(vm))
	require.NoError(t, fw.Start(t.Context()))
	sub := csf.SubscribeTo[csf.ConfigReloaded](fw.Bus(), 0)
	defer sub.Close()
	fw.Follow(w)

	next := func() csf.ConfigReloaded {
		select {
		case ev := <-sub.Events():
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no ConfigReloaded event")
			return csf.ConfigReloaded{}
		}
	}

	require.NoError(t, os.WriteFile(path, []byte("SipRegistrar: 127.0.0.1:5070\nVoicemailFolder: INBOX\n"), 0o600))
	ev := next()
	require.NoError(t, ev.Err)
	assert.Equal(t, []string{"SipRegistrar"}, ev.Changed)
	require.Eventually(t, func() bool {
		return fw.Snapshot().Services[0].Restarts == 1 && fw.Snapshot().Services[0].State == csf.StateRunning
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 0, fw.Snapshot().Services[1].Restarts, "voicemail untouched")

	require.NoError(t, os.WriteFile(path, []byte("SipRegistrar: [unclosed\n"), 0o600))
	ev = next()
	require.Error(t, ev.Err)
	assert.Contains(t, ev.Err.Error(), "user.yaml")
	assert.Equal(t, 1, fw.Snapshot().Services[0].Restarts, "a bad file restarts nothing")
}

// A service that changes the configuration itself (provisioning) publishes
// SettingsChanged; the framework restarts the services reading those keys.
func TestSettingsChangedEventFromAService(t *testing.T) {
	j := &journal{}
	fw := csf.New(csf.Config{})
	defer fw.Close()
	var pub *csf.Publisher
	require.NoError(t, fw.Register(csf.ServiceSpec{Name: "provision", New: func(env csf.Env) (csf.Service, error) {
		pub = env.Events
		return &fakeService{name: "provision", j: j, env: env}, nil
	}}))
	sp := spec(j, "softphone", nil, nil)
	sp.Keys = []string{config.KeySipRegistrar}
	require.NoError(t, fw.Register(sp))
	require.NoError(t, fw.Start(t.Context()))
	sub := csf.SubscribeTo[csf.ConfigReloaded](fw.Bus(), 0)
	defer sub.Close()

	st := config.NewStore()
	require.NoError(t, st.Set(config.KeySipRegistrar, "127.0.0.1:5070"))
	csf.Publish(pub, csf.SettingsChanged{Source: "CSFalice.cnf.xml", Settings: st.Effective(), Changed: []string{config.KeySipRegistrar}})
	select {
	case ev := <-sub.Events():
		assert.Equal(t, "CSFalice.cnf.xml", ev.Source)
	case <-time.After(10 * time.Second):
		t.Fatal("no ConfigReloaded")
	}
	require.Eventually(t, func() bool {
		s := fw.Snapshot().Services[1]
		return s.Restarts == 1 && s.State == csf.StateRunning
	}, 5*time.Second, 10*time.Millisecond)
}
