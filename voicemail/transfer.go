package voicemail

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"slices"
	"strings"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// b64Filter passes only base64 alphabet and padding, so that line breaks
// of any length, stray spaces and tabs (seen from real voicemail systems)
// do not stop the decoder.
type b64Filter struct{ r io.Reader }

func (f b64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if isB64(c) {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

func isB64(c byte) bool { return b64Chars[c] }

// b64Chars marks the base64 alphabet and '=': a table, since the listing
// checks every byte of every audio part's first kilobyte.
var b64Chars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") {
		t[c] = true
	}
	return t
}()

// decodeTransfer undoes a Content-Transfer-Encoding on a stream.
func decodeTransfer(r io.Reader, encoding string) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, b64Filter{r: bufio.NewReaderSize(r, 8192)})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	default: // 7bit, 8bit, binary, or unknown: as is
		return r
	}
}

// decodePrefix decodes the first bytes of an encoded part, fetched with a
// partial range, ignoring the incomplete tail.
func decodePrefix(b []byte, encoding string) []byte {
	return decodePrefixInto(nil, b, encoding)
}

// decodePrefixInto is decodePrefix working in scratch (grown as needed,
// returned through *scratch) for base64: a listing decodes the start of
// every audio part and keeps none of it.
func decodePrefixInto(scratch *[]byte, b []byte, encoding string) []byte {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		// The data characters, then the decoded bytes, in one buffer.
		need := len(b) + base64.StdEncoding.DecodedLen(len(b))
		var buf []byte
		if scratch != nil {
			*scratch = slices.Grow((*scratch)[:0], need)[:need]
			buf = *scratch
		} else {
			buf = make([]byte, need)
		}
		clean := buf[:0:len(b)]
		for _, c := range b {
			if c == '=' {
				break
			}
			if b64Chars[c] {
				clean = append(clean, c)
			}
		}
		clean = clean[:len(clean)/4*4]
		out := buf[len(b):]
		n, _ := base64.StdEncoding.Decode(out, clean)
		return out[:n:n]
	case "quoted-printable":
		out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
		return out
	default:
		return b
	}
}
