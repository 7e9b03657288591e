package voicemail

import (
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseMeta(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		caller  string
		number  string
		urgent  bool
		private bool
		dur     time.Duration
	}{
		{name: "from display name and numeric local part",
			header: "From: \"Bob Smith\" <5551234@vm.example.test>", caller: "Bob Smith", number: "5551234"},
		{name: "from number in display name",
			header: "From: \"+1 (555) 123-4567\" <unity@vm.example.test>", number: "+15551234567"},
		{name: "from unknown caller",
			header: "From: \"Unknown\" <vm@vm.example.test>"},
		{name: "x-callerid wins over from",
			header: "From: Voicemail <vm@vm.example.test>\r\nX-CallerID: \"Carol Jones\" <+15550001>", caller: "Carol Jones", number: "+15550001"},
		{name: "x-cisco-callerid sip uri",
			header: "X-Cisco-CallerID: Dan <sip:2001@cucm.example.test>", caller: "Dan", number: "2001"},
		{name: "asterisk headers",
			header: "X-Asterisk-CallerIDName: Eve\r\nX-Asterisk-CallerIDNum: 5550199\r\nX-Asterisk-VM-Duration: 12",
			caller: "Eve", number: "5550199", dur: 12 * time.Second},
		{name: "bare number caller id",
			header: "X-CallerID: 5550123", number: "5550123"},
		{name: "encoded word name",
			header: "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <4930123@vm.example.test>", caller: "Jürgen Müller", number: "4930123"},
		{name: "latin1 encoded word",
			header: "X-CallerID: =?iso-8859-1?q?Ren=E9?= <555>", caller: "René", number: "555"},
		{name: "importance high", header: "Importance: High", urgent: true},
		{name: "priority urgent", header: "Priority: urgent", urgent: true},
		{name: "x-priority 2", header: "X-Priority: 2 (High)", urgent: true},
		{name: "x-priority 3", header: "X-Priority: 3 (Normal)"},
		{name: "sensitivity private", header: "Sensitivity: Private", private: true},
		{name: "sensitivity personal is not private", header: "Sensitivity: Personal"},
		{name: "content duration", header: "Content-Duration: 33", dur: 33 * time.Second},
		{name: "absurd duration ignored", header: "Content-Duration: 99999999"},
		{name: "negative duration ignored", header: "Content-Duration: -5"},
		{name: "garbage from", header: "From: <<<>>>@@@"},
		{name: "bare LF", header: "From: \"A B\" <12345@x>\nImportance: high", caller: "A B", number: "12345", urgent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metaOfBlock([]byte(tt.header+"\r\n"), nil)
			assert.Equal(t, tt.caller, m.CallerName)
			assert.Equal(t, tt.number, m.CallerNumber)
			assert.Equal(t, tt.urgent, m.Urgent)
			assert.Equal(t, tt.private, m.Private)
			assert.Equal(t, tt.dur, m.Duration)
		})
	}
}

func TestG711KnownValues(t *testing.T) {
	// ITU-T G.711 decoder outputs for a few codes.
	assert.Equal(t, int16(-32124), muLawTable[0x00])
	assert.Equal(t, int16(32124), muLawTable[0x80])
	assert.Equal(t, int16(0), muLawTable[0xFF])
	assert.Equal(t, int16(-5504), aLawTable[0x00])
	assert.Equal(t, int16(5504), aLawTable[0x80])
	assert.Equal(t, int16(8), aLawTable[0xD5])
	for i := range 256 {
		assert.Equal(t, -muLawTable[i], muLawTable[i^0x80], "µ-law symmetric at %d", i)
	}
}

func TestDecoderFormats(t *testing.T) {
	tests := []struct {
		name string
		enc  Encoding
		rate int
		dur  float64
	}{
		{"pcm16 8k", EncodingPCM, 8000, 1},
		{"pcm16 16k", EncodingPCM, 16000, 0.25},
		{"ulaw", EncodingMuLaw, 8000, 0.5},
		{"alaw", EncodingALaw, 8000, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wav := testWAV(tt.enc, tt.rate, tt.dur)
			d, err := NewDecoder(bytes.NewReader(wav))
			require.NoError(t, err)
			assert.Equal(t, tt.enc, d.Format().Encoding)
			assert.Equal(t, time.Duration(tt.dur*float64(time.Second)), d.Duration())
			st, err := Measure(d)
			require.NoError(t, err)
			assert.Equal(t, int64(float64(tt.rate)*tt.dur), st.Samples)
			assert.InDelta(t, 8000.0/32768, st.Peak, 0.02)
			assert.InDelta(t, 8000.0/32768/1.414, st.RMS, 0.02)
		})
	}
}

func TestDecoderEdgeCases(t *testing.T) {
	wav := testWAV(EncodingPCM, 8000, 0.1)
	t.Run("truncated data", func(t *testing.T) {
		d, err := NewDecoder(bytes.NewReader(wav[:len(wav)-101]))
		require.NoError(t, err)
		buf := make([]int16, 10000)
		n, err := d.ReadSamples(buf)
		require.NoError(t, err)
		assert.Equal(t, 800-51, n, "whole frames before the cut")
		_, err = d.ReadSamples(buf)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("streaming size 0xFFFFFFFF", func(t *testing.T) {
		w := bytes.Clone(wav)
		copy(w[40:44], []byte{0xff, 0xff, 0xff, 0xff})
		d, err := NewDecoder(bytes.NewReader(w))
		require.NoError(t, err)
		assert.Zero(t, d.Duration())
		st, err := Measure(d)
		require.NoError(t, err)
		assert.Equal(t, int64(800), st.Samples)
		var out bytes.Buffer
		d, _ = NewDecoder(bytes.NewReader(w))
		_, err = WriteWAV(&out, d)
		require.NoError(t, err)
		d2, err := NewDecoder(&out)
		require.NoError(t, err)
		assert.Equal(t, 100*time.Millisecond, d2.Duration())
	})
	t.Run("list chunk before data", func(t *testing.T) {
		list := append([]byte("LIST"), 0x88, 0x13, 0, 0) // 5000 bytes
		list = append(list, make([]byte, 5000)...)
		w := append(append(bytes.Clone(wav[:36]), list...), wav[36:]...)
		d, err := NewDecoder(bytes.NewReader(w))
		require.NoError(t, err)
		assert.Equal(t, 100*time.Millisecond, d.Duration())
	})
	for name, b := range map[string][]byte{
		"empty":      nil,
		"not riff":   []byte("hello world, this is not a wav file"),
		"no fmt":     append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00"), 1, 2, 3, 4),
		"gsm codec":  func() []byte { w := bytes.Clone(wav); w[20] = 0x31; return w }(),
		"zero rate":  func() []byte { w := bytes.Clone(wav); copy(w[24:28], []byte{0, 0, 0, 0}); return w }(),
		"huge chunk": append([]byte("RIFF\x00\x00\x00\x00WAVEjunk\xff\xff\xff\x7f"), make([]byte, 100)...),
	} {
		t.Run("bad "+name, func(t *testing.T) {
			_, err := NewDecoder(bytes.NewReader(b))
			assert.ErrorIs(t, err, ErrBadAudio)
		})
	}
}

func TestTransferDecoding(t *testing.T) {
	data := testWAV(EncodingMuLaw, 8000, 0.05)
	enc := base64.StdEncoding.EncodeToString(data)
	for _, lineLen := range []int{1, 3, 57, 61, 76, 77, 1000, 100000} {
		var b strings.Builder
		for i := 0; i < len(enc); i += lineLen {
			b.WriteString(enc[i:min(i+lineLen, len(enc))])
			b.WriteString("\r\n")
			if lineLen == 3 {
				b.WriteString(" \t") // stray whitespace
			}
		}
		got, err := io.ReadAll(decodeTransfer(strings.NewReader(b.String()), "BASE64"))
		require.NoError(t, err, "line length %d", lineLen)
		assert.Equal(t, data, got, "line length %d", lineLen)
		prefix := decodePrefix([]byte(b.String()[:min(probeSize, b.Len())]), "base64")
		assert.Equal(t, data[:len(prefix)], prefix)
	}
}

func TestParseMessage(t *testing.T) {
	wav := testWAV(EncodingALaw, 8000, 0.75)
	tests := []struct {
		name    string
		msg     []byte
		wantErr error
		format  string
		dur     time.Duration
	}{
		{name: "text and wav", msg: buildMsg(msgSpec{Audio: wav}), format: "audio/wav alaw 8000Hz mono", dur: 750 * time.Millisecond},
		{name: "x-wav odd lines", msg: buildMsg(msgSpec{Audio: wav, AudioCT: "audio/x-wav", LineLen: 61}), format: "audio/x-wav alaw 8000Hz mono", dur: 750 * time.Millisecond},
		{name: "nested multipart", msg: buildMsg(msgSpec{Audio: wav, Nested: true}), format: "audio/wav alaw 8000Hz mono", dur: 750 * time.Millisecond},
		{name: "octet-stream wav attachment", msg: buildMsg(msgSpec{Audio: wav, AudioCT: "application/octet-stream"}), format: "application/octet-stream alaw 8000Hz mono", dur: 750 * time.Millisecond},
		{name: "binary encoding", msg: buildMsg(msgSpec{Audio: wav, Encoding: "binary", NoText: true}), format: "audio/wav alaw 8000Hz mono", dur: 750 * time.Millisecond},
		{name: "no audio", msg: buildMsg(msgSpec{}), wantErr: ErrNoAudio},
		{name: "not a wav", msg: buildMsg(msgSpec{Audio: []byte("garbage that is long enough to be no riff header")}), wantErr: ErrBadAudio, format: "audio/wav"},
		{name: "forwarded voicemail", msg: forwarded(buildMsg(msgSpec{Audio: wav})), format: "audio/wav alaw 8000Hz mono", dur: 750 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, audio, err := ParseMessage(bytes.NewReader(tt.msg))
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, wav, audio)
			}
			assert.Equal(t, tt.format, v.Format.String())
			assert.Equal(t, tt.dur, v.Duration)
		})
	}
}

func forwarded(inner []byte) []byte {
	var b bytes.Buffer
	b.WriteString("From: alice@example.test\r\nSubject: Fwd: voice message\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/mixed; boundary=\"fwd\"\r\n\r\n--fwd\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n")
	b.WriteString("--fwd\r\nContent-Type: message/rfc822\r\n\r\n")
	b.Write(inner)
	b.WriteString("\r\n--fwd--\r\n")
	return b.Bytes()
}

func TestAudioFormatString(t *testing.T) {
	assert.Equal(t, "", AudioFormat{}.String())
	assert.Equal(t, "audio/wav", AudioFormat{MIMEType: "audio/wav"}.String())
	assert.Equal(t, "audio/wav pcm16 16000Hz stereo", AudioFormat{MIMEType: "audio/wav", Encoding: EncodingPCM, BitsPerSample: 16, SampleRate: 16000, Channels: 2}.String())
}

func TestDiff(t *testing.T) {
	prev := &Snapshot{UIDValidity: 1, Messages: []Voicemail{{ID: 1}, {ID: 2}, {ID: 3, Heard: true}}}
	next := &Snapshot{UIDValidity: 1, Messages: []Voicemail{{ID: 1, Heard: true}, {ID: 3, Heard: true}, {ID: 4}}}
	arrived, changed, removed, renum := diff(prev, next)
	assert.False(t, renum)
	assert.Equal(t, []ID{2}, removed)
	require.Len(t, arrived, 1)
	assert.Equal(t, ID(4), arrived[0].ID)
	require.Len(t, changed, 1)
	assert.Equal(t, ID(1), changed[0].ID)
	_, _, _, renum = diff(prev, &Snapshot{UIDValidity: 2})
	assert.True(t, renum)
}

func TestConfigCheck(t *testing.T) {
	ok := Config{Server: "127.0.0.1:993", UserName: "a", Password: "p"}
	for name, tc := range map[string]struct {
		mut   func(*Config)
		field string
	}{
		"no server":  {func(c *Config) { c.Server = "" }, "Server"},
		"bad server": {func(c *Config) { c.Server = "nohost" }, "Server"},
		"bad tls":    {func(c *Config) { c.TLSMode = "none" }, "TLSMode"},
		"no user":    {func(c *Config) { c.UserName = "" }, "UserName"},
		"no pass":    {func(c *Config) { c.Password = "" }, "Password"},
	} {
		t.Run(name, func(t *testing.T) {
			c := ok
			tc.mut(&c)
			_, err := New(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "Config."+tc.field)
		})
	}
	c, err := ok.check()
	require.NoError(t, err)
	assert.Equal(t, "INBOX", c.Folder)
	assert.Equal(t, TLSImplicit, c.TLSMode)
}

func TestMailboxLifecycleWithoutServer(t *testing.T) {
	cfg := Config{Server: deadAddr(t), UserName: "a", Password: "p", DialTimeout: time.Second}
	m, err := New(cfg)
	require.NoError(t, err)
	err = m.Start(t.Context())
	require.Error(t, err, "no cache and no server: Start fails")
	assert.False(t, m.Health().Healthy)
	assert.Error(t, m.Health().LastError)
	require.NoError(t, m.Close())
	assert.ErrorIs(t, m.Close(), net.ErrClosed)
	assert.ErrorIs(t, m.Shutdown(t.Context()), net.ErrClosed)
	_, err = m.Audio(t.Context(), 1)
	assert.ErrorIs(t, err, ErrNotStarted)
	assert.Error(t, m.Start(t.Context()), "a Mailbox starts once")

	// Dial failures are plain errors that name the server.
	_, err = Dial(t.Context(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), cfg.Server)
}

// hasBadCtl's word-wide test agrees with the table for every byte value in
// every position of a word, after plain text, high bytes or line ends.
func TestHasBadCtlEveryByte(t *testing.T) {
	for _, fill := range []byte{'a', 0xff, '\r', '\n', '\t', 0x80, 0x20} {
		for pos := range 16 {
			for v := range 256 {
				raw := bytes.Repeat([]byte{fill}, 17)
				raw[pos] = byte(v)
				want := badCtl[byte(v)] || badCtl[fill]
				if got := hasBadCtl(raw); got != want {
					t.Fatalf("hasBadCtl(%q) = %v, want %v", raw, got, want)
				}
			}
		}
	}
}

// listHeaderIndex finds each listed name in any case, and nothing for
// other names of the same lengths, names one byte off, or non-ASCII
// look-alikes.
func TestListHeaderIndex(t *testing.T) {
	for i, h := range listHeaders {
		assert.Equal(t, i, listHeaderIndex(h), h)
		assert.Equal(t, i, listHeaderIndex(strings.ToUpper(h)), h)
		assert.Equal(t, i, listHeaderIndex(strings.ToLower(h)), h)
		for pos := range len(h) {
			b := []byte(h)
			b[pos] ^= 0x01
			if !strings.EqualFold(string(b), h) {
				assert.Equal(t, -1, listHeaderIndex(string(b)), "%q", b)
			}
		}
	}
	for _, name := range []string{"", "To", "Fron", "Dat\u212a", "X-Priorit\u0131", strings.Repeat("x", 40), "Received"} {
		assert.Equal(t, -1, listHeaderIndex(name), name)
	}
}

func FuzzTrimSpace(f *testing.F) {
	for _, s := range []string{"", " a ", "\t\r\n\v\f x\u00a0", "\u0085y\u2003", " \xff ", "é ", "  "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := trimSpace(s), strings.TrimSpace(s); got != want {
			t.Fatalf("trimSpace(%q) = %q, want %q", s, got, want)
		}
	})
}

// simpleAddress, the fast path for From, reads what net/mail reads
// wherever both accept an address (the fast path is the more lenient:
// "<5551234@>" still gives a number).
func FuzzSimpleAddress(f *testing.F) {
	for _, s := range []string{`"Caller 1" <5550001@vm.example.test>`, `Bob <b@x>`, `b@x`, `"a\"b" <c@d>`, `<@x>`, `a@b@c`, `=?utf-8?q?x?= <a@b>`, `"x" y <a@b>`, ` a@b `, `"Q" <a b@c>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		name, local, ok := simpleAddress(v)
		if !ok {
			return
		}
		addr, err := addrParser.Parse(v)
		if err != nil {
			return
		}
		if at := strings.LastIndexByte(addr.Address, '@'); addr.Name != name || at < 0 || addr.Address[:at] != local {
			t.Fatalf("simpleAddress(%q) = %q %q, net/mail %q %q", v, name, local, addr.Name, addr.Address)
		}
	})
}

// sortByID leaves a listing in UID order as it is and sorts one that is
// not, whatever order it came in.
func TestSortByID(t *testing.T) {
	for _, ids := range [][]ID{nil, {1}, {1, 2, 3}, {3, 1, 2}, {2, 2, 1}, {5, 4, 3, 2, 1}} {
		m := make([]Voicemail, len(ids))
		for i, id := range ids {
			m[i] = Voicemail{ID: id, Subject: strconv.Itoa(int(id))}
		}
		sortByID(m)
		for i := range m {
			assert.Equal(t, strconv.Itoa(int(m[i].ID)), m[i].Subject)
			if i > 0 {
				assert.LessOrEqual(t, m[i-1].ID, m[i].ID, "%v", ids)
			}
		}
	}
}
