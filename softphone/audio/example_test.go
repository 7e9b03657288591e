package audio_test

import (
	"fmt"

	"github.com/opencsf/opencsf/softphone/audio"
)

// A tone detector finds a 1 kHz tone and not a 440 Hz one.
func ExampleToneDetector() {
	tone := &audio.Tone{Frequency: 1000}
	det1k := &audio.ToneDetector{Frequency: 1000}
	det440 := &audio.ToneDetector{Frequency: 440}
	frame := make([]int16, audio.FrameSamples)
	for range 10 {
		_ = tone.ReadFrame(frame)
		_ = det1k.WriteFrame(frame)
		_ = det440.WriteFrame(frame)
	}
	_, hits := det1k.Counts()
	_, misses := det440.Counts()
	fmt.Println(hits, misses)
	// Output: 10 0
}
