package softphone_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
)

// testPhone is a phone with its own event subscription.
type testPhone struct {
	*softphone.Phone
	events <-chan csf.Event
}

var sharedKam *lab.KamailioServer

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SOFTPHONE_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

func newPhone(t testing.TB, k *lab.KamailioServer, user, password, transport string, mod func(*softphone.Config)) *testPhone {
	t.Helper()
	reg := k.UDPAddr
	if transport == "tls" {
		reg = k.TLSAddr
	}
	return newPhoneAt(t, reg, user, password, transport, func(c *softphone.Config) {
		c.TLS = k.CA().ClientTLS(k.Domain)
		if mod != nil {
			mod(c)
		}
	})
}

// newPhoneAt makes a phone whose registrar or outbound proxy is reg.
func newPhoneAt(t testing.TB, reg, user, password, transport string, mod func(*softphone.Config)) *testPhone {
	t.Helper()
	fw := csf.New(csf.Config{})
	t.Cleanup(func() { fw.Close() })
	sub := fw.Subscribe(&csf.SubscribeOptions{QueueLen: 4096})
	t.Cleanup(sub.Close)
	cfg := softphone.Config{
		Account:   softphone.Account{User: user, Domain: "example.test", Password: config.Secret(password)},
		Registrar: reg,
		Transport: transport,
		Expires:   60 * time.Second,
		Logger:    testLogger(t),
		Events:    fw.Bus().NewPublisher("softphone"),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := softphone.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return &testPhone{Phone: p, events: sub.Events()}
}

func password(user string) string {
	return map[string]string{"alice": "secret1", "bob": "secret2", "carol": "secret3"}[user]
}

// waitFor returns the next event of type E matching ok, failing t after
// the timeout.
func waitFor[E csf.Event](t testing.TB, p *testPhone, timeout time.Duration, ok func(E) bool) E {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	for {
		select {
		case ev := <-p.events:
			if e, is := ev.(E); is && (ok == nil || ok(e)) {
				return e
			}
		case <-ctx.Done():
			var zero E
			t.Fatalf("no %T within %v", zero, timeout)
			return zero
		}
	}
}
