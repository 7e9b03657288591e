package voicemail

import (
	"bytes"
	"github.com/emersion/go-imap/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
)

// waitFor returns the next event of type E, skipping others.
func waitFor[E csf.Event](t testing.TB, sub *csf.Subscription, within time.Duration) E {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case ev := <-sub.Events():
			if e, ok := ev.(E); ok {
				return e
			}
		case <-timer.C:
			var zero E
			t.Fatalf("no %T within %s", zero, within)
			return zero
		case <-t.Context().Done():
			t.FailNow()
		}
	}
}

func startMailbox(t testing.TB, cfg Config) (*csf.Framework, *csf.Subscription, *Mailbox) {
	t.Helper()
	fw := csf.New(csf.Config{})
	require.NoError(t, fw.Register(Spec(cfg)))
	sub := fw.Subscribe(&csf.SubscribeOptions{QueueLen: 1024})
	t.Cleanup(func() {
		sub.Close()
		fw.Close()
	})
	require.NoError(t, fw.Start(t.Context()))
	svc, ok := fw.Service("voicemail")
	require.True(t, ok)
	m := svc.(*Mailbox)
	require.True(t, m.Health().Healthy, "%+v", m.Health())
	return fw, sub, m
}

func TestIntegrationMailbox(t *testing.T) {
	d := lab.Dovecot(t, nil)
	wav := testWAV(EncodingMuLaw, 8000, 1)

	t.Run("IdleNotification", func(t *testing.T) {
		cfg := labConfig(t, d, "alice", false)
		require.NoError(t, d.Deliver("alice", buildMsg(msgSpec{Audio: wav})))
		_, sub, m := startMailbox(t, cfg)
		c := waitFor[CountChanged](t, sub, 5*time.Second)
		assert.Equal(t, 1, c.Unheard)
		assert.Len(t, m.Messages(), 1)
		// The QRESYNC session is dialled before the first new message
		// needs it, not on its notification path.
		assert.Eventually(t, func() bool {
			m.mu.Lock()
			defer m.mu.Unlock()
			return m.watch != nil && m.watch.raw.Load() != nil
		}, 5*time.Second, 10*time.Millisecond)

		var lat, client []time.Duration
		for i := range 15 {
			began := time.Now()
			require.NoError(t, d.Deliver("alice", buildMsg(msgSpec{Audio: wav, From: `"Dan" <5550100@vm.example.test>`})))
			ev := waitFor[MessageArrived](t, sub, 10*time.Second)
			lat = append(lat, time.Since(began))
			m.mu.Lock()
			w := m.watch
			m.mu.Unlock()
			if w != nil {
				client = append(client, ev.Header().Time.Sub(time.Unix(0, w.lastNotify.Load())))
			}
			assert.Equal(t, "5550100", ev.Message.CallerNumber)
			assert.Equal(t, time.Second, ev.Message.Duration)
			cc := waitFor[CountChanged](t, sub, 5*time.Second)
			assert.Equal(t, i+2, cc.Unheard)
		}
		slices.Sort(lat)
		slices.Sort(client)
		// Delivered right after the previous event, most messages land
		// before the next IDLE and are reported at once: these are not
		// the idle latencies (BenchmarkIntegrationNotify measures those).
		t.Logf("delivery to MessageArrived: median %v, min %v, max %v; server notification to event: median %v",
			lat[len(lat)/2], lat[0], lat[len(lat)-1], client[len(client)/2])

		// Heard through the service: the IDLE session sees the flag change.
		list := m.Messages()
		require.NoError(t, m.SetHeard(t.Context(), list[0].ID, true))
		ch := waitFor[MessageChanged](t, sub, 5*time.Second)
		assert.True(t, ch.Message.Heard)
		cc := waitFor[CountChanged](t, sub, 5*time.Second)
		assert.Equal(t, len(list)-1, cc.Unheard)

		_, err := m.Delete(t.Context(), list[1].ID)
		require.NoError(t, err)
		rm := waitFor[MessageRemoved](t, sub, 5*time.Second)
		assert.Equal(t, list[1].ID, rm.ID)

		a, err := m.Audio(t.Context(), list[2].ID)
		require.NoError(t, err)
		dec, err := NewDecoder(a)
		require.NoError(t, err)
		st, err := Measure(dec)
		require.NoError(t, err)
		require.NoError(t, a.Close())
		assert.Equal(t, time.Second, st.Duration)
		h := m.Health()
		assert.NotNil(t, h.TLS)
		assert.EqualValues(t, len(list)-1, h.Counters["messages"])
	})

	t.Run("IdleNotificationDoveadmSave", func(t *testing.T) {
		if _, err := exec.LookPath("doveadm"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("doveadm is not installed (CI=true: a missing server is a failure)")
			}
			t.Skip("doveadm is not installed")
		}
		cfg := labConfig(t, d, "carol", false)
		_, sub, m := startMailbox(t, cfg)
		waitFor[CountChanged](t, sub, 5*time.Second)
		n := len(m.Messages())
		var lat []time.Duration
		for range 7 {
			began := time.Now()
			doveadmSave(t, d, "carol@example.test", buildMsg(msgSpec{Audio: wav, From: `"Eve" <5550142@vm.example.test>`}))
			ev := waitFor[MessageArrived](t, sub, 10*time.Second)
			lat = append(lat, time.Since(began))
			assert.Equal(t, "5550142", ev.Message.CallerNumber)
		}
		assert.Len(t, m.Messages(), n+7)
		slices.Sort(lat)
		t.Logf("doveadm save start to MessageArrived: median %v, min %v, max %v", lat[len(lat)/2], lat[0], lat[len(lat)-1])
	})

	// Delivered through dovecot's own delivery agents, the way voicemail
	// systems hand over messages: listed, with the new-message event.
	for _, path := range []struct {
		name, user string
		deliver    func(t *testing.T, email string, raw []byte)
	}{
		{"LMTP", "bob", func(t *testing.T, email string, raw []byte) {
			require.NoError(t, d.DeliverLMTP(t.Context(), email, raw))
		}},
		{"LDA", "carol", func(t *testing.T, email string, raw []byte) { deliverLDA(t, d, email, raw) }},
	} {
		t.Run("IdleNotification"+path.name, func(t *testing.T) {
			if path.name == "LMTP" && d.LMTPAddr == "" {
				if os.Getenv("CI") == "true" {
					t.Fatal("dovecot-lmtpd is not installed (CI=true: a missing server is a failure)")
				}
				t.Skip("dovecot-lmtpd is not installed")
			}
			cfg := labConfig(t, d, path.user, false)
			_, sub, m := startMailbox(t, cfg)
			n := len(m.Messages())
			for i := range 3 {
				path.deliver(t, mustCheck(t, cfg).UserName, buildMsg(msgSpec{Audio: wav, From: `"Fay" <5550177@vm.example.test>`}))
				ev := waitFor[MessageArrived](t, sub, 10*time.Second)
				assert.Equal(t, "5550177", ev.Message.CallerNumber)
				assert.Equal(t, "Fay", ev.Message.CallerName)
				assert.Equal(t, time.Second, ev.Message.Duration)
				assert.False(t, ev.Message.Heard)
				cc := waitFor[CountChanged](t, sub, 5*time.Second)
				assert.Equal(t, n+i+1, cc.Total)
			}
			list, err := dialLab(t, cfg).List(t.Context())
			require.NoError(t, err)
			assert.Len(t, list, n+3)
		})
	}

	t.Run("IdleReissue", func(t *testing.T) {
		cfg := labConfig(t, d, "bob", false)
		cfg.IdleRefresh = 100 * time.Millisecond
		_, sub, m := startMailbox(t, cfg)
		n := len(m.Messages())
		// Cross several re-issues before delivering.
		timer := time.NewTimer(500 * time.Millisecond)
		select {
		case <-timer.C:
		case <-t.Context().Done():
		}
		require.NoError(t, d.Deliver("bob", buildMsg(msgSpec{Audio: wav})))
		waitFor[MessageArrived](t, sub, 10*time.Second)
		assert.Len(t, m.Messages(), n+1)
		assert.True(t, m.Health().Healthy)
	})

	t.Run("NoopPolling", func(t *testing.T) {
		cfg := labConfig(t, d, "carol", true)
		cfg.forcePoll, cfg.PollInterval = true, 100*time.Millisecond
		_, sub, m := startMailbox(t, cfg)
		n := len(m.Messages())
		require.NoError(t, d.Deliver("carol", buildMsg(msgSpec{Audio: wav})))
		waitFor[MessageArrived](t, sub, 10*time.Second)
		assert.Len(t, m.Messages(), n+1)
	})

	t.Run("ResyncAfterRestart", func(t *testing.T) {
		cfg := labConfig(t, d, "bob", false)
		cfg.ReconnectBase, cfg.ReconnectMax = 50*time.Millisecond, 500*time.Millisecond
		require.NoError(t, d.Deliver("bob", buildMsg(msgSpec{Audio: wav})))
		_, sub, m := startMailbox(t, cfg)
		waitFor[CountChanged](t, sub, 5*time.Second)
		before := m.Messages()
		n := len(before)
		require.GreaterOrEqual(t, n, 2)
		require.NoError(t, d.Restart(t.Context()))
		// While we reconnect, one message arrives and one is expunged by
		// removing its file: the re-sync must see both.
		require.NoError(t, d.Deliver("bob", buildMsg(msgSpec{Audio: wav})))
		removeOneMessage(t, filepath.Join(d.Dir, "mail", "bob@example.test"))
		// And another client marks the newest listed message heard.
		other := otherClient(t, d, mustCheck(t, cfg))
		require.NoError(t, other.Store(imap.UIDSetNum(imap.UID(before[n-1].ID)),
			&imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close())
		// One sync publishes the removal, then the arrival.
		rm := waitFor[MessageRemoved](t, sub, 20*time.Second)
		// Maildir file names do not sort in UID order (the microseconds in
		// them are not zero-padded): any of the earlier messages may be the
		// one removed.
		assert.True(t, slices.ContainsFunc(before, func(v Voicemail) bool { return v.ID == rm.ID }), "removed %v, not one of the listed messages", rm.ID)
		ev := waitFor[MessageArrived](t, sub, 5*time.Second)
		assert.Greater(t, ev.Message.ID, before[n-1].ID)
		assert.Len(t, m.Messages(), n)
		assert.GreaterOrEqual(t, m.Health().Counters["reconnects"], int64(1))
		// dovecot offers QRESYNC: the re-sync after the reconnect used it,
		// and the flag change made while we were away is in the list
		// (removed above or heard now).
		assert.GreaterOrEqual(t, m.Health().Counters["qresync_syncs"], int64(1))
		require.Eventually(t, func() bool {
			v, ok := (&Snapshot{Messages: m.Messages()}).Find(before[n-1].ID)
			return rm.ID == before[n-1].ID || (ok && v.Heard)
		}, 5*time.Second, 20*time.Millisecond)
	})

	t.Run("UIDValidityChange", func(t *testing.T) {
		cfg := labConfig(t, d, "carol", false)
		cfg.ReconnectBase, cfg.ReconnectMax = 50*time.Millisecond, 500*time.Millisecond
		require.NoError(t, d.Deliver("carol", buildMsg(msgSpec{Audio: wav})))
		_, sub, m := startMailbox(t, cfg)
		waitFor[CountChanged](t, sub, 5*time.Second)
		before := m.Messages()
		require.NotEmpty(t, before)
		// Dovecot renumbers a maildir whose uidlist is gone.
		box := filepath.Join(d.Dir, "mail", "carol@example.test")
		require.NoError(t, os.Remove(filepath.Join(box, "dovecot-uidlist")))
		for _, f := range []string{"dovecot.index", "dovecot.index.cache", "dovecot.index.log"} {
			os.Remove(filepath.Join(box, f))
		}
		require.NoError(t, d.Restart(t.Context()))
		ev := waitFor[Resynced](t, sub, 20*time.Second)
		assert.Equal(t, len(before), ev.Total)
		after := m.Messages()
		require.Len(t, after, len(before))
		assert.Equal(t, before[0].CallerNumber, after[0].CallerNumber)
	})

	t.Run("AudioCache", func(t *testing.T) {
		cfg := labConfig(t, d, "carol", false)
		cfg.AudioCacheDir = filepath.Join(t.TempDir(), "audio")
		require.NoError(t, d.Deliver("carol", buildMsg(msgSpec{Audio: wav})))
		_, sub, m := startMailbox(t, cfg)
		list := m.Messages()
		require.NotEmpty(t, list)
		id := list[len(list)-1].ID
		play := func() (*Audio, AudioStats) {
			a, err := m.Audio(t.Context(), id)
			require.NoError(t, err)
			dec, err := NewDecoder(a)
			require.NoError(t, err)
			st, err := Measure(dec)
			require.NoError(t, err)
			require.NoError(t, a.Close())
			return a, st
		}
		a1, st1 := play()
		assert.False(t, a1.fromCache)
		a2, st2 := play()
		assert.True(t, a2.fromCache, "second play comes from the cache")
		assert.Equal(t, st1, st2)
		files, err := os.ReadDir(cfg.AudioCacheDir)
		require.NoError(t, err)
		require.Len(t, files, 1)

		_, err = m.Delete(t.Context(), id)
		require.NoError(t, err)
		waitFor[MessageRemoved](t, sub, 5*time.Second)
		files, err = os.ReadDir(cfg.AudioCacheDir)
		require.NoError(t, err)
		assert.Empty(t, files, "the cached audio goes with its message")
	})

	t.Run("CacheShowsListAtOnce", func(t *testing.T) {
		cfg := labConfig(t, d, "alice", false)
		cfg.CacheFile = filepath.Join(t.TempDir(), "vm.cache")
		fw, _, m := startMailbox(t, cfg)
		n := len(m.Messages())
		require.NotZero(t, n)
		require.NoError(t, fw.Shutdown(t.Context()))
		_, err := os.Stat(cfg.CacheFile)
		require.NoError(t, err)

		// Unreachable server: the cached list shows anyway.
		snap, err := loadCache(cfg.CacheFile, mustCheck(t, cfg))
		require.NoError(t, err)
		require.NotNil(t, snap)
		dead := cfg
		dead.Server = deadAddr(t)
		dead.CacheFile = filepath.Join(t.TempDir(), "dead.cache")
		require.NoError(t, saveCache(dead.CacheFile, mustCheck(t, dead), snap))
		m2, err := New(dead)
		require.NoError(t, err)
		require.NoError(t, m2.Start(t.Context()))
		assert.Len(t, m2.Messages(), n)
		assert.False(t, m2.Health().Healthy)
		require.NoError(t, m2.Close())

		cfg.Server = labConfig(t, d, "alice", false).Server
		m3, err := New(cfg)
		require.NoError(t, err)
		began := time.Now()
		require.NoError(t, m3.Start(t.Context()))
		assert.Len(t, m3.Messages(), n)
		t.Logf("start to list from cache: %v", time.Since(began))
		require.NoError(t, m3.Shutdown(t.Context()))
		assert.Error(t, m3.Close())
	})
}

func mustCheck(t testing.TB, cfg Config) Config {
	t.Helper()
	c, err := cfg.check()
	require.NoError(t, err)
	return c
}

// deadAddr returns a loopback address nobody listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	return addr
}

// doveadmSave delivers raw with doveadm save, as a voicemail system
// using dovecot's delivery tools would.
func doveadmSave(t testing.TB, d *lab.DovecotServer, email string, raw []byte) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "doveadm", "-c", filepath.Join(d.Dir, "dovecot.conf"), "save", "-u", email)
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "doveadm save: %s", out)
}

// deliverLDA delivers raw with dovecot-lda, as a voicemail system or MTA
// piping into dovecot's local delivery agent would.
func deliverLDA(t testing.TB, d *lab.DovecotServer, email string, raw []byte) {
	t.Helper()
	bin, err := lab.DovecotHelper("dovecot-lda")
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), bin, "-c", filepath.Join(d.Dir, "dovecot.conf"), "-d", email)
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "dovecot-lda: %s", out)
}

// removeOneMessage deletes the oldest message file of a maildir, as an
// expunge by another client would.
func removeOneMessage(t testing.TB, box string) {
	t.Helper()
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(box, sub))
		require.NoError(t, err)
		if len(entries) > 0 {
			require.NoError(t, os.Remove(filepath.Join(box, sub, entries[0].Name())))
			return
		}
	}
	t.Fatal("no message to remove")
}
