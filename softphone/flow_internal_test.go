package softphone

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestShortBody(t *testing.T) {
	for _, tc := range []struct {
		msg           string
		declared, got int
		short         bool
	}{
		{"INFO sip:a@b SIP/2.0\r\nContent-Length: 400\r\n\r\nSignal=1\r\n", 400, 10, true},
		{"INFO sip:a@b SIP/2.0\r\nl:11\r\n\r\nSignal=1\r\n", 11, 10, true},
		{"INFO sip:a@b SIP/2.0\r\ncontent-length : 10\r\n\r\nSignal=1\r\n", 10, 10, false},
		// More body than declared is cut by the parser, not refused.
		{"INFO sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\nSignal=1\r\n", 2, 10, false},
		{"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", 0, 0, false},
		{"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n", 0, 0, false},
		{"no header end\r\nContent-Length: 9", 0, 0, false},
	} {
		d, g, short := shortBody([]byte(tc.msg))
		assert.Equal(t, tc.short, short, tc.msg)
		if short {
			assert.Equal(t, tc.declared, d, tc.msg)
			assert.Equal(t, tc.got, g, tc.msg)
		}
	}
}

func FuzzShortBody(f *testing.F) {
	f.Add([]byte("INFO sip:a@b SIP/2.0\r\nContent-Length: 400\r\n\r\nSignal=1\r\n"))
	f.Add([]byte("INFO sip:a@b SIP/2.0\r\nl: 3\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		declared, got, short := shortBody(b)
		if short && declared <= got {
			t.Fatalf("short with %d declared, %d got", declared, got)
		}
		if got > len(b) {
			t.Fatalf("%d body bytes in %d", got, len(b))
		}
	})
}
