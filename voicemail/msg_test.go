package voicemail

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// testWAV makes a WAV file of a 440 Hz tone: enc is EncodingPCM (16-bit),
// EncodingMuLaw or EncodingALaw.
func testWAV(enc Encoding, rate int, dur float64) []byte {
	n := int(float64(rate) * dur)
	var data []byte
	for i := range n {
		s := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		switch enc {
		case EncodingMuLaw:
			data = append(data, encodeMuLawTest(s))
		case EncodingALaw:
			data = append(data, encodeALawTest(s))
		default:
			data = binary.LittleEndian.AppendUint16(data, uint16(s))
		}
	}
	code, bits := uint16(wavePCM), 16
	switch enc {
	case EncodingMuLaw:
		code, bits = waveMuLaw, 8
	case EncodingALaw:
		code, bits = waveALaw, 8
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, code)
	binary.Write(&b, binary.LittleEndian, uint16(1))
	binary.Write(&b, binary.LittleEndian, uint32(rate))
	binary.Write(&b, binary.LittleEndian, uint32(rate*bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(bits))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

// encodeMuLawTest is the G.711 µ-law compressor (for test data only).
func encodeMuLawTest(s int16) byte {
	const bias, clip = 0x84, 32635
	v := int(s)
	sign := 0
	if v < 0 {
		v, sign = -v, 0x80
	}
	v = min(v, clip) + bias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}

func encodeALawTest(s int16) byte {
	v := int(s) >> 3
	sign := 0x80
	if v < 0 {
		v, sign = -v-1, 0
	}
	var out int
	if v < 32 {
		out = v >> 1
	} else {
		seg := 1
		for t := v >> 5; t > 1 && seg < 7; t >>= 1 {
			seg++
		}
		out = seg<<4 | (v>>seg)&0x0f
	}
	return byte(out|sign) ^ 0x55
}

// msgSpec describes a test voicemail.
type msgSpec struct {
	Headers  string // extra header lines, CRLF separated, without a final CRLF
	From     string
	Audio    []byte
	AudioCT  string // default audio/wav
	LineLen  int    // base64 line length; default 76
	Nested   bool   // put the audio inside a nested multipart/mixed
	NoText   bool
	Encoding string // default base64
	// NameOnlyInDisposition leaves the file name out of Content-Type.
	NameOnlyInDisposition bool
}

func buildMsg(s msgSpec) []byte {
	if s.From == "" {
		s.From = `"Bob Smith" <5551234@vm.example.test>`
	}
	if s.AudioCT == "" {
		s.AudioCT = "audio/wav"
	}
	if s.LineLen == 0 {
		s.LineLen = 76
	}
	if s.Encoding == "" {
		s.Encoding = "base64"
	}
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f+"\r\n", a...) }
	w("From: %s", s.From)
	w("To: alice@example.test")
	w("Date: Wed, 25 Nov 2026 09:30:00 +0000")
	w("Subject: Voice message from Bob")
	w("Message-ID: <%d@vm.example.test>", len(s.Audio)+len(s.Headers))
	if s.Headers != "" {
		b.WriteString(s.Headers + "\r\n")
	}
	w("MIME-Version: 1.0")
	if s.Audio == nil {
		w("Content-Type: text/plain; charset=utf-8")
		w("")
		w("No audio in this one.")
		return []byte(b.String())
	}
	w(`Content-Type: multipart/mixed; boundary="outer"`)
	w("")
	if !s.NoText {
		w("--outer")
		w("Content-Type: text/plain; charset=utf-8")
		w("")
		w("You have a new voice message.")
	}
	if s.Nested {
		w("--outer")
		w(`Content-Type: multipart/mixed; boundary="inner"`)
		w("")
		w("--inner")
		w("Content-Type: text/plain")
		w("")
		w("inner text")
	}
	bnd := "outer"
	if s.Nested {
		bnd = "inner"
	}
	w("--%s", bnd)
	if s.NameOnlyInDisposition {
		w("Content-Type: %s", s.AudioCT)
	} else {
		w(`Content-Type: %s; name="msg0001.wav"`, s.AudioCT)
	}
	w("Content-Transfer-Encoding: %s", s.Encoding)
	w(`Content-Disposition: attachment; filename="msg0001.wav"`)
	w("")
	if s.Encoding == "base64" {
		enc := base64.StdEncoding.EncodeToString(s.Audio)
		for len(enc) > 0 {
			n := min(s.LineLen, len(enc))
			w("%s", enc[:n])
			enc = enc[n:]
		}
	} else {
		b.Write(s.Audio)
		w("")
	}
	w("--%s--", bnd)
	if s.Nested {
		w("--outer--")
	}
	return []byte(b.String())
}
