package voicemail

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/lab"
)

func labConfig(t testing.TB, d *lab.DovecotServer, user string, startTLS bool) Config {
	t.Helper()
	var u lab.User
	for _, x := range d.Users() {
		if x.Name == user {
			u = x
		}
	}
	require.NotEmpty(t, u.Email, "no lab user %s", user)
	trust, err := csf.LoadTrust(d.CA().CertFile, false)
	require.NoError(t, err)
	cfg := Config{Server: d.TLSAddr, UserName: u.Email, Password: config.Secret(u.Password), Trust: trust}
	if startTLS {
		cfg.Server, cfg.TLSMode = d.Addr, TLSStartTLS
	}
	return cfg
}

func dialLab(t testing.TB, cfg Config) *Conn {
	t.Helper()
	c, err := Dial(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// createFolder makes a folder with a plain go-imap client (the voicemail
// client never creates folders).
func createFolder(t testing.TB, d *lab.DovecotServer, cfg Config, name string) {
	t.Helper()
	c, err := imapclient.DialTLS(d.TLSAddr, &imapclient.Options{TLSConfig: d.CA().ClientTLS("127.0.0.1")})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Login(cfg.UserName, cfg.Password.Reveal()).Wait())
	require.NoError(t, c.Create(name, nil).Wait())
	require.NoError(t, c.Logout().Wait())
}

// appendMessage stores raw in cfg.Folder with a plain go-imap client, the
// way a voicemail system writing over IMAP would.
func appendMessage(t testing.TB, d *lab.DovecotServer, cfg Config, raw []byte) {
	t.Helper()
	c, err := imapclient.DialTLS(d.TLSAddr, &imapclient.Options{TLSConfig: d.CA().ClientTLS("127.0.0.1")})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Login(cfg.UserName, cfg.Password.Reveal()).Wait())
	w := c.Append(cfg.Folder, int64(len(raw)), nil)
	_, err = w.Write(raw)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	_, err = w.Wait()
	require.NoError(t, err)
	require.NoError(t, c.Logout().Wait())
}

func TestIntegrationConn(t *testing.T) {
	d := lab.Dovecot(t, nil)

	wavPCM := testWAV(EncodingPCM, 8000, 1.5)
	wavMu := testWAV(EncodingMuLaw, 8000, 2.0)
	for _, m := range sampleMessages() {
		require.NoError(t, d.Deliver("alice", m))
	}

	for _, mode := range []struct {
		name            string
		startTLS, noRaw bool
	}{{"implicit", false, false}, {"starttls", true, false}, {"implicit-goimap", false, true}, {"starttls-goimap", true, true}} {
		t.Run("List/"+mode.name, func(t *testing.T) {
			c := dialLab(t, labConfig(t, d, "alice", mode.startTLS))
			c.noRaw = mode.noRaw
			list, err := c.List(t.Context())
			require.NoError(t, err)
			checkSampleList(t, list)

			st, ok := c.TLSState()
			assert.True(t, ok)
			assert.NotEmpty(t, st.PeerCertificates)
		})
	}

	t.Run("FetchDecode", func(t *testing.T) {
		c := dialLab(t, labConfig(t, d, "alice", false))
		list, err := c.List(t.Context())
		require.NoError(t, err)
		checkSampleAudio(t, c, list)
	})

	t.Run("HeardUnheard", func(t *testing.T) {
		c := dialLab(t, labConfig(t, d, "alice", false))
		list, err := c.List(t.Context())
		require.NoError(t, err)
		require.NoError(t, c.SetHeard(t.Context(), list[0].ID, true))
		again, err := c.Sync(t.Context(), &Snapshot{UIDValidity: 0})
		require.NoError(t, err)
		assert.True(t, again.Messages[0].Heard)
		require.NoError(t, c.SetHeard(t.Context(), list[0].ID, false))
		list, err = c.List(t.Context())
		require.NoError(t, err)
		assert.False(t, list[0].Heard)
		assert.ErrorIs(t, c.SetHeard(t.Context(), 9999, true), ErrNotFound)
	})

	t.Run("DeleteExpunge", func(t *testing.T) {
		cfg := labConfig(t, d, "carol", false)
		require.NoError(t, d.Deliver("carol", buildMsg(msgSpec{Audio: wavPCM})))
		checkDeleteExpunges(t, dialLab(t, cfg))
	})

	t.Run("DeleteUndeleteTrash", func(t *testing.T) {
		cfg := labConfig(t, d, "bob", true)
		createFolder(t, d, cfg, "Trash")
		require.NoError(t, d.Deliver("bob", buildMsg(msgSpec{Audio: wavMu})))
		require.NoError(t, d.Deliver("bob", buildMsg(msgSpec{Audio: wavPCM})))
		checkDeleteToTrash(t, dialLab(t, cfg))
	})

	t.Run("ServerAgreesWithParseMessage", func(t *testing.T) {
		cfg := labConfig(t, d, "alice", false)
		cfg.Folder = "Voice Messages"
		createFolder(t, d, cfg, cfg.Folder)
		files, err := filepath.Glob("testdata/*.eml")
		require.NoError(t, err)
		require.NotEmpty(t, files)
		want := map[string]Voicemail{}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			appendMessage(t, d, cfg, raw)
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

	t.Run("WrongCA", func(t *testing.T) {
		bad, err := d.CA().MakeBadCerts()
		require.NoError(t, err)
		for _, startTLS := range []bool{false, true} {
			cfg := labConfig(t, d, "alice", startTLS)
			cfg.Trust, err = csf.LoadTrust(bad.OtherCAFile, false)
			require.NoError(t, err)
			_, err = Dial(t.Context(), cfg)
			var te *csf.TLSError
			require.ErrorAs(t, err, &te, "starttls=%v", startTLS)
			assert.Equal(t, csf.TLSUnknownAuthority, te.Reason)
		}
	})

	t.Run("BadPassword", func(t *testing.T) {
		cfg := labConfig(t, d, "alice", false)
		cfg.Password = "wrong"
		_, err := Dial(t.Context(), cfg)
		var ae *AuthError
		assert.ErrorAs(t, err, &ae)
		assert.NotContains(t, err.Error(), "wrong")
	})

	t.Run("NoFolder", func(t *testing.T) {
		cfg := labConfig(t, d, "alice", false)
		cfg.Folder = "Voicemail"
		_, err := Dial(t.Context(), cfg)
		assert.ErrorIs(t, err, ErrNoMailbox)
	})

	t.Run("CloseTwice", func(t *testing.T) {
		c, err := Dial(t.Context(), labConfig(t, d, "alice", false))
		require.NoError(t, err)
		require.NoError(t, c.Logout(t.Context()))
		assert.ErrorIs(t, c.Close(), net.ErrClosed)
		_, err = c.List(t.Context())
		assert.True(t, errors.Is(err, net.ErrClosed))
	})

	t.Run("Cancel", func(t *testing.T) {
		c, err := Dial(t.Context(), labConfig(t, d, "alice", false))
		require.NoError(t, err)
		defer c.Close()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err = c.List(ctx)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// sampleMessages are voicemails as different systems write them, in the
// order checkSampleList and checkSampleAudio expect them listed.
func sampleMessages() [][]byte {
	wavA := testWAV(EncodingALaw, 8000, 0.5)
	return [][]byte{
		buildMsg(msgSpec{Audio: testWAV(EncodingPCM, 8000, 1.5), Headers: "Importance: high\r\nSensitivity: Private"}),
		buildMsg(msgSpec{Audio: testWAV(EncodingMuLaw, 8000, 2.0), LineLen: 61, AudioCT: "audio/x-wav", From: `"Carol" <carol@example.test>`,
			Headers: "X-CallerID: \"Carol Jones\" <+15550001>\r\nX-Priority: 1 (Highest)"}),
		buildMsg(msgSpec{Audio: wavA, Nested: true, Headers: "Content-Duration: 7"}),
		buildMsg(msgSpec{}), // no audio
		buildMsg(msgSpec{Audio: []byte("this is not a wav file at all, just text pretending"), NoText: true}),
		// Audio known only by the file name in its disposition: the short
		// body structure does not show it, the full one does.
		buildMsg(msgSpec{Audio: wavA, AudioCT: "application/octet-stream", NameOnlyInDisposition: true}),
	}
}

// checkSampleList checks a listing of sampleMessages.
func checkSampleList(t *testing.T, list []Voicemail) {
	t.Helper()
	require.Len(t, list, 6)

	assert.Equal(t, "Bob Smith", list[0].CallerName)
	assert.Equal(t, "5551234", list[0].CallerNumber)
	assert.True(t, list[0].Urgent)
	assert.True(t, list[0].Private)
	assert.False(t, list[0].Heard)
	assert.Equal(t, EncodingPCM, list[0].Format.Encoding)
	assert.Equal(t, 1500*time.Millisecond, list[0].Duration)
	assert.Equal(t, time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC), list[0].Date.UTC())
	assert.NoError(t, list[0].Err)

	assert.Equal(t, "Carol Jones", list[1].CallerName)
	assert.Equal(t, "+15550001", list[1].CallerNumber)
	assert.True(t, list[1].Urgent)
	assert.Equal(t, "audio/x-wav", list[1].Format.MIMEType)
	assert.Equal(t, EncodingMuLaw, list[1].Format.Encoding)
	assert.Equal(t, 2*time.Second, list[1].Duration)

	assert.Equal(t, EncodingALaw, list[2].Format.Encoding)
	assert.Equal(t, 7*time.Second, list[2].Duration, "Content-Duration wins over the WAV header")

	assert.False(t, list[3].HasAudio)
	assert.ErrorIs(t, list[3].Err, ErrNoAudio)

	assert.True(t, list[4].HasAudio)
	assert.ErrorIs(t, list[4].Err, ErrBadAudio)
	assert.True(t, list[5].HasAudio)
	assert.NoError(t, list[5].Err)
	assert.Equal(t, "application/octet-stream", list[5].Format.MIMEType)
	assert.Equal(t, EncodingALaw, list[5].Format.Encoding)
	assert.Equal(t, 6, Unheard(list))
}

// checkSampleAudio fetches and decodes the audio of a listing of
// sampleMessages.
func checkSampleAudio(t *testing.T, c *Conn, list []Voicemail) {
	t.Helper()
	for i, want := range []struct {
		enc Encoding
		dur time.Duration
	}{{EncodingPCM, 1500 * time.Millisecond}, {EncodingMuLaw, 2 * time.Second}, {EncodingALaw, 500 * time.Millisecond}} {
		a, err := c.Audio(t.Context(), list[i].ID)
		require.NoError(t, err)
		dec, err := NewDecoder(a)
		require.NoError(t, err)
		st, err := Measure(dec)
		require.NoError(t, err)
		require.NoError(t, a.Close())
		assert.Equal(t, want.enc, st.Format.Encoding)
		assert.Equal(t, want.dur, st.Duration)
		assert.InDelta(t, 8000.0/32768, st.Peak, 0.02, "tone amplitude survives the codec")
	}
	var buf bytes.Buffer
	n, err := c.Export(t.Context(), list[1].ID, &buf)
	require.NoError(t, err)
	assert.Equal(t, int64(44+16000*2), n)
	dec, err := NewDecoder(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, EncodingPCM, dec.Format().Encoding)
	assert.Equal(t, 2*time.Second, dec.Duration())

	_, err = c.Audio(t.Context(), list[3].ID)
	assert.ErrorIs(t, err, ErrNoAudio)
	_, err = c.Audio(t.Context(), 9999)
	assert.ErrorIs(t, err, ErrNotFound)
}

// checkDeleteExpunges deletes the one message of c's folder on a server
// without Trash: flagged and expunged, and no Trash to list.
func checkDeleteExpunges(t *testing.T, c *Conn) {
	t.Helper()
	list, err := c.List(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 1)
	tid, err := c.Delete(t.Context(), list[0].ID)
	require.NoError(t, err)
	assert.Zero(t, tid, "no Trash: expunged")
	list, err = c.List(t.Context())
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = c.ListTrash(t.Context())
	assert.ErrorIs(t, err, ErrNoTrash)
}

// checkDeleteToTrash deletes the first of the two messages of c's folder
// on a server with a Trash folder, then undeletes it from there.
func checkDeleteToTrash(t *testing.T, c *Conn) {
	t.Helper()
	list, err := c.List(t.Context())
	require.NoError(t, err)
	require.Len(t, list, 2)
	tid, err := c.Delete(t.Context(), list[0].ID)
	require.NoError(t, err)
	require.NotZero(t, tid)
	after, err := c.List(t.Context())
	require.NoError(t, err)
	require.Len(t, after, 1)
	trash, err := c.ListTrash(t.Context())
	require.NoError(t, err)
	require.Len(t, trash, 1)
	assert.Equal(t, tid, trash[0].ID)
	assert.Equal(t, EncodingMuLaw, trash[0].Format.Encoding)
	nid, err := c.Undelete(t.Context(), tid)
	require.NoError(t, err)
	assert.NotZero(t, nid)
	back, err := c.List(t.Context())
	require.NoError(t, err)
	require.Len(t, back, 2)
	assert.Equal(t, nid, back[1].ID)
	_, err = c.Delete(t.Context(), 9999)
	assert.ErrorIs(t, err, ErrNotFound)
}
