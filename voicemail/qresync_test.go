package voicemail

import (
	"slices"
	"time"

	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
)

func TestUIDSets(t *testing.T) {
	assert.Equal(t, "1:3,5,7:8", uidSetString([]ID{1, 2, 3, 5, 7, 8}))
	assert.Equal(t, "", uidSetString(nil))
	r, err := parseUIDSet([]byte("9:7,1,3:4"))
	require.NoError(t, err)
	for uid, want := range map[uint32]bool{1: true, 2: false, 3: true, 4: true, 5: false, 7: true, 8: true, 9: true, 10: false} {
		assert.Equal(t, want, r.has(uid), "uid %d", uid)
	}
	for _, bad := range []string{"", "0", "1:", "a", "1,,2", "4294967296"} {
		_, err := parseUIDSet([]byte(bad))
		assert.Error(t, err, bad)
	}
}

// otherClient changes the folder the way another client (or the
// voicemail system) would while we are away.
func otherClient(t *testing.T, d *lab.DovecotServer, cfg Config) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(d.TLSAddr, &imapclient.Options{TLSConfig: d.CA().ClientTLS("127.0.0.1")})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Login(cfg.UserName, cfg.Password.Reveal()).Wait())
	_, err = c.Select("INBOX", nil).Wait()
	require.NoError(t, err)
	return c
}

func TestIntegrationQResync(t *testing.T) {
	d := lab.Dovecot(t, nil)
	wav := testWAV(EncodingMuLaw, 8000, 1)
	for i := range 5 {
		require.NoError(t, d.Deliver("alice", buildMsg(msgSpec{Audio: wav, From: `"Caller" <555010` + string(rune('0'+i)) + `@vm.example.test>`})))
	}
	cfg := labConfig(t, d, "alice", false)
	c := dialLab(t, cfg)
	require.True(t, c.Caps().QResync, "dovecot offers QRESYNC")
	first, err := c.Sync(t.Context(), nil)
	require.NoError(t, err)
	require.Len(t, first.Messages, 5)
	require.NotZero(t, first.HighestModSeq)

	// While nobody looks: one heard, one flagged deleted, one expunged,
	// two new (one through IMAP APPEND, one into the maildir).
	other := otherClient(t, d, cfg)
	ids := first.Messages
	require.NoError(t, other.Store(imap.UIDSetNum(imap.UID(ids[1].ID)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close())
	require.NoError(t, other.Store(imap.UIDSetNum(imap.UID(ids[3].ID)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
	require.NoError(t, other.Store(imap.UIDSetNum(imap.UID(ids[2].ID)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close())
	require.NoError(t, other.UIDExpunge(imap.UIDSetNum(imap.UID(ids[2].ID))).Close())
	appendMessage(t, d, mustCheck(t, cfg), buildMsg(msgSpec{Audio: wav, From: `"New" <5550200@vm.example.test>`}))
	require.NoError(t, d.Deliver("alice", buildMsg(msgSpec{Audio: testWAV(EncodingPCM, 8000, 2), From: `"Newer" <5550201@vm.example.test>`})))

	check := func(t *testing.T, c *Conn, prev *Snapshot) *Snapshot {
		q0 := c.qresyncs.Load()
		next, err := c.Sync(t.Context(), prev)
		require.NoError(t, err)
		assert.Equal(t, q0+1, c.qresyncs.Load(), "synced with QRESYNC")
		// The same as a listing from scratch.
		fresh, err := c.Sync(t.Context(), nil)
		require.NoError(t, err)
		assert.Equal(t, fresh.Messages, next.Messages)
		assert.Equal(t, fresh.UIDNext, next.UIDNext)
		return next
	}
	next := check(t, c, first)
	require.Len(t, next.Messages, 6)
	_, gone := next.Find(ids[2].ID)
	assert.False(t, gone, "expunged message dropped")
	v, _ := next.Find(ids[1].ID)
	assert.True(t, v.Heard)
	v, _ = next.Find(ids[3].ID)
	assert.True(t, v.Deleted)
	last := next.Messages[len(next.Messages)-1]
	assert.Equal(t, "5550201", last.CallerNumber)
	assert.Equal(t, EncodingPCM, last.Format.Encoding, "new message's audio probed")
	assert.Equal(t, 2*time.Second, last.Duration)

	// Nothing changed: the kept session answers with nothing new.
	again := check(t, c, next)
	assert.Equal(t, next.Messages, again.Messages)

	// After a restart of dovecot the kept session is dead: the re-sync
	// dials a new one, on a new Conn as after a reconnect.
	require.NoError(t, other.Store(imap.UIDSetNum(imap.UID(ids[1].ID)), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close())
	require.NoError(t, other.UIDExpunge(imap.UIDSetNum(imap.UID(ids[3].ID))).Close())
	require.NoError(t, d.Restart(t.Context()))
	c2 := dialLab(t, cfg)
	after := check(t, c2, again)
	require.Len(t, after.Messages, 5)
	v, _ = after.Find(ids[1].ID)
	assert.False(t, v.Heard)
	_, gone = after.Find(ids[3].ID)
	assert.False(t, gone)

	// The old Conn's kept session died with the restart: it redials (its
	// go-imap session is dead too, but a re-sync does not need it).
	q0 := c.qresyncs.Load()
	old, err := c.Sync(t.Context(), again)
	require.NoError(t, err)
	assert.Equal(t, q0+1, c.qresyncs.Load())
	assert.Equal(t, after.Messages, old.Messages)
}

// FuzzUIDSet: a set that parses contains its range ends and nothing
// outside its ranges, and survives a round trip through uidSetString.
func FuzzUIDSet(f *testing.F) {
	for _, s := range []string{"1", "1:4,7,9:12", "12:9", "4294967295", "1,1,2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseUIDSet([]byte(s))
		if err != nil {
			return
		}
		var ids []ID
		for _, x := range r {
			require.True(t, r.has(x[0]) && r.has(x[1]))
			require.LessOrEqual(t, x[0], x[1])
			if x[1]-x[0] < 1000 && len(ids) < 10000 {
				for u := x[0]; u <= x[1] && u != 0; u++ {
					ids = append(ids, ID(u))
				}
			}
		}
		if len(ids) == 0 || len(r) == 0 {
			return
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		back, err := parseUIDSet([]byte(uidSetString(ids)))
		require.NoError(t, err)
		for _, id := range ids {
			require.True(t, back.has(uint32(id)))
		}
	})
}
