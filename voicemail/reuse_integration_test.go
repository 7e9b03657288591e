package voicemail

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/opencsf/opencsf/lab"
)

// The Conn keeps one session of our own wire code for listings and
// QRESYNC re-syncs (qresync.go, withSession): these tests count its
// logins (rawDials) against what a listing needs.
func TestIntegrationSessionReuse(t *testing.T) {
	d := lab.Dovecot(t, nil)
	wav := testWAV(EncodingMuLaw, 8000, 0.5)
	deliver := func(user string, i int) {
		t.Helper()
		require.NoError(t, d.Deliver(user, buildMsg(msgSpec{Audio: wav, From: fmt.Sprintf(`"Caller %d" <555%04d@vm.example.test>`, i, i)})))
	}
	for i := range 4 {
		deliver("alice", i)
	}

	for _, mode := range []struct {
		name     string
		startTLS bool
	}{{"implicit", false}, {"starttls", true}} {
		t.Run("TwoListsOneLogin/"+mode.name, func(t *testing.T) {
			cfg := labConfig(t, d, "alice", mode.startTLS)
			// Dovecot logs a login a moment after it: wait for the go-imap
			// session's before counting the listings'.
			base := allLogins(d, cfg.UserName)
			c := dialLab(t, cfg)
			require.EventuallyWithT(t, func(col *assert.CollectT) {
				assert.Equal(col, base+1, allLogins(d, cfg.UserName))
			}, 15*time.Second, 20*time.Millisecond)
			first, err := c.List(t.Context())
			require.NoError(t, err)
			require.Len(t, first, 4)
			second, err := c.List(t.Context())
			require.NoError(t, err)
			assert.Equal(t, first, second)
			assert.Equal(t, int64(1), c.rawDials.Load(), "the second listing reused the first one's session")
			assert.NotNil(t, c.raw.Load(), "the session is kept")
			// What dovecot saw: a one-off listing's login after the two
			// is logged after theirs, so counting up to it counts them.
			_, err = rawList(t.Context(), mustCheck(t, cfg), true)
			require.NoError(t, err)
			assert.EventuallyWithT(t, func(col *assert.CollectT) {
				assert.Equal(col, base+3, allLogins(d, cfg.UserName), "go-imap's, the kept session's, the one-off's")
			}, 5*time.Second, 20*time.Millisecond)
		})
	}

	t.Run("TwoListsOneLogin/no-qresync", func(t *testing.T) {
		// As against a server without QRESYNC: the kept session is a plain
		// one, and listings still share it.
		c := dialLab(t, labConfig(t, d, "alice", false))
		c.canQResync = false
		for range 3 {
			list, err := c.List(t.Context())
			require.NoError(t, err)
			require.Len(t, list, 4)
		}
		assert.Equal(t, int64(1), c.rawDials.Load())
	})

	t.Run("KeptSessionKilled", func(t *testing.T) {
		c := dialLab(t, labConfig(t, d, "alice", false))
		want, err := c.List(t.Context())
		require.NoError(t, err)
		kills := []struct {
			name string
			kill func(rc *rawConn)
		}{
			// Our side's socket is gone: the next write fails.
			{"closed here", func(rc *rawConn) { rc.close() }},
			// The server ended the session, as after its idle timeout: the
			// socket is still open here, the next read finds it ended.
			{"ended by server", func(rc *rawConn) { require.NoError(t, rc.command("LOGOUT", nil)) }},
		}
		for i, k := range kills {
			rc := c.raw.Load()
			require.NotNil(t, rc, k.name)
			k.kill(rc)
			got, err := c.List(t.Context())
			require.NoError(t, err, k.name)
			assert.Equal(t, want, got, k.name)
			assert.Equal(t, int64(2+i), c.rawDials.Load(), "%s: one re-dial", k.name)
			assert.NotSame(t, rc, c.raw.Load(), "%s: the dead session was dropped", k.name)
		}
	})

	t.Run("ListQResyncList", func(t *testing.T) {
		cfg := labConfig(t, d, "carol", false)
		for i := range 3 {
			deliver("carol", 100+i)
		}
		c := dialLab(t, cfg)
		require.True(t, c.Caps().QResync, "dovecot offers QRESYNC")
		first, err := c.Sync(t.Context(), nil)
		require.NoError(t, err)
		require.Len(t, first.Messages, 3)

		// A new message between the listing and the re-sync.
		deliver("carol", 103)
		q0 := c.qresyncs.Load()
		next, err := c.Sync(t.Context(), first)
		require.NoError(t, err)
		assert.Equal(t, q0+1, c.qresyncs.Load(), "re-synced with QRESYNC")
		require.Len(t, next.Messages, 4)
		assert.Equal(t, "5550103", next.Messages[3].CallerNumber)
		assert.Equal(t, EncodingMuLaw, next.Messages[3].Format.Encoding, "new message's audio probed")

		// One deleted before the next listing, on the session the re-sync
		// left with the folder selected.
		gone := next.Messages[1].ID
		other := otherClient(t, d, cfg)
		require.NoError(t, other.Store(imap.UIDSetNum(imap.UID(gone)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
		require.NoError(t, other.UIDExpunge(imap.UIDSetNum(imap.UID(gone))).Close())
		list, err := c.List(t.Context())
		require.NoError(t, err)
		require.Len(t, list, 3)
		for _, v := range list {
			assert.NotEqual(t, gone, v.ID, "deleted message listed")
		}
		assert.Equal(t, "5550103", list[2].CallerNumber)

		// And a re-sync after that listing, from the re-sync's state: the
		// expunge shows, the same as the listing.
		deliver("carol", 104)
		q0 = c.qresyncs.Load()
		b0 := c.raw.Load().bulkCommands
		again, err := c.Sync(t.Context(), next)
		require.NoError(t, err)
		assert.Equal(t, q0+1, c.qresyncs.Load(), "re-synced with QRESYNC")
		assert.Equal(t, b0, c.raw.Load().bulkCommands, "one new message is read without waiting for a batch")
		fresh, err := c.Sync(t.Context(), nil)
		require.NoError(t, err)
		assert.Equal(t, fresh.Messages, again.Messages)
		require.Len(t, again.Messages, 4)
		_, found := again.Find(gone)
		assert.False(t, found, "expunged message dropped")
		assert.Equal(t, int64(1), c.rawDials.Load(), "listings and re-syncs shared one session")
	})

	t.Run("CancelMidListing", func(t *testing.T) {
		// Enough messages that the listing's FETCH takes a while (tens of
		// milliseconds), so that a cancel some milliseconds after the
		// session's login lands in it.
		const n = 3000
		for i := range n {
			deliver("bob", i)
		}
		c := dialLab(t, labConfig(t, d, "bob", false))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		type result struct {
			list []Voicemail
			err  error
		}
		done := make(chan result, 1)
		go func() {
			list, err := c.List(ctx)
			done <- result{list, err}
		}()
		// The raw session is kept once it logged in, after the go-imap
		// SELECT: from then on the listing runs on it only, EXAMINE then
		// the FETCH.
		require.Eventually(t, func() bool { return c.raw.Load() != nil }, 10*time.Second, 50*time.Microsecond)
		time.Sleep(5 * time.Millisecond)
		cancel()
		r := <-done
		require.ErrorIs(t, r.err, context.Canceled)
		t.Logf("cancelled after %d of %d messages", len(r.list), n)
		assert.Less(t, len(r.list), n, "the cancel ended the listing before its end")
		assert.Nil(t, c.raw.Load(), "the cancelled session was dropped")

		// The Conn goes on: the next listing dials a new session.
		list, err := c.List(t.Context())
		require.NoError(t, err)
		assert.Len(t, list, n)
		assert.Equal(t, int64(2), c.rawDials.Load())
		// Its reads were batched, and the batch buffer went back with the
		// end of the response: a kept session holds none between uses.
		kept := c.raw.Load()
		require.NotNil(t, kept)
		assert.Positive(t, kept.bulkCommands, "a listing of %d is read in bulk", n)
		if kept.bulk != nil {
			assert.Nil(t, kept.bulk.buf, "a kept session holds no bulk buffer between listings")
		}
	})

	t.Run("CloseNoLeak", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		c, err := Dial(t.Context(), labConfig(t, d, "alice", false))
		require.NoError(t, err)
		_, err = c.List(t.Context())
		require.NoError(t, err)
		rc := c.raw.Load()
		require.NotNil(t, rc)
		require.NoError(t, c.Close())
		assert.Nil(t, c.raw.Load(), "Close dropped the kept session")
		// Its socket is closed: a command on it fails at once.
		assert.Error(t, rc.command("NOOP", nil))
		_, err = c.List(t.Context())
		assert.Error(t, err)
	})
}

// allLogins counts the logins of user that dovecot logged, whatever the
// mechanism.
func allLogins(d *lab.DovecotServer, user string) int {
	return strings.Count(d.Log(), "Login: user=<"+user+">,")
}
