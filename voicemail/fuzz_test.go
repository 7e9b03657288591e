package voicemail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseMessage feeds whole messages to the client-side MIME parser.
// Properties: it never panics; a caller number holds only dialable
// characters; a duration is within a day; and a message built around a
// fuzzed audio payload gives that payload back byte for byte, whatever the
// base64 line length and nesting.
func FuzzParseMessage(f *testing.F) {
	wav := testWAV(EncodingMuLaw, 8000, 0.01)
	f.Add(buildMsg(msgSpec{Audio: wav}), []byte("x"), uint8(76), false)
	f.Add(buildMsg(msgSpec{Audio: wav, Nested: true, LineLen: 61}), wav, uint8(61), true)
	f.Add(buildMsg(msgSpec{}), []byte{}, uint8(1), false)
	f.Add(forwarded(buildMsg(msgSpec{Audio: wav})), []byte("RIFF"), uint8(3), true)
	f.Add([]byte("From: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: audio/wav\r\nContent-Transfer-Encoding: base64\r\n\r\nUklGR\r\n"), []byte{0}, uint8(0), false)
	f.Fuzz(func(t *testing.T, raw []byte, audio []byte, lineLen uint8, nested bool) {
		v, _, _ := ParseMessage(bytes.NewReader(raw))
		checkMeta(t, v)

		// Round trip: the payload survives MIME packaging.
		if len(audio) == 0 {
			return
		}
		msg := buildMsg(msgSpec{Audio: audio, LineLen: int(lineLen%200) + 1, Nested: nested})
		v, got, err := ParseMessage(bytes.NewReader(msg))
		if err != nil && !errors.Is(err, ErrBadAudio) {
			t.Fatalf("built message: %v", err)
		}
		if !bytes.Equal(got, audio) {
			t.Fatalf("audio changed: %d bytes in, %d out", len(audio), len(got))
		}
		checkMeta(t, v)
	})
}

func checkMeta(t *testing.T, v Voicemail) {
	t.Helper()
	for _, r := range v.CallerNumber {
		if !strings.ContainsRune("0123456789+*#", r) {
			t.Fatalf("caller number %q has %q", v.CallerNumber, r)
		}
	}
	if v.Duration < 0 || v.Duration > 24*time.Hour && v.Format.Encoding == EncodingUnknown {
		t.Fatalf("duration %v", v.Duration)
	}
}

// FuzzHeaders checks the header-derived metadata: no panic, clean
// numbers, and a caller ID written in the usual form reads back.
func FuzzHeaders(f *testing.F) {
	f.Add([]byte("From: \"Bob\" <5551234@vm>\r\nX-Priority: 1\r\n"), "Carol Jones", "+15550001")
	f.Add([]byte("X-CallerID: =?utf-8?q?J=C3=BCrgen?= <49301>\r\nContent-Duration: 12.5\r\n"), "J", "1")
	f.Add([]byte("Sensitivity: Private\nImportance: high\n"), "", "")
	f.Fuzz(func(t *testing.T, raw []byte, name, number string) {
		if naive := slices.ContainsFunc(raw, func(c byte) bool { return badCtl[c] }); hasBadCtl(raw) != naive {
			t.Fatalf("hasBadCtl(%q) = %v", raw, !naive)
		}
		m := metaOfBlock(raw, nil)
		checkMeta(t, Voicemail{CallerNumber: m.CallerNumber})
		// Strings carved from a listing's shared chunk read the same, and
		// a later block does not change them.
		var kept textChunk
		if got := metaOfBlock(raw, &kept); got != m {
			t.Fatalf("header block %q: from the chunk %+v, own strings %+v", raw, got, m)
		} else if _ = metaOfBlock(append(slices.Clone(raw), raw...), &kept); got != m {
			t.Fatalf("header block %q: changed by the next block: %+v", raw, got)
		}
		// The listing's in-place reading agrees with the general header
		// parser.
		if want := metaOf(parseHeaderBlock(raw)); !reflect.DeepEqual(m, want) {
			t.Fatalf("header block %q: in place %+v, parsed %+v", raw, m, want)
		}
		// Round trip for well-formed values.
		if !looksLikeNumber(number) || strings.IndexFunc(number, func(r rune) bool { return r < ' ' }) >= 0 || !utf8.ValidString(name) ||
			strings.ContainsAny(name, "\"<>\\\r\n") || cleanName(name) != strings.TrimSpace(name) || strings.TrimSpace(name) == "" ||
			looksLikeNumber(name) || strings.Contains(name, "=?") {
			return
		}
		m = metaOfBlock([]byte("X-CallerID: \""+name+"\" <"+number+">\r\n"), nil)
		if m.CallerName != strings.TrimSpace(name) || m.CallerNumber != cleanNumber(number) {
			t.Fatalf("caller %q %q read back as %q %q", name, number, m.CallerName, m.CallerNumber)
		}
	})
}

// FuzzWAV decodes arbitrary bytes as WAV. Properties: no panic, no more
// samples than bytes, and a decoded file exported with WriteWAV decodes to
// the same samples.
func FuzzWAV(f *testing.F) {
	for _, enc := range []Encoding{EncodingPCM, EncodingMuLaw, EncodingALaw} {
		f.Add(testWAV(enc, 8000, 0.005))
	}
	w := testWAV(EncodingPCM, 8000, 0.005)
	f.Add(w[:50])
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\xff\xff\xff\xff\x01\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseWAVHeader(data)
		_ = decodePrefix(data, "base64")
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			return
		}
		first, err := readAllSamples(d)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("read: %v", err)
		}
		if len(first) > len(data) {
			t.Fatalf("%d samples from %d bytes", len(first), len(data))
		}
		if err != nil {
			return // WriteWAV refuses a stream shorter than announced
		}
		d, _ = NewDecoder(bytes.NewReader(data))
		var out bytes.Buffer
		if _, err := WriteWAV(&out, d); err != nil {
			t.Fatalf("export: %v", err)
		}
		d2, err := NewDecoder(&out)
		if err != nil {
			t.Fatalf("exported file unreadable: %v", err)
		}
		second, err := readAllSamples(d2)
		if err != nil || !equalSamples(first, second) {
			t.Fatalf("export changed samples (%d vs %d, %v)", len(first), len(second), err)
		}
	})
}

// FuzzBase64 checks the lenient transfer decoding against the standard
// encoder for every line length and stray whitespace.
func FuzzBase64(f *testing.F) {
	f.Add([]byte("RIFF0000WAVE"), uint8(76), uint8(0))
	f.Add([]byte{0, 1, 2, 3, 4, 5}, uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, lineLen, noise uint8) {
		enc := base64.StdEncoding.EncodeToString(data)
		n := int(lineLen) + 1
		var b strings.Builder
		for i := 0; i < len(enc); i += n {
			b.WriteString(enc[i:min(i+n, len(enc))])
			b.WriteString("\r\n")
			if noise%3 == 1 {
				b.WriteString(" \t")
			}
		}
		got, err := io.ReadAll(decodeTransfer(strings.NewReader(b.String()), "base64"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("decode: %v, %d of %d bytes", err, len(got), len(data))
		}
		cut := b.String()[:len(b.String())*int(noise)/256]
		prefix := decodePrefix([]byte(cut), "base64")
		if !bytes.HasPrefix(data, prefix) {
			t.Fatalf("prefix decode is not a prefix")
		}
	})
}

func readAllSamples(d *Decoder) ([]int16, error) {
	var all []int16
	buf := make([]int16, 333)
	for {
		n, err := d.ReadSamples(buf)
		all = append(all, buf[:n]...)
		if err == io.EOF {
			return all, nil
		}
		if err != nil {
			return all, err
		}
	}
}

func equalSamples(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
