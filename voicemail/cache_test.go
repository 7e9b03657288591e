package voicemail

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var cacheCfg = Config{Server: "vm.example.test:993", UserName: "alice", Folder: "INBOX"}

// cacheSample is a list with every field set somewhere: errors of each
// kind, zones other than the local one, nested part paths, unicode.
func cacheSample() *Snapshot {
	berlin := time.FixedZone("", 3600)
	return &Snapshot{UIDValidity: 7, UIDNext: 12, HighestModSeq: 1 << 40, Messages: []Voicemail{
		{ID: 3, CallerName: "Jürgen Ä", CallerNumber: "+4930123", Subject: "Voice message", Date: time.Date(2026, 11, 25, 9, 30, 0, 5, berlin),
			Duration: 12500 * time.Millisecond, Urgent: true, Private: true, Heard: true, Size: 60123, HasAudio: true, AudioSize: 55000,
			Format: AudioFormat{MIMEType: "audio/wav", Encoding: EncodingMuLaw, SampleRate: 8000, Channels: 1, BitsPerSample: 8, Codec: 7},
			part:   []int{2}, encoding: "base64", modSeq: 99},
		{ID: 5, CallerNumber: "5551234", Date: time.Date(1999, 1, 2, 3, 4, 5, 0, time.UTC).In(time.FixedZone("", -5*3600)),
			Deleted: true, Size: 10, Err: &MessageError{ID: 5, Err: ErrNoAudio}},
		{ID: 9, Subject: "x", Date: time.Unix(1e9, 0), HasAudio: true, part: []int{1, 2, 3}, encoding: "7bit",
			Err: &MessageError{ID: 9, Err: ErrBadAudio}, Format: AudioFormat{Encoding: EncodingOther, Codec: 0x31}},
		{ID: 11, Date: time.Unix(0, 0), Err: errors.New("server sent no body structure")},
	}}
}

// equalLists compares two lists field by field, dates as instants with
// their offsets, errors by text and kind.
func equalLists(t testing.TB, want, got []Voicemail) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		_, wo := w.Date.Zone()
		_, gotOff := g.Date.Zone()
		assert.True(t, w.Date.Equal(g.Date), "message %d: date %v, got %v", w.ID, w.Date, g.Date)
		assert.Equal(t, wo, gotOff, "message %d: zone offset", w.ID)
		if w.Err == nil {
			assert.NoError(t, g.Err)
		} else if assert.Error(t, g.Err) {
			assert.Equal(t, w.Err.Error(), g.Err.Error())
			assert.Equal(t, errors.Is(w.Err, ErrNoAudio), errors.Is(g.Err, ErrNoAudio))
			assert.Equal(t, errors.Is(w.Err, ErrBadAudio), errors.Is(g.Err, ErrBadAudio))
		}
		w.Date, g.Date, w.Err, g.Err = time.Time{}, time.Time{}, nil, nil
		assert.Equal(t, w, g)
	}
}

func TestCacheRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "vm.cache")
	want := cacheSample()
	require.NoError(t, saveCache(path, cacheCfg, want))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "it names callers: the user's only")
	got, err := loadCache(path, cacheCfg)
	require.NoError(t, err)
	assert.Equal(t, want.UIDValidity, got.UIDValidity)
	assert.Equal(t, want.UIDNext, got.UIDNext)
	assert.Equal(t, want.HighestModSeq, got.HighestModSeq)
	equalLists(t, want.Messages, got.Messages)
}

// Another account or folder, another version, the JSON files version 1
// wrote, and no file at all give no list and no error: the list is read
// afresh.
func TestCacheNotOurs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vm.cache")
	require.NoError(t, saveCache(path, cacheCfg, cacheSample()))
	for _, cfg := range []Config{
		{Server: "other:993", UserName: "alice", Folder: "INBOX"},
		{Server: cacheCfg.Server, UserName: "bob", Folder: "INBOX"},
		{Server: cacheCfg.Server, UserName: "alice", Folder: "Voicemail"},
	} {
		s, err := loadCache(path, cfg)
		assert.NoError(t, err)
		assert.Nil(t, s)
	}
	v1 := filepath.Join(dir, "v1.json")
	require.NoError(t, os.WriteFile(v1, []byte(`{"version":1,"server":"vm.example.test:993","user":"alice","folder":"INBOX","messages":[]}`), 0o600))
	s, err := loadCache(v1, cacheCfg)
	assert.NoError(t, err)
	assert.Nil(t, s)
	s, err = loadCache(filepath.Join(dir, "missing"), cacheCfg)
	assert.NoError(t, err)
	assert.Nil(t, s)

	data := encodeCache(cacheCfg, cacheSample())
	next := append([]byte(cacheMagic), 3) // version 3
	next = append(next, data[len(cacheMagic)+1:len(data)-4]...)
	s, err = decodeCache(encodeSealed(next), cacheCfg)
	assert.NoError(t, err)
	assert.Nil(t, s)
}

// A damaged file is an error that says what and where; nothing panics.
func TestCacheCorrupt(t *testing.T) {
	data := encodeCache(cacheCfg, cacheSample())
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0x40
	_, err := decodeCache(flipped, cacheCfg)
	assert.ErrorIs(t, err, errCacheCorrupt)
	assert.ErrorContains(t, err, "checksum")

	// Truncated inside a message, with a checksum that matches.
	body := data[:len(data)-4]
	_, err = decodeCache(encodeSealed(body[:len(body)-10]), cacheCfg)
	assert.ErrorIs(t, err, errCacheCorrupt)
	assert.ErrorContains(t, err, "message 4 of 4")
	assert.ErrorContains(t, err, "at byte")

	// A count that the file cannot hold.
	_, err = decodeCache(encodeSealed(append(append([]byte(nil), body...), 0)), cacheCfg)
	assert.ErrorContains(t, err, "after the last message")

	path := filepath.Join(t.TempDir(), "vm.cache")
	require.NoError(t, os.WriteFile(path, flipped, 0o600))
	_, err = loadCache(path, cacheCfg)
	assert.ErrorContains(t, err, path)
}

// FuzzCacheDecode: any bytes give a list or an error, never a panic or an
// allocation beyond the file's size; what decodes encodes back to the same
// list.
func FuzzCacheDecode(f *testing.F) {
	f.Add(encodeCache(cacheCfg, cacheSample()))
	f.Add(encodeCache(cacheCfg, &Snapshot{}))
	f.Add([]byte(cacheMagic))
	f.Add(encodeSealed([]byte(cacheMagic + "\x02\x14vm.example.test:993\x05alice\x05INBOX\x00\x00\x00\xff\xff\xff\xff\x0f")))
	f.Fuzz(func(t *testing.T, data []byte) {
		// As it is, and with its checksum made right, so that the fuzzer
		// reaches the fields behind it.
		body := data[:max(len(data)-4, 0)]
		for _, data := range [][]byte{data, encodeSealed(body[:len(body):len(body)])} {
			s, err := decodeCache(data, cacheCfg)
			if err != nil || s == nil {
				continue
			}
			again, err := decodeCache(encodeCache(cacheCfg, s), cacheCfg)
			require.NoError(t, err)
			equalLists(t, s.Messages, again.Messages)
		}
	})
}
