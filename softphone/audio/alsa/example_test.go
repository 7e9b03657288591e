//go:build alsa && linux && cgo

package alsa_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencsf/opencsf/softphone/audio"
	"github.com/opencsf/opencsf/softphone/audio/alsa"
)

// Play a second of a 1 kHz tone. A phone would open "default" (or ""); here
// ALSA's file plugin stands in for a sound card and keeps what is played.
func ExampleOpenPlayback() {
	dir, err := os.MkdirTemp("", "alsa-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "tone.raw")

	pb, err := alsa.OpenPlayback(context.Background(), "file:FILE="+out+",FORMAT=raw", &alsa.Options{Queue: 50})
	if err != nil {
		fmt.Println(err)
		return
	}
	tone := &audio.Tone{Frequency: 1000}
	frame := make([]int16, audio.FrameSamples)
	for range 50 { // 50 frames of 20 ms
		_ = tone.ReadFrame(frame)
		_ = pb.WriteFrame(frame)
	}
	if err := pb.Close(); err != nil {
		fmt.Println(err)
		return
	}
	st, _ := os.Stat(out)
	fmt.Println(st.Size(), "bytes,", pb.Stats().Dropped, "dropped")
	// Output: 16000 bytes, 0 dropped
}
