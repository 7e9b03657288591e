//go:build alsa && linux && cgo

package alsa_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/opencsf/opencsf/softphone/audio"
	"github.com/opencsf/opencsf/softphone/audio/alsa"
)

// What a frame costs: WriteFrame on a Playback of the null PCM, against the
// peer, audio.WAVSink writing a file. "enqueue" is what the media loop pays
// when it writes faster than the device plays (most frames find the queue
// full and are dropped: see dropped/op); "delivered" retries each dropped
// frame, so it measures the whole way into ALSA, goroutine and cgo included.

func BenchmarkWriteFrame(b *testing.B) {
	frame := make([]int16, audio.FrameSamples)
	_ = (&audio.Tone{Frequency: 1000}).ReadFrame(frame)

	b.Run("alsa.Playback/null/enqueue", func(b *testing.B) {
		pb, err := alsa.OpenPlayback(context.Background(), "null", nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := pb.WriteFrame(frame); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := pb.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(pb.Stats().Dropped)/float64(b.N), "dropped/op")
	})

	b.Run("alsa.Playback/null/delivered", func(b *testing.B) {
		pb, err := alsa.OpenPlayback(context.Background(), "null", nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			for {
				dropped := pb.Stats().Dropped
				if err := pb.WriteFrame(frame); err != nil {
					b.Fatal(err)
				}
				if pb.Stats().Dropped == dropped {
					break
				}
				runtime.Gosched()
			}
		}
		b.StopTimer()
		if err := pb.Close(); err != nil {
			b.Fatal(err)
		}
	})

	b.Run("audio.WAVSink/file", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "out.wav"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		s, err := audio.NewWAVSink(f)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := s.WriteFrame(frame); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	})
}
