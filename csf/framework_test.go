package csf_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// journal records lifecycle calls across services, in order.
type journal struct {
	mu    sync.Mutex
	calls []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.calls = append(j.calls, s)
	j.mu.Unlock()
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.calls...)
}

// fakeService is a fake of our own csf.Service interface.
type fakeService struct {
	name     string
	j        *journal
	startErr error
	env      csf.Env
	closed   bool
}

func (f *fakeService) Start(ctx context.Context) error {
	f.j.add("start " + f.name)
	f.env.Logger.Info("connecting", "password", "hunter2", "server", "pbx.example.test")
	return f.startErr
}

func (f *fakeService) Shutdown(ctx context.Context) error {
	f.j.add("shutdown " + f.name)
	return nil
}

func (f *fakeService) Close() error {
	if f.closed {
		return net.ErrClosed
	}
	f.closed = true
	f.j.add("close " + f.name)
	return nil
}

func (f *fakeService) Health() csf.Health {
	return csf.Health{Healthy: f.startErr == nil, Server: "pbx.example.test:5061", Counters: map[string]int64{"n": 1}}
}

type reconfService struct {
	fakeService
	changed []string
}

func (r *reconfService) Reconfigure(ctx context.Context, s csf.Settings, changed []string) error {
	r.changed = changed
	r.j.add("reconfigure " + r.name)
	return nil
}

func spec(j *journal, name string, deps []string, startErr error) csf.ServiceSpec {
	return csf.ServiceSpec{Name: name, DependsOn: deps, Keys: []string{name + "Key"},
		New: func(env csf.Env) (csf.Service, error) {
			return &fakeService{name: name, j: j, startErr: startErr, env: env}, nil
		}}
}

type app string

func (a app) Name() string { return string(a) }

type settings map[string]string

func (s settings) Redacted() map[string]string { return s }

func TestStartOrderAndReverseShutdown(t *testing.T) {
	j := &journal{}
	fw := csf.New(csf.Config{})
	// Registered out of order: softphone needs directory.
	require.NoError(t, fw.Register(spec(j, "softphone", []string{"directory"}, nil)))
	require.NoError(t, fw.Register(spec(j, "directory", nil, nil)))
	require.NoError(t, fw.Register(spec(j, "im", nil, nil)))
	require.NoError(t, fw.Start(t.Context()))
	require.NoError(t, fw.Shutdown(t.Context()))
	assert.Equal(t, []string{
		"start directory", "start softphone", "start im",
		"shutdown im", "shutdown softphone", "shutdown directory",
	}, j.list())
	assert.ErrorIs(t, fw.Close(), net.ErrClosed)
	assert.ErrorIs(t, fw.Shutdown(t.Context()), net.ErrClosed)
}

func TestFailingServiceDoesNotTakeOthersDown(t *testing.T) {
	j := &journal{}
	fw := csf.New(csf.Config{})
	defer fw.Close()
	boom := errors.New("connection refused")
	require.NoError(t, fw.Register(spec(j, "voicemail", nil, boom)))
	require.NoError(t, fw.Register(spec(j, "visual", []string{"voicemail"}, nil)))
	require.NoError(t, fw.Register(spec(j, "im", nil, nil)))
	err := fw.Start(t.Context())
	require.Error(t, err)
	assert.ErrorIs(t, err, boom)
	assert.ErrorIs(t, err, csf.ErrDependencyFailed)
	var se *csf.ServiceError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "voicemail", se.Service)

	assert.Contains(t, j.list(), "close voicemail", "a failed Start still gets Close")
	assert.NotContains(t, j.list(), "start visual")

	snap := fw.Snapshot()
	states := map[string]csf.State{}
	for _, s := range snap.Services {
		states[s.Name] = s.State
	}
	assert.Equal(t, map[string]csf.State{"voicemail": csf.StateFailed, "visual": csf.StateFailed, "im": csf.StateRunning}, states)
	assert.Contains(t, snap.Services[0].LastError, "connection refused")
	assert.Contains(t, snap.Services[1].LastError, "dependency not running")
	_, ok := fw.Service("im")
	assert.True(t, ok)
}

func TestDependencyCycleAndUnknown(t *testing.T) {
	j := &journal{}
	fw := csf.New(csf.Config{})
	defer fw.Close()
	require.NoError(t, fw.Register(spec(j, "a", []string{"b"}, nil)))
	require.NoError(t, fw.Register(spec(j, "b", []string{"a"}, nil)))
	assert.ErrorIs(t, fw.Start(t.Context()), csf.ErrDependencyCycle)
	assert.ErrorIs(t, fw.Register(spec(j, "a", nil, nil)), csf.ErrDuplicateService)

	fw2 := csf.New(csf.Config{})
	defer fw2.Close()
	require.NoError(t, fw2.Register(spec(j, "a", []string{"ghost"}, nil)))
	assert.ErrorIs(t, fw2.Start(t.Context()), csf.ErrUnknownService)
}

func TestRestartOneService(t *testing.T) {
	j := &journal{}
	fw := csf.New(csf.Config{})
	defer fw.Close()
	require.NoError(t, fw.Register(spec(j, "im", nil, nil)))
	require.NoError(t, fw.Register(spec(j, "softphone", nil, nil)))
	require.NoError(t, fw.Start(t.Context()))
	before, _ := fw.Service("softphone")
	sub := fw.Subscribe(nil)
	defer sub.Close()

	require.NoError(t, fw.Restart(t.Context(), "softphone"))
	after, _ := fw.Service("softphone")
	assert.NotSame(t, before, after, "restart makes a fresh instance")
	assert.Equal(t, []string{"start im", "start softphone", "shutdown softphone", "start softphone"}, j.list())

	var states []csf.State
	for len(states) < 4 {
		if ev, ok := recv(t, sub.Events()).(csf.ServiceStateChanged); ok && ev.Name == "softphone" {
			states = append(states, ev.State)
		}
	}
	assert.Equal(t, []csf.State{csf.StateStopping, csf.StateStopped, csf.StateStarting, csf.StateRunning}, states)
	assert.Equal(t, 1, fw.Snapshot().Services[1].Restarts)
	assert.ErrorIs(t, fw.Restart(t.Context(), "nope"), csf.ErrUnknownService)
}

func TestApplySettingsRestartsOrReconfiguresAffected(t *testing.T) {
	j := &journal{}
	fw := csf.New(csf.Config{Settings: settings{"imKey": "a"}})
	defer fw.Close()
	var reconf *reconfService
	require.NoError(t, fw.Register(spec(j, "im", nil, nil)))
	require.NoError(t, fw.Register(csf.ServiceSpec{Name: "dialrules", Keys: []string{"dialrulesKey"},
		New: func(env csf.Env) (csf.Service, error) {
			reconf = &reconfService{fakeService: fakeService{name: "dialrules", j: j, env: env}}
			return reconf, nil
		}}))
	require.NoError(t, fw.Register(spec(j, "voicemail", nil, nil)))
	require.NoError(t, fw.Start(t.Context()))
	sub := csf.SubscribeTo[csf.ConfigReloaded](fw.Bus(), 0)
	defer sub.Close()

	require.NoError(t, fw.ApplySettings(t.Context(), "user.yaml", settings{"imKey": "b"}, []string{"imKey", "dialrulesKey"}, nil))
	assert.Equal(t, []string{
		"start im", "start dialrules", "start voicemail",
		"shutdown im", "start im", "reconfigure dialrules",
	}, j.list(), "voicemail untouched")
	assert.Equal(t, []string{"imKey", "dialrulesKey"}, reconf.changed)
	ev := <-sub.Events()
	assert.Equal(t, []string{"imKey", "dialrulesKey"}, ev.Changed)

	bad := errors.New("user.yaml:3: bad value")
	require.NoError(t, fw.ApplySettings(t.Context(), "user.yaml", nil, nil, bad))
	ev = <-sub.Events()
	assert.ErrorIs(t, ev.Err, bad)
	var buf bytes.Buffer
	require.NoError(t, fw.WriteProblemReport(&buf))
	assert.Contains(t, readZip(t, buf.Bytes())["config.json"], `"imKey": "b"`, "rejected source keeps the last good settings")
}

func TestTwoAppsAndDetachPolicy(t *testing.T) {
	for _, stop := range []bool{false, true} {
		t.Run(map[bool]string{false: "cucimoc keeps running", true: "cupc stops"}[stop], func(t *testing.T) {
			j := &journal{}
			fw := csf.New(csf.Config{StopWhenLastAppDetaches: stop})
			defer fw.Close()
			require.NoError(t, fw.Register(spec(j, "im", nil, nil)))
			moc, err := fw.Attach(app("cucimoc"), nil)
			require.NoError(t, err)
			cupc, err := fw.Attach(app("cupc"), &csf.SubscribeOptions{Filter: func(ev csf.Event) bool {
				_, ok := ev.(ping)
				return ok
			}})
			require.NoError(t, err)
			require.NoError(t, fw.Start(t.Context()))
			assert.Equal(t, []string{"cucimoc", "cupc"}, fw.Snapshot().Apps)

			csf.Publish(fw.Bus().NewPublisher("im"), ping{N: 7})
			assert.Equal(t, 7, recv(t, cupc.Events()).(ping).N, "cupc sees only what it filtered for")
			var sawAttach bool
			for {
				ev := recv(t, moc.Events())
				if a, ok := ev.(csf.AppAttached); ok && a.App == "cupc" {
					sawAttach = true
				}
				if _, ok := ev.(ping); ok {
					break
				}
			}
			assert.True(t, sawAttach, "each app has its own full stream")

			require.NoError(t, moc.Detach(t.Context()))
			assert.ErrorIs(t, moc.Detach(t.Context()), csf.ErrNotAttached)
			select {
			case <-fw.Done():
				t.Fatal("framework stopped with an app still attached")
			default:
			}
			require.NoError(t, cupc.Detach(t.Context()))
			if stop {
				select {
				case <-fw.Done():
				case <-time.After(5 * time.Second):
					t.Fatal("framework did not stop after the last app")
				}
				assert.Contains(t, j.list(), "shutdown im")
				_, err := fw.Attach(app("late"), nil)
				assert.ErrorIs(t, err, net.ErrClosed)
			} else {
				assert.True(t, fw.Snapshot().Running)
				assert.NotContains(t, j.list(), "shutdown im")
			}
		})
	}
}

type secretValue string

func (secretValue) LogValue() slog.Value { return slog.StringValue(csf.Redacted) }

func TestSecretsNeverInLogsOrReports(t *testing.T) {
	var appLog bytes.Buffer
	fw := csf.New(csf.Config{
		Logger:   slog.New(slog.NewJSONHandler(&appLog, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Settings: settings{"Password": csf.Redacted, "SipRegistrar": "127.0.0.1:5060"},
	})
	defer fw.Close()
	require.NoError(t, fw.Register(spec(&journal{}, "softphone", nil, nil)))
	require.NoError(t, fw.Start(t.Context()))
	log := fw.Logger().With("token", "tok-123456")
	log.Info("register", "cred", secretValue("hunter2"))
	log.Debug("sent", "msg", "REGISTER sip:x SIP/2.0\r\nAuthorization: Digest username=\"alice\", response=\"6629fae49393a05397450978507c4ef1\"\r\n")
	log.Info("sdp", "body", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")
	log.Warn("login failed", "err", errors.New("auth: password=hunter2 rejected"))
	log.Info("sasl", slog.Group("auth", "Password", "hunter2"))

	var report bytes.Buffer
	require.NoError(t, fw.WriteProblemReport(&report))
	files := readZip(t, report.Bytes())
	for _, where := range []string{appLog.String(), files["log.txt"], files["config.json"], files["snapshot.json"]} {
		for _, secret := range []string{"hunter2", "tok-123456", "6629fae49393a05397450978507c4ef1", "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"} {
			assert.NotContains(t, where, secret)
		}
	}
	assert.Contains(t, files["log.txt"], "register")
	assert.Contains(t, files["log.txt"], csf.Redacted)
	assert.Contains(t, files["config.json"], "127.0.0.1:5060")
	assert.Contains(t, files["snapshot.json"], `"name": "softphone"`)
	assert.Contains(t, files["snapshot.json"], `"state": "running"`)
	assert.Contains(t, files["about.txt"], "OpenCSF problem report")
}

func readZip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		out[f.Name] = string(data)
	}
	require.Len(t, out, 4, strings.Join([]string{"files:"}, ""))
	return out
}

type fakeDirectory struct{ fakeService }

func (fakeDirectory) LookupCaller(ctx context.Context, id string) (csf.Person, error) {
	if id == "+15550001" {
		return csf.Person{CallerID: id, Name: "Carol Jones", JID: "carol@example.test"}, nil
	}
	return csf.Person{CallerID: id}, csf.ErrCallerUnknown
}

func TestEnvCallersFindsTheRunningDirectory(t *testing.T) {
	j := &journal{}
	fw := csf.New(csf.Config{})
	defer fw.Close()
	var env csf.Env
	require.NoError(t, fw.Register(csf.ServiceSpec{Name: "voicemail", New: func(e csf.Env) (csf.Service, error) {
		env = e
		return &fakeService{name: "voicemail", j: j, env: e}, nil
	}}))
	require.NoError(t, fw.Register(csf.ServiceSpec{Name: "directory", New: func(e csf.Env) (csf.Service, error) {
		return &fakeDirectory{fakeService{name: "directory", j: j, env: e}}, nil
	}}))
	require.NoError(t, fw.Start(t.Context()))

	p, err := env.Callers.LookupCaller(t.Context(), "+15550001")
	require.NoError(t, err)
	assert.Equal(t, "Carol Jones", p.Name)
	_, err = env.Callers.LookupCaller(t.Context(), "+19999")
	assert.ErrorIs(t, err, csf.ErrCallerUnknown)

	require.NoError(t, fw.Restart(t.Context(), "directory"), "a restarted directory is found again")
	p, err = env.Callers.LookupCaller(t.Context(), "+15550001")
	require.NoError(t, err)
	assert.Equal(t, "carol@example.test", p.JID)
}

func TestSecondStartRetriesOnlyWhatIsNotRunning(t *testing.T) {
	j := &journal{}
	fw := csf.New(csf.Config{})
	defer fw.Close()
	fail := errors.New("server down")
	attempts := 0
	require.NoError(t, fw.Register(spec(j, "im", nil, nil)))
	require.NoError(t, fw.Register(csf.ServiceSpec{Name: "voicemail", New: func(env csf.Env) (csf.Service, error) {
		attempts++
		var err error
		if attempts == 1 {
			err = fail
		}
		return &fakeService{name: "voicemail", j: j, env: env, startErr: err}, nil
	}}))
	assert.ErrorIs(t, fw.Start(t.Context()), fail)
	im, _ := fw.Service("im")
	require.NoError(t, fw.Start(t.Context()))
	again, _ := fw.Service("im")
	assert.Same(t, im, again, "a running service is not started twice")
	_, ok := fw.Service("voicemail")
	assert.True(t, ok)
	assert.Equal(t, []string{"start im", "start voicemail", "close voicemail", "start voicemail"}, j.list())
}
