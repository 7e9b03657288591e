package audio

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memFile is an in-memory io.WriteSeeker.
type memFile struct {
	b   []byte
	off int
}

func (m *memFile) Write(p []byte) (int, error) {
	if need := m.off + len(p); need > len(m.b) {
		m.b = append(m.b, make([]byte, need-len(m.b))...)
	}
	copy(m.b[m.off:], p)
	m.off += len(p)
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		m.off = int(off)
	case io.SeekEnd:
		m.off = len(m.b) + int(off)
	default:
		m.off += int(off)
	}
	return int64(m.off), nil
}

func TestWAVRoundTripAndGoertzel(t *testing.T) {
	f := &memFile{}
	sink, err := NewWAVSink(f)
	require.NoError(t, err)
	tone := &Tone{Frequency: 1000}
	frame := make([]int16, FrameSamples)
	for range 50 {
		require.NoError(t, tone.ReadFrame(frame))
		require.NoError(t, sink.WriteFrame(frame))
	}
	require.NoError(t, sink.Close())

	src, err := NewWAVSource(bytes.NewReader(f.b))
	require.NoError(t, err)
	det := &ToneDetector{Frequency: 1000}
	other := &ToneDetector{Frequency: 440}
	for src.ReadFrame(frame) == nil {
		_ = det.WriteFrame(frame)
		_ = other.WriteFrame(frame)
	}
	n, hit := det.Counts()
	assert.Equal(t, 50, n)
	assert.Equal(t, 50, hit)
	_, miss := other.Counts()
	assert.Zero(t, miss)

	_, err = NewWAVSource(bytes.NewReader([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00")))
	assert.Error(t, err)
}

func FuzzWAVSource(f *testing.F) {
	m := &memFile{}
	s, _ := NewWAVSink(m)
	_ = s.WriteFrame(make([]int16, FrameSamples))
	_ = s.Close()
	f.Add(m.b)
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := NewWAVSource(bytes.NewReader(b))
		if err != nil {
			return
		}
		frame := make([]int16, FrameSamples)
		// Property: a source ends, and never yields more samples than bytes.
		frames := 0
		for src.ReadFrame(frame) == nil {
			frames++
			require.LessOrEqual(t, frames*2*FrameSamples, len(b)+2*FrameSamples)
		}
	})
}
