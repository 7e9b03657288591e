package voicemail

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
)

// The mechanisms below SCRAM-SHA-256 against a real dovecot that offers
// nothing better, so that the client must take them: SCRAM-SHA-1, and
// PLAIN (inside TLS). The lab's default dovecot offers SCRAM-SHA-256 too,
// which the client would always pick (auth_integration_test.go).

// mechDovecot starts a dovecot offering only mechs (dovecot's names),
// with one voicemail in the INBOX of each of alice and bob.
func mechDovecot(t *testing.T, mechs ...string) *lab.DovecotServer {
	t.Helper()
	d := lab.Dovecot(t, &lab.DovecotOptions{AuthMechanisms: mechs})
	for _, u := range []string{"alice", "bob"} {
		require.NoError(t, d.Deliver(u, buildMsg(msgSpec{Audio: testWAV(EncodingMuLaw, 8000, 1.5)})))
	}
	return d
}

// logWait bounds the wait for a line in dovecot's log. Lines come
// within a millisecond, but once here only after 5 s (dovecot's log
// process stalled: the lines of the start-up probes came as late).
const logWait = 15 * time.Second

// waitLogins waits until dovecot has logged exactly want logins of user
// with mech: dovecot writes the line a moment after the login.
func waitLogins(t *testing.T, d *lab.DovecotServer, user, mech string, want int, msgAndArgs ...any) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, want, countLogins(d, user, mech), msgAndArgs...)
	}, logWait, 20*time.Millisecond)
}

// checkMechSessions logs user in with cfg and checks that every session
// the client opens uses mech, counting the logins dovecot saw (the user
// must not have logged in before): the go-imap session of Dial, the raw
// session of a full listing (which the QRESYNC re-sync then reuses), and
// a raw session dialled directly. A raw login the server refused would
// not fail the listing (it falls back to go-imap) but would miss a count.
func checkMechSessions(t *testing.T, d *lab.DovecotServer, cfg Config, mech string) {
	t.Helper()
	log := &authLog{}
	cfg.Logger = slog.New(log)
	c := dialLab(t, cfg)
	assert.Equal(t, mech, c.Mechanism())
	assert.Equal(t, []string{mech}, log.attempts(), "the best mechanism offered, first try")
	assert.Empty(t, log.refusals())
	waitLogins(t, d, cfg.UserName, mech, 1, "Dial")

	snap, err := c.Sync(t.Context(), nil)
	require.NoError(t, err)
	require.Len(t, snap.Messages, 1)
	v := snap.Messages[0]
	assert.Equal(t, "Bob Smith", v.CallerName)
	assert.Equal(t, "5551234", v.CallerNumber)
	assert.Equal(t, time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC), v.Date.UTC())
	assert.True(t, v.HasAudio)
	assert.Equal(t, EncodingMuLaw, v.Format.Encoding)
	assert.Equal(t, 1500*time.Millisecond, v.Duration)
	assert.False(t, v.Heard)
	assert.NoError(t, v.Err)
	waitLogins(t, d, cfg.UserName, mech, 2, "the listing's raw session")

	require.True(t, c.Caps().QResync, "dovecot offers QRESYNC")
	require.NoError(t, d.Deliver(cfg.UserName, buildMsg(msgSpec{Audio: testWAV(EncodingPCM, 8000, 0.5),
		From: `"Carol Jones" <5550001@vm.example.test>`})))
	q0 := c.qresyncs.Load()
	next, err := c.Sync(t.Context(), snap)
	require.NoError(t, err)
	assert.Equal(t, q0+1, c.qresyncs.Load(), "synced with QRESYNC")
	require.Len(t, next.Messages, 2)
	assert.Equal(t, v.ID, next.Messages[0].ID)
	assert.Equal(t, "Carol Jones", next.Messages[1].CallerName)
	assert.Equal(t, 500*time.Millisecond, next.Messages[1].Duration)
	assert.Equal(t, int64(1), c.rawDials.Load(), "the re-sync ran on the listing's session")
	waitLogins(t, d, cfg.UserName, mech, 2, "no login for the re-sync")

	chk, err := cfg.check()
	require.NoError(t, err)
	rc, err := dialRaw(t.Context(), chk)
	require.NoError(t, err)
	assert.Equal(t, mech, rc.mech)
	rc.close()
	waitLogins(t, d, cfg.UserName, mech, 3, "dialRaw")
	log.noSecrets(t, cfg.Password.Reveal())
}

func TestIntegrationMechSCRAMSHA1(t *testing.T) {
	d := mechDovecot(t, "scram-sha-1")

	for _, tc := range []struct {
		name, user string
		startTLS   bool
	}{{"implicit", "alice", false}, {"starttls", "bob", true}} {
		t.Run(tc.name, func(t *testing.T) {
			checkMechSessions(t, d, labConfig(t, d, tc.user, tc.startTLS), mechSCRAMSHA1)
		})
	}

	t.Run("GoIMAPUnmended", func(t *testing.T) {
		// go-imap's "=" for SCRAM's empty final response reaches dovecot,
		// which refuses it after proving itself. The one retry allowed
		// then has nothing to take: no PLAIN, and dovecot announces
		// LOGINDISABLED when PLAIN is not among its mechanisms. So the
		// login fails, and the password is never sent.
		unmended(t)
		log := &authLog{}
		cfg := labConfig(t, d, "carol", false)
		cfg.Logger = slog.New(log)
		_, err := Dial(t.Context(), cfg)
		var ae *AuthError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, []string{mechSCRAMSHA1}, log.attempts())
		assert.Empty(t, log.refusals(), "no second login")
		log.noSecrets(t, cfg.Password.Reveal())
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			assert.Contains(c, d.Log(), "(sent invalid base64 in response): user=<>, method=SCRAM-SHA-1,")
		}, logWait, 20*time.Millisecond)
		assert.Zero(t, countLogins(d, cfg.UserName, mechPlain))
	})

	t.Run("WrongPassword", func(t *testing.T) {
		// Each on a server of its own: dovecot's auth penalty makes every
		// failed login from 127.0.0.1 wait longer (2 s, 6 s, 10 s, ...).
		// With PLAIN on offer too a retry would have somewhere to go.
		for _, tc := range []struct {
			name          string
			mechs         []string
			startTLS, raw bool
		}{
			{"implicit", []string{"scram-sha-1"}, false, false},
			{"starttls", []string{"scram-sha-1"}, true, false},
			{"raw", []string{"scram-sha-1"}, false, true},
			{"withPlain", []string{"scram-sha-1", "plain"}, false, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				checkSCRAMSHA1WrongPassword(t, tc.mechs, tc.startTLS, tc.raw)
			})
		}
	})
}

// checkSCRAMSHA1WrongPassword logs in once with a wrong password to a
// dovecot offering SCRAM-SHA-1 and maybe PLAIN (mechs): refused as an
// *AuthError (go-imap session) or errRawUnsupported (raw session, whose
// listing then goes through go-imap), after exactly one SCRAM-SHA-1
// attempt. A refusal before the server proved itself is final: the
// password is not sent with PLAIN, nor with the LOGIN command.
func checkSCRAMSHA1WrongPassword(t *testing.T, mechs []string, startTLS, raw bool) {
	const wrong = "not-carols-password"
	d := lab.Dovecot(t, &lab.DovecotOptions{AuthMechanisms: mechs})
	if !raw {
		// The right password first: SCRAM-SHA-1 is preferred to PLAIN.
		c := dialLab(t, labConfig(t, d, "alice", startTLS))
		assert.Equal(t, mechSCRAMSHA1, c.Mechanism())
	}
	log := &authLog{}
	cfg := labConfig(t, d, "carol", startTLS)
	cfg.Password = wrong
	cfg.Logger = slog.New(log)
	if raw {
		chk, err := cfg.check()
		require.NoError(t, err)
		_, err = dialRaw(t.Context(), chk)
		require.ErrorIs(t, err, errRawUnsupported, "a refused raw login hands the listing to go-imap")
		assert.NotContains(t, err.Error(), wrong)
	} else {
		_, err := Dial(t.Context(), cfg)
		var ae *AuthError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, cfg.UserName, ae.User)
		assert.NotContains(t, err.Error(), wrong)
		assert.Equal(t, []string{mechSCRAMSHA1}, log.attempts(), "one try")
		assert.Empty(t, log.refusals())
		log.noSecrets(t, wrong)
	}
	// dovecot logs the failure when the client hangs up.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, d.Log(), "(auth failed, 1 attempts")
	}, logWait, 20*time.Millisecond)
	var failed []string
	for _, line := range strings.Split(d.Log(), "\n") {
		if strings.Contains(line, "user=<"+cfg.UserName+">") {
			failed = append(failed, line)
		}
	}
	require.Len(t, failed, 1, "one connection: no new one after the refusal")
	assert.Contains(t, failed[0], "(auth failed, 1 attempts", "no second attempt on the connection")
	assert.Contains(t, failed[0], "method=SCRAM-SHA-1,")
	assert.Zero(t, countLogins(d, cfg.UserName, mechPlain))
}

func TestIntegrationMechPlain(t *testing.T) {
	d := mechDovecot(t, "plain")

	for _, tc := range []struct {
		name, user string
		startTLS   bool
	}{{"implicit", "alice", false}, {"starttls", "bob", true}} {
		t.Run(tc.name, func(t *testing.T) {
			checkMechSessions(t, d, labConfig(t, d, tc.user, tc.startTLS), mechPlain)
		})
	}
}
