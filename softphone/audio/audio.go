package audio

import (
	"errors"
	"io"
	"math"
)

// SampleRate is the rate of every frame, in samples per second (narrowband,
// the rate of G.711).
const SampleRate = 8000

// FrameSamples is the number of samples in one frame: 20 ms at [SampleRate].
const FrameSamples = SampleRate / 50

// Source produces audio to send. ReadFrame fills all of f (len(f) is
// [FrameSamples]) and returns io.EOF once the source has nothing more; a
// call then sends silence. It must not block for longer than a frame.
type Source interface {
	ReadFrame(f []int16) error
}

// Sink consumes audio received. WriteFrame must not keep f after it
// returns and must not block for longer than a frame.
type Sink interface {
	WriteFrame(f []int16) error
}

// Silence is a Source of zero samples that never ends.
type Silence struct{}

// ReadFrame fills f with zeros.
func (Silence) ReadFrame(f []int16) error {
	clear(f)
	return nil
}

// Discard is a Sink that drops every frame.
type Discard struct{}

// WriteFrame does nothing.
func (Discard) WriteFrame([]int16) error { return nil }

// Tone is a Source of a sine wave that never ends. The zero value is
// silence; set Frequency in Hz and Amplitude as a fraction of full scale
// (0 means 0.3).
type Tone struct {
	Frequency float64
	Amplitude float64
	phase     float64
}

// ReadFrame fills f with the next samples of the wave.
func (t *Tone) ReadFrame(f []int16) error {
	amp := t.Amplitude
	if amp == 0 {
		amp = 0.3
	}
	step := 2 * math.Pi * t.Frequency / SampleRate
	for i := range f {
		f[i] = int16(amp * 32767 * math.Sin(t.phase))
		t.phase += step
		if t.phase > 2*math.Pi {
			t.phase -= 2 * math.Pi
		}
	}
	return nil
}

// Limit passes Frames frames of Source on, then returns io.EOF.
type Limit struct {
	Source Source
	Frames int
	n      int
}

// ReadFrame reads from the wrapped source until the limit.
func (l *Limit) ReadFrame(f []int16) error {
	if l.n >= l.Frames {
		return io.EOF
	}
	l.n++
	return l.Source.ReadFrame(f)
}

// ErrFormat is returned for a WAV file that is not 16-bit PCM mono at
// [SampleRate].
var ErrFormat = errors.New("audio: want a WAV file of 16-bit PCM, mono, 8000 Hz")
