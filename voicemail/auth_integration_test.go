package voicemail

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	gosasl "github.com/emersion/go-sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
)

// The login mechanisms against the lab's real servers: SCRAM where both
// sides can, PLAIN only after a verified SCRAM the server refused for
// go-imap's final response, never after a wrong password.

// authLog keeps the records the voicemail client logs while logging in.
type authLog struct {
	mu      sync.Mutex // guards records
	records []slog.Record
}

func (l *authLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *authLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *authLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *authLog) WithGroup(string) slog.Handler      { return l }

// attempts returns the mechanisms tried, in order.
func (l *authLog) attempts() []string {
	return l.values("voicemail authenticating", "mechanism")
}

// refusals returns the mechanisms a server refused after proving itself.
func (l *authLog) refusals() []string {
	return l.values("voicemail server refused go-imap's final SCRAM response; logging in again", "mechanism")
}

func (l *authLog) values(msg, key string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Message != msg {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				out = append(out, a.Value.String())
			}
			return true
		})
	}
	return out
}

// noSecrets fails t when a logged record holds the password.
func (l *authLog) noSecrets(t *testing.T, password string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		r.Attrs(func(a slog.Attr) bool {
			assert.NotContains(t, a.Value.String(), password, r.Message)
			return true
		})
	}
}

// checkGoIMAPMechanism checks how the go-imap session logged in: with
// SCRAM in both TLS modes (emptyResponseConn mends go-imap's final
// response), or, with the mending off (mended false), with PLAIN after
// the server refused that response.
func checkGoIMAPMechanism(t *testing.T, c *Conn, log *authLog, mended bool) {
	t.Helper()
	attempts := log.attempts()
	require.NotEmpty(t, attempts)
	assert.Equal(t, mechSCRAMSHA256, attempts[0], "SCRAM-SHA-256 first")
	if mended {
		assert.Equal(t, mechSCRAMSHA256, c.Mechanism())
		assert.Empty(t, log.refusals())
		return
	}
	assert.Equal(t, mechPlain, c.Mechanism())
	assert.Equal(t, []string{mechSCRAMSHA256}, log.refusals(), "PLAIN only after a verified SCRAM was refused")
}

// checkGoIMAPLogin dials cfg's server, mending go-imap's last SCRAM
// line or not, and checks how the session logged in, that the log holds
// no secret, and that the session works.
func checkGoIMAPLogin(t *testing.T, cfg Config, mended bool) {
	t.Helper()
	if !mended {
		unmended(t)
	}
	log := &authLog{}
	cfg.Logger = slog.New(log)
	c := dialLab(t, cfg)
	checkGoIMAPMechanism(t, c, log, mended)
	log.noSecrets(t, cfg.Password.Reveal())
	require.NoError(t, c.Noop(t.Context()), "the session works")
}

// unmended turns emptyResponseConn's mending off for the rest of t, so
// that go-imap's "=" reaches the server as a go-imap without the mending
// would send it.
func unmended(t *testing.T) {
	mendSCRAMEnd.Store(false)
	t.Cleanup(func() { mendSCRAMEnd.Store(true) })
}

// countLogins counts dovecot's log lines for logins of user with mech.
func countLogins(d *lab.DovecotServer, user, mech string) int {
	return strings.Count(d.Log(), "Login: user=<"+user+">, method="+mech+",")
}

func TestIntegrationAuthDovecot(t *testing.T) {
	d := lab.Dovecot(t, nil)
	require.NoError(t, d.Deliver("alice", buildMsg(msgSpec{Audio: testWAV(EncodingPCM, 8000, 0.5)})))

	for _, startTLS := range []bool{false, true} {
		name := map[bool]string{false: "implicit", true: "starttls"}[startTLS]
		t.Run("GoIMAP/"+name, func(t *testing.T) {
			checkGoIMAPLogin(t, labConfig(t, d, "alice", startTLS), true)
		})
		t.Run("GoIMAPUnmended/"+name, func(t *testing.T) {
			checkGoIMAPLogin(t, labConfig(t, d, "alice", startTLS), false)
		})
		t.Run("Raw/"+name, func(t *testing.T) {
			cfg, err := labConfig(t, d, "alice", startTLS).check()
			require.NoError(t, err)
			before := countLogins(d, cfg.UserName, mechSCRAMSHA256)
			rc, err := dialRaw(t.Context(), cfg)
			require.NoError(t, err)
			defer rc.close()
			assert.Equal(t, mechSCRAMSHA256, rc.mech)
			assert.EventuallyWithT(t, func(c *assert.CollectT) {
				assert.Greater(c, countLogins(d, cfg.UserName, mechSCRAMSHA256), before, "dovecot saw a SCRAM login")
			}, 15*time.Second, 20*time.Millisecond)
		})
	}

	t.Run("ListOverSCRAM", func(t *testing.T) {
		// Dovecot logs a login a moment after it: wait for the go-imap
		// session's, so that the one counted after is the listing's.
		base := countLogins(d, "alice@example.test", mechSCRAMSHA256)
		c := dialLab(t, labConfig(t, d, "alice", true))
		require.Equal(t, mechSCRAMSHA256, c.Mechanism())
		require.EventuallyWithT(t, func(col *assert.CollectT) {
			assert.Equal(col, base+1, countLogins(d, c.cfg.UserName, mechSCRAMSHA256))
		}, 15*time.Second, 20*time.Millisecond)
		before := base + 1
		list, err := c.List(t.Context())
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.True(t, list[0].HasAudio)
		// The listing's own session logged in with SCRAM: the raw path
		// was used, not go-imap's.
		assert.EventuallyWithT(t, func(col *assert.CollectT) {
			assert.Greater(col, countLogins(d, c.cfg.UserName, mechSCRAMSHA256), before)
		}, 15*time.Second, 20*time.Millisecond)
	})

	t.Run("WrongPassword", func(t *testing.T) {
		log := &authLog{}
		cfg := labConfig(t, d, "bob", false)
		cfg.Password = "not-bobs-password"
		cfg.Logger = slog.New(log)
		_, err := Dial(t.Context(), cfg)
		var ae *AuthError
		require.ErrorAs(t, err, &ae)
		assert.NotContains(t, err.Error(), "not-bobs-password")
		assert.Equal(t, []string{mechSCRAMSHA256}, log.attempts(), "no PLAIN after a refused SCRAM")
		assert.Empty(t, log.refusals())
		log.noSecrets(t, "not-bobs-password")
		assert.EventuallyWithT(t, func(c *assert.CollectT) {
			assert.Contains(c, d.Log(), "(auth failed, 1 attempts")
		}, 15*time.Second, 20*time.Millisecond)
		assert.Zero(t, countLogins(d, cfg.UserName, mechPlain), "bob never logged in with PLAIN")

		chk, err := cfg.check()
		require.NoError(t, err)
		_, err = dialRaw(t.Context(), chk)
		assert.ErrorIs(t, err, errRawUnsupported, "a refused raw login hands the listing to go-imap")
	})
}

func TestIntegrationAuthCyrus(t *testing.T) {
	cy := lab.Cyrus(t, nil)
	cyrusDeliver(t, cy, "alice", buildMsg(msgSpec{Audio: testWAV(EncodingPCM, 8000, 0.5)}))

	for _, startTLS := range []bool{false, true} {
		name := map[bool]string{false: "implicit", true: "starttls"}[startTLS]
		t.Run("GoIMAP/"+name, func(t *testing.T) {
			checkGoIMAPLogin(t, cyrusConfig(t, cy, "alice", startTLS), true)
		})
		t.Run("Raw/"+name, func(t *testing.T) {
			cfg, err := cyrusConfig(t, cy, "alice", startTLS).check()
			require.NoError(t, err)
			rc, err := dialRaw(t.Context(), cfg)
			require.NoError(t, err)
			defer rc.close()
			assert.Equal(t, mechSCRAMSHA256, rc.mech, "an empty line ends SCRAM for Cyrus")
			snap, err := rawList(t.Context(), cfg, false)
			require.NoError(t, err)
			assert.Len(t, snap.Messages, 1)
		})
	}

	t.Run("GoIMAPUnmended", func(t *testing.T) {
		checkGoIMAPLogin(t, cyrusConfig(t, cy, "alice", false), false)
	})

	t.Run("WrongPassword", func(t *testing.T) {
		log := &authLog{}
		cfg := cyrusConfig(t, cy, "bob", false)
		cfg.Password = "not-bobs-password"
		cfg.Logger = slog.New(log)
		_, err := Dial(t.Context(), cfg)
		var ae *AuthError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, []string{mechSCRAMSHA256}, log.attempts(), "no PLAIN after a refused SCRAM")
		assert.Empty(t, log.refusals())

		chk, err := cfg.check()
		require.NoError(t, err)
		_, err = dialRaw(t.Context(), chk)
		assert.ErrorIs(t, err, errRawUnsupported)
	})
}

// BenchmarkIntegrationLogin measures a connect and login over implicit
// TLS against dovecot and Cyrus: our raw session's SCRAM-SHA-256, Dial
// (go-imap session with SCRAM, then SELECT), Dial under STARTTLS (the
// same after our own STARTTLS), and as
// the peer a plain go-imap client logging in with PLAIN over implicit
// TLS. Compare ns/op within one run.
func BenchmarkIntegrationLogin(b *testing.B) {
	d := lab.Dovecot(b, nil)
	cy := lab.Cyrus(b, nil)
	for _, srv := range []struct {
		name string
		cfg  Config
	}{{"dovecot", labConfig(b, d, "alice", false)}, {"cyrus", cyrusConfig(b, cy, "alice", false)}} {
		cfg, err := srv.cfg.check()
		require.NoError(b, err)
		b.Run(srv.name+"/goimap-plain", func(b *testing.B) {
			for b.Loop() {
				c, err := imapclient.DialTLS(cfg.Server, &imapclient.Options{TLSConfig: cfg.TLS})
				require.NoError(b, err)
				require.NoError(b, c.Authenticate(gosasl.NewPlainClient("", cfg.UserName, cfg.Password.Reveal())))
				c.Close()
			}
		})
		b.Run(srv.name+"/raw-scram", func(b *testing.B) {
			for b.Loop() {
				rc, err := dialRaw(b.Context(), cfg)
				require.NoError(b, err)
				require.Equal(b, mechSCRAMSHA256, rc.mech)
				rc.close()
			}
		})
		b.Run(srv.name+"/dial", func(b *testing.B) {
			for b.Loop() {
				c, err := Dial(b.Context(), cfg)
				require.NoError(b, err)
				require.Equal(b, mechSCRAMSHA256, c.Mechanism())
				c.Close()
			}
		})
		b.Run(srv.name+"/dial-starttls", func(b *testing.B) {
			st := srv.cfg
			st.Server, st.TLSMode = map[string]string{"dovecot": d.Addr, "cyrus": cy.Addr}[srv.name], TLSStartTLS
			for b.Loop() {
				c, err := Dial(b.Context(), st)
				require.NoError(b, err)
				require.Equal(b, mechSCRAMSHA256, c.Mechanism())
				c.Close()
			}
		})
	}
}
