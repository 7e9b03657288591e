package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
)

const (
	rulesPrefix9 = `<DialRules><DialRule NumDigits="7" PrefixWith="9"/><DialRule BeginsWith="+" NumDigits="12" DigitsToRemove="1" PrefixWith="00"/></DialRules>`
	rulesPrefix8 = `<DialRules><DialRule NumDigits="7" PrefixWith="8"/></DialRules>`
	lookupRules  = `<dialRules><DialRule numberBeginWith="+1408555" numberOfDigits="12" digitsToBeRemoved="7"/></dialRules>`
)

// closedUDPPort returns a UDP address where nothing listens: a TFTP server
// that is down.
func closedUDPPort(t *testing.T) string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := c.LocalAddr().String()
	require.NoError(t, c.Close())
	return addr
}

// waitFor returns the next event of type E on sub that satisfies ok.
func waitFor[E csf.Event](t *testing.T, sub *csf.Subscription, ok func(E) bool) E {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		select {
		case ev, open := <-sub.Events():
			require.True(t, open, "event stream closed")
			if e, match := ev.(E); match && (ok == nil || ok(e)) {
				return e
			}
		case <-ctx.Done():
			var zero E
			t.Fatalf("no %T event within 10 s", zero)
			return zero
		}
	}
}

func transform(t *testing.T, c *Client, number string) string {
	t.Helper()
	out, err := c.AppRules().Transform(number)
	require.NoError(t, err)
	return out
}

func TestIntegrationProvisionTFTP(t *testing.T) {
	srv := lab.TFTP(t, nil)
	require.NoError(t, srv.Put(AppDialRulesFile, []byte(rulesPrefix9)))
	require.NoError(t, srv.Put(DirLookupDialRulesFile, []byte(lookupRules)))
	down := closedUDPPort(t)
	// jabber-config.xml names the TFTP servers, as CUCM's does: the same two
	// the client starts with, so that the restart its settings cause keeps
	// the same servers.
	jabber := strings.NewReplacer("<TftpServer1>127.0.0.1</TftpServer1>", "<TftpServer1>"+down+"</TftpServer1>",
		"<TftpServer2>127.0.0.2:69</TftpServer2>", "<TftpServer2>"+srv.Addr+"</TftpServer2>").
		Replace(string(readTestdata(t, "jabber-config.xml")))
	require.NoError(t, srv.Put(JabberConfigFile, []byte(jabber)))
	require.NoError(t, srv.Put("CSFALICE.cnf.xml", readTestdata(t, "CSFALICE.cnf.xml")))
	cacheDir := t.TempDir()

	store := config.NewStore()
	fw := csf.New(csf.Config{})
	sub := fw.Subscribe(&csf.SubscribeOptions{QueueLen: 1000})
	defer sub.Close()
	poll := 200 * time.Millisecond
	require.NoError(t, fw.Register(Spec(Config{
		TftpServer1:  down, // the first server is down: fail over to the second
		TftpServer2:  srv.Addr,
		UserName:     "ALICE",
		PollInterval: poll,
		CacheDir:     cacheDir,
		TFTPTimeout:  100 * time.Millisecond,
		TFTPRetries:  1,
		Store:        store,
	})))
	reloaded := csf.SubscribeTo[csf.ConfigReloaded](fw.Bus(), 0)
	defer reloaded.Close()
	start := time.Now()
	require.NoError(t, fw.Start(t.Context()))
	t.Logf("started with one server down in %v", time.Since(start))
	defer fw.Close() // also closed below; a second Close only says so
	// The files' settings reach the framework, which restarts the services
	// reading them; provisioning itself among them when jabber-config.xml
	// names TFTP servers.
	changed := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for !changed[config.KeySipRegistrar] {
		select {
		case ev := <-reloaded.Events():
			require.NoError(t, ev.Err)
			for _, k := range ev.Changed {
				changed[k] = true
			}
		case <-deadline:
			t.Fatalf("framework saw only %v", changed)
		}
	}
	t.Logf("framework applied provisioned settings: %v", changed)
	require.Eventually(t, func() bool {
		_, ok := fw.Service("provision")
		return ok
	}, 10*time.Second, 10*time.Millisecond)
	s, ok := fw.Service("provision")
	require.True(t, ok)
	c := s.(*Client)

	fo := waitFor[ServerFailedOver](t, sub, nil)
	assert.Equal(t, "tftp://"+down, fo.From)
	assert.Equal(t, "tftp://"+srv.Addr, fo.To)
	assert.ErrorContains(t, fo.Err, "timed out")

	t.Run("files in force", func(t *testing.T) {
		assert.Equal(t, "95551234", transform(t, c, "555-1234"))
		assert.Equal(t, "0033123456789", transform(t, c, "+33 1 23 45 67 89"))
		key, err := c.LookupRules().Transform("+1 408 555 1234")
		require.NoError(t, err)
		assert.Equal(t, "51234", key)
		d := c.Device()
		require.NotNil(t, d)
		assert.Equal(t, "CSFALICE", d.Name)
		assert.Equal(t, "1001", d.Lines[0].DN)
		require.NotNil(t, c.JabberConfig())
		for _, st := range c.Status() {
			assert.True(t, st.InForce, st.Name)
			assert.Equal(t, "tftp://"+srv.Addr, st.Source, st.Name)
			assert.NoError(t, st.LastError, st.Name)
		}
		h := c.Health()
		assert.True(t, h.Healthy)
		assert.Equal(t, "tftp://"+srv.Addr, h.Server)
	})

	t.Run("settings in their layers", func(t *testing.T) {
		snap := store.Effective()
		assert.Equal(t, "127.0.0.1:5060", snap.String(config.KeySipRegistrar))
		assert.Equal(t, "tls", snap.String(config.KeySipTransport), "jabber-config policy beats the device's udp")
		assert.False(t, snap.Bool(config.KeyEnableCalendarPresence))
		e, _ := snap.Explain(config.KeyEnableCalendarPresence)
		assert.Equal(t, config.LayerPolicy, e.Layer)
		assert.Equal(t, JabberConfigFile+"#Policies", e.Source)
	})

	t.Run("hot reload within one poll", func(t *testing.T) {
		changed := time.Now()
		require.NoError(t, srv.Put(AppDialRulesFile, []byte(rulesPrefix8)))
		ev := waitFor[RulesReloaded](t, sub, func(e RulesReloaded) bool { return e.File == AppDialRulesFile && e.Rules == 1 })
		took := time.Since(changed)
		t.Logf("rules changed %v after the file (poll %v)", took, poll)
		assert.Less(t, took, 2*poll+time.Second)
		assert.Equal(t, 1, ev.Rules)
		assert.Equal(t, "85551234", transform(t, c, "5551234"))
	})

	t.Run("corrupt file keeps the good rules", func(t *testing.T) {
		require.NoError(t, srv.Put(AppDialRulesFile, []byte(`<DialRules><DialRule NumDigits="7" DigitsToRemove="9"/>`)))
		ev := waitFor[FileRejected](t, sub, func(e FileRejected) bool { return e.File == AppDialRulesFile })
		assert.Error(t, ev.Err)
		t.Logf("rejected: %v", ev.Err)
		assert.Equal(t, "85551234", transform(t, c, "5551234"))
		st := c.AppRules().Status()
		assert.Error(t, st.LastError)
		assert.Equal(t, 1, st.Rules)

		require.NoError(t, srv.Put(AppDialRulesFile, []byte("this is not XML")))
		ev = waitFor[FileRejected](t, sub, func(e FileRejected) bool { return e.File == AppDialRulesFile })
		assert.ErrorContains(t, ev.Err, "malformed")
		assert.Equal(t, "85551234", transform(t, c, "5551234"))
	})

	t.Run("on demand", func(t *testing.T) {
		require.NoError(t, srv.Put(AppDialRulesFile, []byte(rulesPrefix9)))
		err := c.Refresh(t.Context())
		require.NoError(t, err)
		assert.Equal(t, "95551234", transform(t, c, "5551234"))
	})

	t.Run("cache holds the last good files", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(cacheDir, "CUPC", "AppDialRules.xml"))
		require.NoError(t, err)
		assert.Equal(t, rulesPrefix9, string(b))
	})
	require.NoError(t, fw.Close())

	t.Run("offline start from the cache", func(t *testing.T) {
		fw2 := csf.New(csf.Config{})
		defer fw2.Close()
		sub2 := fw2.Subscribe(&csf.SubscribeOptions{QueueLen: 100})
		defer sub2.Close()
		c, err := New(Config{
			TftpServer1: closedUDPPort(t), TftpServer2: closedUDPPort(t), UserName: "ALICE",
			PollInterval: -1, CacheDir: cacheDir, TFTPTimeout: 50 * time.Millisecond, TFTPRetries: 1,
			Events: fw2.Bus().NewPublisher("provision"),
		})
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Start(t.Context()))
		used := waitFor[CacheUsed](t, sub2, nil)
		assert.Len(t, used.Files, 4)
		assert.ErrorIs(t, used.Err, ErrUnreachable)
		assert.Equal(t, "95551234", transform(t, c, "5551234"))
		h := c.Health()
		assert.False(t, h.Healthy)
		assert.Contains(t, h.Status, "offline: using 4 cached files")
		for _, st := range c.Status() {
			assert.True(t, st.FromCache, st.Name)
		}
	})

	t.Run("offline start without cache fails", func(t *testing.T) {
		c, err := New(Config{TftpServer1: closedUDPPort(t), PollInterval: -1, CacheDir: t.TempDir(),
			TFTPTimeout: 50 * time.Millisecond, TFTPRetries: 1})
		require.NoError(t, err)
		defer c.Close()
		err = c.Start(t.Context())
		assert.ErrorIs(t, err, ErrUnreachable)
		t.Log(err)
	})
}

// etagFiles serves a directory like http.FileServer, with an ETag made of
// the content's hash so that conditional GETs work below the one-second
// resolution of Last-Modified, and counts the answers.
type etagFiles struct {
	dir               string
	requests, answers atomic.Int64 // answers with a body (200)
}

func (h *etagFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	p := filepath.Join(h.dir, filepath.FromSlash(r.URL.Path))
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256(b)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	rec := &statusRecorder{ResponseWriter: w}
	http.ServeFile(rec, r, p)
	if rec.status == http.StatusOK {
		h.answers.Add(1)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// TestIntegrationProvisionHTTP uses Go's HTTP file server on 127.0.0.1 as
// the port-6970 file service.
func TestIntegrationProvisionHTTP(t *testing.T) {
	dir := t.TempDir()
	put := func(name, data string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	put(AppDialRulesFile, rulesPrefix9)
	put(JabberConfigFile, string(readTestdata(t, "jabber-config.xml")))
	// No DirLookupDialRules.xml and no device file: the server answers 404.
	files := &etagFiles{dir: dir}
	hs := httptest.NewServer(files)
	defer hs.Close()

	fw := csf.New(csf.Config{})
	defer fw.Close()
	sub := fw.Subscribe(&csf.SubscribeOptions{QueueLen: 1000})
	defer sub.Close()
	c, err := New(Config{HTTPFileServer: hs.URL + "/", DeviceName: "CSFBOB", PollInterval: -1, CacheDir: t.TempDir(),
		Events: fw.Bus().NewPublisher("provision")})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Start(t.Context()), "missing files do not fail the start")
	assert.Equal(t, "95551234", transform(t, c, "5551234"))

	missing := waitFor[FetchFailed](t, sub, func(e FetchFailed) bool { return e.File == DirLookupDialRulesFile })
	assert.ErrorIs(t, missing.Err, ErrNotFound)
	assert.Equal(t, int64(4), files.requests.Load())
	assert.Equal(t, int64(2), files.answers.Load())

	t.Run("unchanged files are not sent again", func(t *testing.T) {
		err := c.Refresh(t.Context())
		assert.ErrorIs(t, err, ErrNotFound) // the two missing files
		assert.Equal(t, int64(8), files.requests.Load())
		assert.Equal(t, int64(2), files.answers.Load(), "ETag: 304 Not Modified")
	})

	t.Run("changed file", func(t *testing.T) {
		put(AppDialRulesFile, rulesPrefix8)
		_ = c.Refresh(t.Context())
		assert.Equal(t, int64(3), files.answers.Load())
		assert.Equal(t, "85551234", transform(t, c, "5551234"))
		ev := waitFor[RulesReloaded](t, sub, func(e RulesReloaded) bool { return e.File == AppDialRulesFile && e.Rules == 1 })
		assert.Empty(t, ev.Warnings)
	})

	t.Run("server errors keep the last good", func(t *testing.T) {
		hs.Close()
		err := c.Refresh(t.Context())
		assert.ErrorIs(t, err, ErrUnreachable)
		assert.Equal(t, "85551234", transform(t, c, "5551234"))
		assert.False(t, c.Health().Healthy)
	})
}

// TestSpecDecodesSettings registers the client with a framework whose
// settings name the HTTP file service and the user.
func TestSpecDecodesSettings(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "CUPC"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "CUPC", "AppDialRules.xml"), []byte(rulesPrefix8), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "CSFbob.cnf.xml"), readTestdata(t, "CSFALICE.cnf.xml"), 0o644))
	hs := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer hs.Close()

	st := config.NewStore()
	src := config.NewSource("test")
	require.NoError(t, src.Set(config.KeyHttpFileServer, hs.URL))
	require.NoError(t, src.Set(config.KeyUserName, "bob"))
	require.NoError(t, src.Set(config.KeyProvisionPollInterval, "1h"))
	require.NoError(t, st.Put(config.LayerUser, src))
	fw := csf.New(csf.Config{Settings: st.Effective()})
	defer fw.Close()
	require.NoError(t, fw.Register(Spec(Config{CacheDir: "-"})))
	require.NoError(t, fw.Start(t.Context()))
	s, ok := fw.Service("provision")
	require.True(t, ok)
	c := s.(*Client)
	assert.Equal(t, "85551234", transform(t, c, "5551234"))
	require.NotNil(t, c.Device())
	assert.Equal(t, "CSFbob", c.Device().Name)
	assert.Equal(t, hs.URL, c.Health().Server)
}

// TestIntegrationProvisionHTTPFailover falls back from an HTTP file
// service that is down to tftpd-hpa.
func TestIntegrationProvisionHTTPFailover(t *testing.T) {
	srv := lab.TFTP(t, nil)
	require.NoError(t, srv.Put(AppDialRulesFile, []byte(rulesPrefix9)))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := "http://" + l.Addr().String() + "/"
	require.NoError(t, l.Close())

	fw := csf.New(csf.Config{})
	defer fw.Close()
	sub := fw.Subscribe(&csf.SubscribeOptions{QueueLen: 100})
	defer sub.Close()
	c, err := New(Config{HTTPFileServer: down, TftpServer1: srv.Addr, PollInterval: -1, CacheDir: "-",
		Events: fw.Bus().NewPublisher("provision")})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Start(t.Context()), "missing files are not a failed start")
	fo := waitFor[ServerFailedOver](t, sub, nil)
	assert.Equal(t, down, fo.From)
	assert.Equal(t, "tftp://"+srv.Addr, fo.To)
	assert.Equal(t, "95551234", transform(t, c, "5551234"))
	missing := waitFor[FetchFailed](t, sub, nil)
	assert.ErrorIs(t, missing.Err, ErrNotFound, "tftpd-hpa answered: no failover back")
}
