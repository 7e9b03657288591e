package g711

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  func([]byte, []int16) []byte
		dec  func([]int16, []byte) []int16
	}{
		{"ulaw", EncodeULaw, DecodeULaw},
		{"alaw", EncodeALaw, DecodeALaw},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range []int16{0, 1, -1, 100, -100, 1000, -1000, 8000, -8000, 32767, -32768} {
				out := tc.dec(make([]int16, 1), tc.enc(nil, []int16{s}))[0]
				diff := int(out) - int(s)
				if diff < 0 {
					diff = -diff
				}
				// G.711 keeps about 4 significant bits: the error is under 1/16 of the value.
				assert.LessOrEqual(t, diff, 16+abs(int(s))/16, "sample %d decoded as %d", s, out)
			}
			// Every code decodes and re-encodes to itself.
			for b := range 256 {
				s := tc.dec(make([]int16, 1), []byte{byte(b)})[0]
				again := tc.enc(nil, []int16{s})[0]
				assert.Equal(t, tc.dec(make([]int16, 1), []byte{again})[0], s, "code %#x", b)
			}
		})
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func BenchmarkEncodeULaw(b *testing.B) {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 200)
	}
	buf := make([]byte, 0, 160)
	b.ReportAllocs()
	for b.Loop() {
		buf = EncodeULaw(buf[:0], pcm)
	}
}
