package audio

import (
	"math"
	"sync"
)

// Goertzel returns the power of frequency hz in samples, normalised so
// that a full-scale sine at hz gives about 0.25 and silence 0 (Goertzel's
// algorithm: one DFT bin without an FFT).
func Goertzel(samples []int16, hz float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*hz/SampleRate)
	var s1, s2 float64
	for _, v := range samples {
		s0 := float64(v)/32768 + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	n := float64(len(samples))
	return p / (n * n)
}

// ToneDetector is a Sink that counts the frames in which a tone of
// Frequency dominates. The zero value detects nothing; set Frequency.
type ToneDetector struct {
	Frequency float64
	// Threshold is the minimum Goertzel power a frame needs; 0 means 0.001
	// (a sine of about 6% of full scale).
	Threshold float64

	mu     sync.Mutex // guards the counters
	frames int
	tone   int
}

// WriteFrame measures f.
func (d *ToneDetector) WriteFrame(f []int16) error {
	th := d.Threshold
	if th == 0 {
		th = 0.001
	}
	p := Goertzel(f, d.Frequency)
	d.mu.Lock()
	d.frames++
	if p >= th {
		d.tone++
	}
	d.mu.Unlock()
	return nil
}

// Counts returns how many frames were written and how many held the tone.
func (d *ToneDetector) Counts() (frames, tone int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.frames, d.tone
}
