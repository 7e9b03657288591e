package opus

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	if !Available {
		_, err := NewEncoder(8000, 0)
		require.ErrorIs(t, err, ErrUnavailable)
		t.Skip("built without -tags opus")
	}
	enc, err := NewEncoder(8000, 0)
	require.NoError(t, err)
	defer enc.Close()
	dec, err := NewDecoder(8000)
	require.NoError(t, err)
	defer dec.Close()
	pcm := make([]int16, 160)
	out := make([]int16, 160)
	pkt := make([]byte, 400)
	var energy float64
	for f := range 50 {
		for i := range pcm {
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(f*160+i)/8000))
		}
		n, err := enc.Encode(pcm, pkt)
		require.NoError(t, err)
		assert.Positive(t, n)
		m, err := dec.Decode(pkt[:n], out)
		require.NoError(t, err)
		assert.Equal(t, 160, m)
		if f > 10 {
			for _, v := range out {
				energy += float64(v) * float64(v)
			}
		}
	}
	assert.Greater(t, energy/(39*160), 1e6, "decoded audio is near silence")
	m, err := dec.Decode(nil, out)
	require.NoError(t, err)
	assert.Equal(t, 160, m, "loss concealment fills a frame")
}
