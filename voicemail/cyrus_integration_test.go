package voicemail

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
)

// The voicemail client against Cyrus IMAP 3.6, the lab's second real IMAP
// server: the same operations as against dovecot (integration_test.go,
// mailbox_test.go, qresync_test.go), with messages delivered the way a
// voicemail system hands them to Cyrus, by LMTP.

func cyrusConfig(t testing.TB, cy *lab.CyrusServer, user string, startTLS bool) Config {
	t.Helper()
	var u lab.User
	for _, x := range cy.Users() {
		if x.Name == user {
			u = x
		}
	}
	require.NotEmpty(t, u.Email, "no lab user %s", user)
	trust, err := csf.LoadTrust(cy.CA().CertFile, false)
	require.NoError(t, err)
	cfg := Config{Server: cy.TLSAddr, UserName: u.Email, Password: config.Secret(u.Password), Trust: trust}
	if startTLS {
		cfg.Server, cfg.TLSMode = cy.Addr, TLSStartTLS
	}
	return cfg
}

// cyrusOther logs in to Cyrus with a plain go-imap client, as another
// client of the same user (or the voicemail system) would.
func cyrusOther(t testing.TB, cy *lab.CyrusServer, cfg Config) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(cy.TLSAddr, &imapclient.Options{TLSConfig: cy.CA().ClientTLS("example.test")})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Login(cfg.UserName, cfg.Password.Reveal()).Wait())
	return c
}

func cyrusDeliver(t testing.TB, cy *lab.CyrusServer, user string, raw []byte) {
	t.Helper()
	require.NoError(t, cy.Deliver(t.Context(), user, raw))
}

func TestIntegrationCyrusConn(t *testing.T) {
	cy := lab.Cyrus(t, nil)

	wavPCM := testWAV(EncodingPCM, 8000, 1.5)
	wavMu := testWAV(EncodingMuLaw, 8000, 2.0)
	for _, m := range sampleMessages() {
		cyrusDeliver(t, cy, "alice", m)
	}

	for _, mode := range []struct {
		name            string
		startTLS, noRaw bool
	}{{"implicit", false, false}, {"starttls", true, false}, {"implicit-goimap", false, true}, {"starttls-goimap", true, true}} {
		t.Run("List/"+mode.name, func(t *testing.T) {
			c := dialLab(t, cyrusConfig(t, cy, "alice", mode.startTLS))
			c.noRaw = mode.noRaw
			list, err := c.List(t.Context())
			require.NoError(t, err)
			checkSampleList(t, list)
			assert.True(t, c.Caps().QResync, "Cyrus offers QRESYNC")
		})
	}

	t.Run("FetchDecode", func(t *testing.T) {
		c := dialLab(t, cyrusConfig(t, cy, "alice", false))
		list, err := c.List(t.Context())
		require.NoError(t, err)
		checkSampleAudio(t, c, list)
	})

	t.Run("HeardUnheard", func(t *testing.T) {
		c := dialLab(t, cyrusConfig(t, cy, "alice", false))
		list, err := c.List(t.Context())
		require.NoError(t, err)
		require.NoError(t, c.SetHeard(t.Context(), list[0].ID, true))
		again, err := c.Sync(t.Context(), &Snapshot{UIDValidity: 0})
		require.NoError(t, err)
		assert.True(t, again.Messages[0].Heard)
		// Another client sees the \Seen flag the voicemail client set.
		other := cyrusOther(t, cy, cyrusConfig(t, cy, "alice", false))
		_, err = other.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
		require.NoError(t, err)
		got, err := other.Fetch(imap.UIDSetNum(imap.UID(list[0].ID)), &imap.FetchOptions{Flags: true}).Collect()
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Contains(t, got[0].Flags, imap.FlagSeen)

		require.NoError(t, c.SetHeard(t.Context(), list[0].ID, false))
		list, err = c.List(t.Context())
		require.NoError(t, err)
		assert.False(t, list[0].Heard)
		assert.ErrorIs(t, c.SetHeard(t.Context(), 9999, true), ErrNotFound)
	})

	t.Run("DeleteExpunge", func(t *testing.T) {
		// Cyrus makes no Trash: Delete flags \Deleted and expunges.
		cfg := cyrusConfig(t, cy, "carol", false)
		cyrusDeliver(t, cy, "carol", buildMsg(msgSpec{Audio: wavPCM}))
		checkDeleteExpunges(t, dialLab(t, cfg))
	})

	t.Run("DeleteUndeleteTrash", func(t *testing.T) {
		cfg := cyrusConfig(t, cy, "bob", true)
		// A Trash made the way a mail client makes it, marked \Trash (RFC 6154).
		other := cyrusOther(t, cy, cfg)
		require.NoError(t, other.Create("Trash", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrTrash}}).Wait())
		cyrusDeliver(t, cy, "bob", buildMsg(msgSpec{Audio: wavMu}))
		cyrusDeliver(t, cy, "bob", buildMsg(msgSpec{Audio: wavPCM}))
		checkDeleteToTrash(t, dialLab(t, cfg))
	})

	t.Run("QResync", func(t *testing.T) {
		cfg := cyrusConfig(t, cy, "alice", false)
		c := dialLab(t, cfg)
		first, err := c.Sync(t.Context(), nil)
		require.NoError(t, err)
		require.NotZero(t, first.HighestModSeq)
		ids := first.Messages
		require.GreaterOrEqual(t, len(ids), 5)
		// While nobody looks: one heard, one expunged, one new.
		other := cyrusOther(t, cy, cfg)
		_, err = other.Select("INBOX", nil).Wait()
		require.NoError(t, err)
		require.NoError(t, other.Store(imap.UIDSetNum(imap.UID(ids[1].ID)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close())
		require.NoError(t, other.Store(imap.UIDSetNum(imap.UID(ids[3].ID)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
		require.NoError(t, other.UIDExpunge(imap.UIDSetNum(imap.UID(ids[3].ID))).Close())
		cyrusDeliver(t, cy, "alice", buildMsg(msgSpec{Audio: testWAV(EncodingPCM, 8000, 2), From: `"Newer" <5550201@vm.example.test>`}))

		q0 := c.qresyncs.Load()
		next, err := c.Sync(t.Context(), first)
		require.NoError(t, err)
		assert.Equal(t, q0+1, c.qresyncs.Load(), "synced with QRESYNC")
		fresh, err := c.Sync(t.Context(), nil)
		require.NoError(t, err)
		assert.Equal(t, fresh.Messages, next.Messages, "QRESYNC agrees with a listing from scratch")
		assert.Len(t, next.Messages, len(ids))
		_, found := next.Find(ids[3].ID)
		assert.False(t, found, "expunged message dropped")
		v, _ := next.Find(ids[1].ID)
		assert.True(t, v.Heard)
		last := next.Messages[len(next.Messages)-1]
		assert.Equal(t, "5550201", last.CallerNumber)
		assert.Equal(t, 2*time.Second, last.Duration)
	})

	t.Run("ServerAgreesWithParseMessage", func(t *testing.T) {
		// Cyrus's BODYSTRUCTURE and header fetches against our own parser, on
		// the field samples, stored by IMAP APPEND in a folder of their own.
		cfg := cyrusConfig(t, cy, "carol", false)
		cfg.Folder = "Voice Messages"
		other := cyrusOther(t, cy, cfg)
		require.NoError(t, other.Create(cfg.Folder, nil).Wait())
		files, err := filepath.Glob("testdata/*.eml")
		require.NoError(t, err)
		require.NotEmpty(t, files)
		want := map[string]Voicemail{}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			w := other.Append(cfg.Folder, int64(len(raw)), nil)
			_, err = w.Write(raw)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			_, err = w.Wait()
			require.NoError(t, err)
			v, _, _ := ParseMessage(bytes.NewReader(raw))
			want[v.Subject] = v
		}
		for _, noRaw := range []bool{false, true} {
			c := dialLab(t, cfg)
			c.noRaw = noRaw
			list, err := c.List(t.Context())
			require.NoError(t, err)
			require.Len(t, list, len(files))
			for _, got := range list {
				w, ok := want[got.Subject]
				require.True(t, ok, "subject %q", got.Subject)
				assert.Equal(t, w.CallerName, got.CallerName, got.Subject)
				assert.Equal(t, w.CallerNumber, got.CallerNumber, got.Subject)
				assert.Equal(t, w.Duration, got.Duration, got.Subject)
				assert.Equal(t, w.Format, got.Format, got.Subject)
				assert.Equal(t, w.Urgent, got.Urgent, got.Subject)
				assert.Equal(t, w.Private, got.Private, got.Subject)
				assert.True(t, w.Date.Equal(got.Date), got.Subject)
				assert.Equal(t, w.HasAudio, got.HasAudio, got.Subject)
				assert.Equal(t, errors.Is(w.Err, ErrNoAudio), errors.Is(got.Err, ErrNoAudio), got.Subject)
			}
		}
	})

	t.Run("BadPassword", func(t *testing.T) {
		cfg := cyrusConfig(t, cy, "alice", false)
		cfg.Password = "wrong"
		_, err := Dial(t.Context(), cfg)
		var ae *AuthError
		assert.ErrorAs(t, err, &ae)
		assert.NotContains(t, err.Error(), "wrong")
	})

	t.Run("NoFolder", func(t *testing.T) {
		cfg := cyrusConfig(t, cy, "alice", false)
		cfg.Folder = "Voicemail"
		_, err := Dial(t.Context(), cfg)
		assert.ErrorIs(t, err, ErrNoMailbox)
	})
}

func TestIntegrationCyrusMailbox(t *testing.T) {
	cy := lab.Cyrus(t, nil)
	wav := testWAV(EncodingMuLaw, 8000, 1)

	t.Run("IdleNotificationLMTP", func(t *testing.T) {
		cfg := cyrusConfig(t, cy, "alice", false)
		cyrusDeliver(t, cy, "alice", buildMsg(msgSpec{Audio: wav}))
		_, sub, m := startMailbox(t, cfg)
		c := waitFor[CountChanged](t, sub, 5*time.Second)
		assert.Equal(t, 1, c.Unheard)

		var lat []time.Duration
		for i := range 5 {
			began := time.Now()
			cyrusDeliver(t, cy, "alice", buildMsg(msgSpec{Audio: wav, From: `"Fay" <5550177@vm.example.test>`}))
			ev := waitFor[MessageArrived](t, sub, 10*time.Second)
			lat = append(lat, time.Since(began))
			assert.Equal(t, "5550177", ev.Message.CallerNumber)
			assert.Equal(t, "Fay", ev.Message.CallerName)
			assert.Equal(t, time.Second, ev.Message.Duration)
			assert.False(t, ev.Message.Heard)
			cc := waitFor[CountChanged](t, sub, 5*time.Second)
			assert.Equal(t, i+2, cc.Total)
		}
		slices.Sort(lat)
		// Not the idle latency (BenchmarkIntegrationNotifyCyrus measures it):
		// a delivery right after an event may land between two IDLEs.
		t.Logf("LMTP delivery to MessageArrived: median %v, min %v, max %v", lat[len(lat)/2], lat[0], lat[len(lat)-1])

		// Heard and deleted through the service: the IDLE session hears both.
		list := m.Messages()
		require.NoError(t, m.SetHeard(t.Context(), list[0].ID, true))
		ch := waitFor[MessageChanged](t, sub, 5*time.Second)
		assert.True(t, ch.Message.Heard)
		_, err := m.Delete(t.Context(), list[1].ID)
		require.NoError(t, err)
		rm := waitFor[MessageRemoved](t, sub, 5*time.Second)
		assert.Equal(t, list[1].ID, rm.ID)
	})

	t.Run("ResyncAfterRestart", func(t *testing.T) {
		cfg := cyrusConfig(t, cy, "bob", false)
		// Slow enough to reconnect that the changes below are made while
		// the client is away: the re-sync, not IDLE, must find them.
		cfg.ReconnectBase, cfg.ReconnectMax = time.Second, 2*time.Second
		cyrusDeliver(t, cy, "bob", buildMsg(msgSpec{Audio: wav}))
		cyrusDeliver(t, cy, "bob", buildMsg(msgSpec{Audio: wav}))
		_, sub, m := startMailbox(t, cfg)
		waitFor[CountChanged](t, sub, 5*time.Second)
		before := m.Messages()
		n := len(before)
		require.GreaterOrEqual(t, n, 2)
		require.NoError(t, cy.Restart(t.Context()))
		// While we reconnect: one message arrives, another client expunges
		// the first and marks the last heard.
		cyrusDeliver(t, cy, "bob", buildMsg(msgSpec{Audio: wav, From: `"Gil" <5550123@vm.example.test>`}))
		other := cyrusOther(t, cy, mustCheck(t, cfg))
		_, err := other.Select("INBOX", nil).Wait()
		require.NoError(t, err)
		require.NoError(t, other.Store(imap.UIDSetNum(imap.UID(before[0].ID)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
		require.NoError(t, other.UIDExpunge(imap.UIDSetNum(imap.UID(before[0].ID))).Close())
		require.NoError(t, other.Store(imap.UIDSetNum(imap.UID(before[n-1].ID)),
			&imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close())

		rm := waitFor[MessageRemoved](t, sub, 20*time.Second)
		assert.Equal(t, before[0].ID, rm.ID)
		ev := waitFor[MessageArrived](t, sub, 5*time.Second)
		assert.Equal(t, "5550123", ev.Message.CallerNumber)
		assert.Greater(t, ev.Message.ID, before[n-1].ID)
		assert.Len(t, m.Messages(), n)
		h := m.Health()
		assert.GreaterOrEqual(t, h.Counters["reconnects"], int64(1))
		assert.GreaterOrEqual(t, h.Counters["qresync_syncs"], int64(1), "the re-sync used QRESYNC")
		require.Eventually(t, func() bool {
			v, ok := (&Snapshot{Messages: m.Messages()}).Find(before[n-1].ID)
			return ok && v.Heard
		}, 5*time.Second, 20*time.Millisecond, "the flag set while we were away is in the list")
	})
}
