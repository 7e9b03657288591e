// Package audio moves sound in and out of a soft phone call as frames of
// linear PCM: 16-bit signed samples, mono, at [SampleRate] Hz, [FrameSamples]
// samples (20 ms) a frame.
//
// A call reads what it sends from a [Source] and writes what it receives to
// a [Sink]. The package has sources for a WAV file ([WAVSource]), a sine tone
// ([Tone]) and [Silence], sinks for a WAV file ([WAVSink]), for nothing
// ([Discard]) and for measuring a tone ([ToneDetector], a Goertzel filter).
// A real sound device is not part of this package and never needed to build
// or test.
//
// Package [github.com/opencsf/opencsf/softphone/audio/alsa] adds one: a
// Sink that plays on and a Source that captures from an ALSA device, built
// only with -tags alsa on Linux with cgo and libasound2-dev; without the tag
// it is empty.
//
// # Concurrency
//
// A call reads its source and writes its sink from its media loop, one
// goroutine; a Source or Sink used by one call needs no locking, but must
// not block: the loop paces many calls. [ToneDetector] may be read while it
// is written.
package audio
