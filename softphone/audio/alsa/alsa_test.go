//go:build alsa && linux && cgo

package alsa_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/opencsf/opencsf/softphone/audio"
	"github.com/opencsf/opencsf/softphone/audio/alsa"
)

// These tests need no sound card: ALSA's file plugin writes what is played
// to a file (and reads what is captured from one) over the null PCM, which
// has no hardware behind it.

// rawFrames splits a file of 16-bit little-endian samples into frames.
func rawFrames(t *testing.T, b []byte) [][]int16 {
	t.Helper()
	require.Zero(t, len(b)%(2*audio.FrameSamples), "file holds whole frames")
	var frames [][]int16
	for len(b) > 0 {
		f := make([]int16, audio.FrameSamples)
		for i := range f {
			f[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
		frames = append(frames, f)
		b = b[2*audio.FrameSamples:]
	}
	return frames
}

func TestPlaybackWritesTone(t *testing.T) {
	defer goleak.VerifyNone(t)
	out := filepath.Join(t.TempDir(), "out.raw")
	const frames = 50
	// Queue as long as the tone: the null PCM takes frames as fast as they
	// come, but the queue must not drop any for the length check.
	pb, err := alsa.OpenPlayback(context.Background(), "file:FILE="+out+",FORMAT=raw", &alsa.Options{Queue: frames})
	require.NoError(t, err)
	tone := &audio.Tone{Frequency: 1000}
	f := make([]int16, audio.FrameSamples)
	for range frames {
		require.NoError(t, tone.ReadFrame(f))
		require.NoError(t, pb.WriteFrame(f))
	}
	require.NoError(t, pb.Close())
	assert.Zero(t, pb.Stats().Dropped)

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	got := rawFrames(t, b)
	require.Len(t, got, frames)
	det := &audio.ToneDetector{Frequency: 1000}
	other := &audio.ToneDetector{Frequency: 440}
	for _, f := range got {
		require.NoError(t, det.WriteFrame(f))
		require.NoError(t, other.WriteFrame(f))
	}
	_, hits := det.Counts()
	_, misses := other.Counts()
	assert.Equal(t, frames, hits, "every frame played holds the 1 kHz tone")
	assert.Zero(t, misses, "no frame holds a 440 Hz tone")
}

// A Playback fed faster than its device drops frames rather than wait;
// every frame written is either played or counted as dropped.
func TestPlaybackDropsWhatItCannotQueue(t *testing.T) {
	defer goleak.VerifyNone(t)
	out := filepath.Join(t.TempDir(), "out.raw")
	pb, err := alsa.OpenPlayback(context.Background(), "file:FILE="+out+",FORMAT=raw", &alsa.Options{Queue: 1})
	require.NoError(t, err)
	const frames = 1000
	tone := &audio.Tone{Frequency: 1000}
	f := make([]int16, audio.FrameSamples)
	for range frames {
		require.NoError(t, tone.ReadFrame(f))
		require.NoError(t, pb.WriteFrame(f))
	}
	require.NoError(t, pb.Close())

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	played := rawFrames(t, b)
	assert.Equal(t, frames, len(played)+int(pb.Stats().Dropped), "played + dropped = written")
	det := &audio.ToneDetector{Frequency: 1000}
	for _, f := range played {
		require.NoError(t, det.WriteFrame(f))
	}
	_, hits := det.Counts()
	assert.Equal(t, len(played), hits, "every frame played is a whole frame of the tone")
}

// capturePCM defines a PCM "tap" that captures the samples of in and
// writes what is played to out.
func capturePCM(in, out string) string {
	return fmt.Sprintf(`pcm.tap { type file slave.pcm null file %q infile %q format raw }`, out, in)
}

func TestCaptureReadsTone(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.raw")
	const frames = 25
	tone := &audio.Tone{Frequency: 1000}
	f := make([]int16, audio.FrameSamples)
	var b []byte
	for range frames {
		require.NoError(t, tone.ReadFrame(f))
		for _, s := range f {
			b = binary.LittleEndian.AppendUint16(b, uint16(s))
		}
	}
	require.NoError(t, os.WriteFile(in, b, 0o600))

	c, err := alsa.OpenCapture(context.Background(), "tap",
		&alsa.Options{Definitions: capturePCM(in, filepath.Join(dir, "out.raw"))})
	require.NoError(t, err)
	defer c.Close()

	// The first frames captured are the file's; wait for them as a media
	// loop would, a frame at a time.
	det := &audio.ToneDetector{Frequency: 1000}
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := c.Stats().Starved
		require.NoError(t, c.ReadFrame(f))
		if c.Stats().Starved == before {
			require.NoError(t, det.WriteFrame(f))
		}
		if _, hits := det.Counts(); hits >= frames/2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	got, hits := det.Counts()
	assert.GreaterOrEqual(t, hits, frames/2, "captured frames hold the 1 kHz tone (%d of %d)", hits, got)
	require.NoError(t, c.Close())
}

func TestCloseTwice(t *testing.T) {
	defer goleak.VerifyNone(t)
	pb, err := alsa.OpenPlayback(context.Background(), "null", nil)
	require.NoError(t, err)
	require.NoError(t, pb.Close())
	require.NoError(t, pb.Close())
	assert.ErrorIs(t, pb.WriteFrame(make([]int16, audio.FrameSamples)), alsa.ErrClosed)

	c, err := alsa.OpenCapture(context.Background(), "null", nil)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	assert.ErrorIs(t, c.ReadFrame(make([]int16, audio.FrameSamples)), alsa.ErrClosed)
}

func TestBadDevice(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, err := alsa.OpenPlayback(context.Background(), "no-such-device", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"no-such-device"`, "the error names the device")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), "Unknown PCM", "the error carries ALSA's reason")

	_, err = alsa.OpenCapture(context.Background(), "no-such-device", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `capture "no-such-device"`)

	_, err = alsa.OpenPlayback(context.Background(), "tap", &alsa.Options{Definitions: "pcm.tap {"})
	require.Error(t, err, "broken definitions are reported")
	assert.Contains(t, err.Error(), `"tap"`)
	assert.Contains(t, err.Error(), "Unexpected char", "the error carries ALSA's reason")
}

func TestTimingFollowsOptions(t *testing.T) {
	defer goleak.VerifyNone(t)
	pb, err := alsa.OpenPlayback(context.Background(), "null", &alsa.Options{Latency: 100 * time.Millisecond, Period: 20 * time.Millisecond})
	require.NoError(t, err)
	defer pb.Close()
	// The null PCM takes any size; ALSA may round by a frame or so.
	assert.InDelta(t, 100*time.Millisecond, pb.Timing().Latency, float64(time.Millisecond))
	assert.InDelta(t, 20*time.Millisecond, pb.Timing().Period, float64(time.Millisecond))

	c, err := alsa.OpenCapture(context.Background(), "null", nil)
	require.NoError(t, err)
	defer c.Close()
	assert.InDelta(t, 60*time.Millisecond, c.Timing().Latency, float64(time.Millisecond), "default latency")
	assert.InDelta(t, 15*time.Millisecond, c.Timing().Period, float64(time.Millisecond), "default period: a quarter")
}

func TestBadOptions(t *testing.T) {
	for _, o := range []alsa.Options{
		{Latency: -time.Millisecond},
		{Period: -time.Millisecond},
		{Latency: 20 * time.Millisecond, Period: 40 * time.Millisecond},
		{Period: 100 * time.Millisecond}, // longer than the default latency
		{Queue: -1},
	} {
		_, err := alsa.OpenPlayback(context.Background(), "null", &o)
		assert.ErrorIs(t, err, alsa.ErrOptions, "%+v", o)
		_, err = alsa.OpenCapture(context.Background(), "null", &o)
		assert.ErrorIs(t, err, alsa.ErrOptions, "%+v", o)
	}
}

func TestOpenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := alsa.OpenPlayback(ctx, "null", nil)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}
