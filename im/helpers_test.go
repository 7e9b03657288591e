package im_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/im"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/require"
)

// waitTimeout bounds every wait for an event.
const waitTimeout = 15 * time.Second

// recorder keeps every event a client published, for tests to wait on.
type recorder struct {
	mu     sync.Mutex
	cond   *sync.Cond
	events []csf.Event
}

type testClient struct {
	*im.Client
	rec *recorder
	fw  *csf.Framework
}

func trustFor(t testing.TB, ca *lab.CA) *csf.Trust {
	tr, err := csf.LoadTrust("", false)
	require.NoError(t, err)
	require.NoError(t, tr.AddPEM(ca.CertPEM()))
	return tr
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("IM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// server is what the tests need of a lab XMPP server.
type server interface {
	CA() *lab.CA
}

// clientConfig returns a config for user on the prosody p.
func clientConfig(t testing.TB, addr string, ca *lab.CA, user, password string) im.Config {
	return im.Config{
		JID:          user + "@" + lab.Domain,
		Password:     config.Secret(password),
		Server:       addr,
		Trust:        trustFor(t, ca),
		Logger:       testLogger(t).With("user", user),
		ReconnectMin: 100 * time.Millisecond,
		ReconnectMax: time.Second,
		PingInterval: 2 * time.Second,
		PingTimeout:  2 * time.Second,
	}
}

// newTestClient makes a client with its own framework bus and records its
// events; it is closed when t ends. It does not start it.
func newTestClient(t testing.TB, cfg im.Config) *testClient {
	t.Helper()
	fw := csf.New(csf.Config{})
	cfg.Events = fw.Bus().NewPublisher("im")
	c, err := im.New(cfg)
	require.NoError(t, err)
	rec := &recorder{}
	rec.cond = sync.NewCond(&rec.mu)
	sub := fw.Bus().Subscribe(&csf.SubscribeOptions{QueueLen: 100000})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range sub.Events() {
			rec.mu.Lock()
			rec.events = append(rec.events, ev)
			rec.cond.Broadcast()
			rec.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		// A goodbye, so that the server does not keep the session for
		// resumption and route the user's messages to it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Shutdown(ctx)
		cancel()
		_ = c.Close()
		sub.Close()
		<-done
		_ = fw.Close()
	})
	return &testClient{Client: c, rec: rec, fw: fw}
}

// startClient makes and starts a client for user.
func startClient(t testing.TB, addr string, ca *lab.CA, user, password string, mod func(*im.Config)) *testClient {
	t.Helper()
	cfg := clientConfig(t, addr, ca, user, password)
	if mod != nil {
		mod(&cfg)
	}
	c := newTestClient(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	require.NoError(t, c.Start(ctx))
	return c
}

// waitFor waits for the first event of type E (from index 0) satisfying ok.
func waitFor[E csf.Event](t testing.TB, c *testClient, ok func(E) bool) E {
	t.Helper()
	r := c.rec
	deadline := time.Now().Add(waitTimeout)
	stop := context.AfterFunc(t.Context(), func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer stop()
	timer := time.AfterFunc(waitTimeout, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; ; {
		for ; i < len(r.events); i++ {
			if e, is := r.events[i].(E); is && (ok == nil || ok(e)) {
				return e
			}
		}
		if time.Now().After(deadline) || t.Context().Err() != nil {
			var zero E
			t.Fatalf("timed out waiting for %T", zero)
			return zero
		}
		r.cond.Wait()
	}
}

// all returns every recorded event of type E satisfying ok.
func all[E csf.Event](c *testClient, ok func(E) bool) []E {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	var out []E
	for _, ev := range c.rec.events {
		if e, is := ev.(E); is && (ok == nil || ok(e)) {
			out = append(out, e)
		}
	}
	return out
}

// waitCount waits until n events of type E satisfy ok.
func waitCount[E csf.Event](t testing.TB, c *testClient, n int, ok func(E) bool) []E {
	t.Helper()
	deadline := time.Now().Add(2 * waitTimeout)
	for {
		got := all(c, ok)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d events", len(got), n)
		}
		c.rec.mu.Lock()
		waitCond(c.rec, 200*time.Millisecond)
		c.rec.mu.Unlock()
	}
}

// waitCond waits on r.cond for at most d; r.mu is held.
func waitCond(r *recorder, d time.Duration) {
	t := time.AfterFunc(d, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	r.cond.Wait()
	t.Stop()
}

func jidOf(user string) string { return user + "@" + lab.Domain }
