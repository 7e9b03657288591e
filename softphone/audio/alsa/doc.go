// Package alsa plays and captures the frames of package audio through a
// real sound device with ALSA (the Linux sound API), so a soft phone can be
// heard and spoken to.
//
// The package is built only with the build tag alsa, on Linux, with cgo and
// the ALSA development files (Debian: libasound2-dev):
//
//	go build -tags alsa ./...
//
// Without the tag the package is empty, so the rest of OpenCSF never needs a
// sound card or libasound to build or test.
//
// [OpenPlayback] gives an [audio.Sink] and [OpenCapture] an [audio.Source].
// Neither blocks the call's media loop: a goroutine per device moves frames
// between a short queue and ALSA, recovers from underruns and overruns, and
// counts them in Stats. ALSA's plug layer converts the 8000 Hz mono 16-bit
// frames to what the device takes, so a device name should reach it: the
// "default" device does, "hw:0" does not but "plughw:0" does.
//
// ALSA explains a failure only through a process-wide error handler that
// prints to stderr. Once a device is opened, this package takes that
// handler over and puts the explanation into the error it returns
// instead, e.g. `alsa: open playback "x" (Unknown PCM x): no such file or
// directory`.
package alsa
