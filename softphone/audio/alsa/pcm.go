//go:build alsa && linux && cgo

package alsa

/*
#cgo pkg-config: alsa
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <alsa/asoundlib.h>

// ALSA reports why an open failed only through its error handler, which
// prints to stderr by default. keep_error keeps the first message per
// thread instead, so the Go error can carry it.
static __thread char first_error[256];

static void keep_error(const char *file, int line, const char *function, int err, const char *fmt, ...) {
	if (first_error[0] != 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(first_error, sizeof first_error, fmt, ap);
	va_end(ap);
}

static void keep_errors(void) {
	snd_lib_error_set_handler((snd_lib_error_handler_t)keep_error);
}

static void clear_error(void) { first_error[0] = 0; }

static const char *get_error(void) { return first_error; }

// open_pcm opens name, read from the system configuration with defs (ALSA
// configuration text, may be NULL) loaded on top, without blocking on a busy
// device; I/O afterwards blocks.
static int open_pcm(snd_pcm_t **pcm, const char *name, snd_pcm_stream_t stream, const char *defs) {
	int err;
	if (defs == NULL) {
		err = snd_pcm_open(pcm, name, stream, SND_PCM_NONBLOCK);
	} else {
		snd_config_t *top = NULL, *cfg = NULL;
		snd_input_t *in = NULL;
		err = snd_config_update_ref(&top);
		if (err < 0)
			return err;
		err = snd_config_copy(&cfg, top);
		snd_config_unref(top);
		if (err < 0)
			return err;
		err = snd_input_buffer_open(&in, defs, -1);
		if (err >= 0) {
			err = snd_config_load(cfg, in);
			snd_input_close(in);
		}
		if (err >= 0)
			err = snd_pcm_open_lconf(pcm, name, stream, SND_PCM_NONBLOCK, cfg);
		snd_config_delete(cfg);
	}
	if (err < 0)
		return err;
	err = snd_pcm_nonblock(*pcm, 0);
	if (err < 0)
		snd_pcm_close(*pcm);
	return err;
}

// set_params sets the PCM to interleaved 16-bit little-endian at rate with
// channels, a buffer of about latency_us and periods of about period_us
// (what snd_pcm_set_params does, with the period chosen too). The plug
// layer, where the name leads to one, resamples (rate_resample 1). Playback
// starts once the buffer is full, capture at once.
static int set_params(snd_pcm_t *pcm, unsigned int rate, unsigned int channels, unsigned int latency_us, unsigned int period_us) {
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	snd_pcm_uframes_t buffer, period;
	int err, dir = 0;
	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_sw_params_alloca(&sw);
	if ((err = snd_pcm_hw_params_any(pcm, hw)) < 0 ||
	    (err = snd_pcm_hw_params_set_rate_resample(pcm, hw, 1)) < 0 ||
	    (err = snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
	    (err = snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE)) < 0 ||
	    (err = snd_pcm_hw_params_set_channels(pcm, hw, channels)) < 0 ||
	    (err = snd_pcm_hw_params_set_rate(pcm, hw, rate, 0)) < 0 ||
	    (err = snd_pcm_hw_params_set_buffer_time_near(pcm, hw, &latency_us, &dir)) < 0)
		return err;
	dir = 0;
	if ((err = snd_pcm_hw_params_set_period_time_near(pcm, hw, &period_us, &dir)) < 0 ||
	    (err = snd_pcm_hw_params(pcm, hw)) < 0 ||
	    (err = snd_pcm_get_params(pcm, &buffer, &period)) < 0 ||
	    (err = snd_pcm_sw_params_current(pcm, sw)) < 0)
		return err;
	snd_pcm_uframes_t start = 1;
	if (snd_pcm_stream(pcm) == SND_PCM_STREAM_PLAYBACK)
		start = (buffer / period) * period;
	if ((err = snd_pcm_sw_params_set_start_threshold(pcm, sw, start)) < 0 ||
	    (err = snd_pcm_sw_params_set_avail_min(pcm, sw, period)) < 0)
		return err;
	return snd_pcm_sw_params(pcm, sw);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/opencsf/opencsf/softphone/audio"
)

// Options tune a device. A nil *Options means all defaults.
type Options struct {
	// Latency is what ALSA buffers on the device side; 0 means 60 ms. Lower
	// answers sooner and underruns more easily.
	Latency time.Duration
	// Period is how often ALSA hands frames to or takes them from the
	// device, and so the longest a device goroutine waits in ALSA; 0 means
	// a quarter of Latency.
	Period time.Duration
	// Queue is how many frames wait between the media loop and the device;
	// 0 means 4 (80 ms). Frames beyond it are dropped and counted.
	Queue int
	// Definitions is ALSA configuration text read on top of the system
	// configuration before the device name is looked up, to define a PCM
	// without an asoundrc, e.g.
	//	pcm.tap { type file slave.pcm null file "/tmp/out.raw" format raw }
	// Empty means the system configuration alone.
	Definitions string
	// Logger receives recoveries and failures; nil means discard.
	Logger *slog.Logger
}

func (o *Options) withDefaults() (Options, error) {
	var v Options
	if o != nil {
		v = *o
	}
	switch {
	case v.Latency < 0:
		return v, fmt.Errorf("%w: Latency %v is negative", ErrOptions, v.Latency)
	case v.Period < 0:
		return v, fmt.Errorf("%w: Period %v is negative", ErrOptions, v.Period)
	case v.Queue < 0:
		return v, fmt.Errorf("%w: Queue %d is negative", ErrOptions, v.Queue)
	}
	if v.Latency == 0 {
		v.Latency = 60 * time.Millisecond
	}
	if v.Period > v.Latency {
		return v, fmt.Errorf("%w: Period %v is longer than Latency %v", ErrOptions, v.Period, v.Latency)
	}
	if v.Period == 0 {
		v.Period = v.Latency / 4
	}
	if v.Queue == 0 {
		v.Queue = 4
	}
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	return v, nil
}

// Stats counts what went wrong on a device since it was opened.
type Stats struct {
	// Xruns is how many times ALSA ran out of frames to play (underrun) or
	// of room for captured ones (overrun), or was suspended, and the device
	// was recovered. A Playback given no frames for longer than its
	// latency underruns: between calls that is expected.
	Xruns uint64
	// Dropped is how many frames written to a Playback found its queue full
	// and were not played.
	Dropped uint64
	// Starved is how many frames read from a Capture found nothing captured
	// yet and were given silence.
	Starved uint64
}

// ErrOptions is wrapped by the error for Options that make no sense; the
// error names the field.
var ErrOptions = errors.New("alsa: bad options")

// ErrClosed is returned for frames written to or read from a closed device.
var ErrClosed = errors.New("alsa: device closed")

// keepErrors routes ALSA's messages, for the whole process, away from
// stderr into the errors that openPCM returns.
var keepErrors = sync.OnceFunc(func() { C.keep_errors() })

// pcm is an open ALSA PCM set to the frames of package audio.
type pcm struct {
	p      *C.snd_pcm_t
	device string
	// latency and period are what ALSA chose for the asked ones.
	latency, period time.Duration
}

// Timing says what the device does with Options.Latency and Options.Period
// once ALSA has rounded them to what it can do.
type Timing struct {
	Latency time.Duration // the device-side buffer
	Period  time.Duration // how often frames move to or from the device
}

func (p *pcm) timing() Timing { return Timing{Latency: p.latency, Period: p.period} }

func openPCM(ctx context.Context, device string, stream C.snd_pcm_stream_t, o Options) (*pcm, error) {
	what := "playback"
	if stream == C.SND_PCM_STREAM_CAPTURE {
		what = "capture"
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("alsa: open %s %q: %w", what, device, err)
	}
	name := C.CString(device)
	defer C.free(unsafe.Pointer(name))
	var defs *C.char
	if o.Definitions != "" {
		defs = C.CString(o.Definitions)
		defer C.free(unsafe.Pointer(defs))
	}
	keepErrors()
	// ALSA's message is kept in the opening thread: stay on it.
	runtime.LockOSThread()
	C.clear_error()
	var p *C.snd_pcm_t
	rc := C.open_pcm(&p, name, stream, defs)
	detail := C.GoString(C.get_error())
	runtime.UnlockOSThread()
	if rc < 0 {
		if detail != "" {
			return nil, fmt.Errorf("alsa: open %s %q (%s): %w", what, device, detail, alsaError(rc))
		}
		return nil, fmt.Errorf("alsa: open %s %q: %w", what, device, alsaError(rc))
	}
	// The plug layer converts rate, format and channels to the device's;
	// ALSA rounds latency and period to what the device can do.
	rc = C.set_params(p, audio.SampleRate, 1, C.uint(o.Latency/time.Microsecond), C.uint(o.Period/time.Microsecond))
	if rc < 0 {
		C.snd_pcm_close(p)
		return nil, fmt.Errorf("alsa: set up %s %q for %d Hz mono 16-bit: %w", what, device, audio.SampleRate, alsaError(rc))
	}
	var buffer, period C.snd_pcm_uframes_t
	if rc := C.snd_pcm_get_params(p, &buffer, &period); rc < 0 {
		C.snd_pcm_close(p)
		return nil, fmt.Errorf("alsa: %s %q: %w", what, device, alsaError(rc))
	}
	frames := func(n C.snd_pcm_uframes_t) time.Duration {
		return time.Duration(n) * time.Second / audio.SampleRate
	}
	return &pcm{p: p, device: device, latency: frames(buffer), period: frames(period)}, nil
}

// write plays all of f, recovering from underruns; xruns counts them.
func (p *pcm) write(f []int16, xruns func()) error {
	for len(f) > 0 {
		n := C.snd_pcm_writei(p.p, unsafe.Pointer(&f[0]), C.snd_pcm_uframes_t(len(f)))
		if n < 0 {
			if err := p.recover(C.int(n), xruns); err != nil {
				return err
			}
			continue
		}
		f = f[n:]
	}
	return nil
}

// read fills all of f with captured samples, recovering from overruns.
func (p *pcm) read(f []int16, xruns func()) error {
	for len(f) > 0 {
		n := C.snd_pcm_readi(p.p, unsafe.Pointer(&f[0]), C.snd_pcm_uframes_t(len(f)))
		if n < 0 {
			if err := p.recover(C.int(n), xruns); err != nil {
				return err
			}
			continue
		}
		f = f[n:]
	}
	return nil
}

func (p *pcm) recover(rc C.int, xruns func()) error {
	if rc == -C.EINTR {
		return nil
	}
	if rc == -C.EPIPE || rc == -C.ESTRPIPE {
		xruns()
	}
	// silent 1: we count and log xruns ourselves rather than let ALSA print.
	if r := C.snd_pcm_recover(p.p, rc, 1); r < 0 {
		return fmt.Errorf("alsa: %q: %w", p.device, alsaError(r))
	}
	return nil
}

// drainClose plays what ALSA still holds, then closes the device.
func (p *pcm) drainClose() {
	C.snd_pcm_drain(p.p)
	C.snd_pcm_close(p.p)
}

// dropClose discards what ALSA holds and closes the device.
func (p *pcm) dropClose() {
	C.snd_pcm_drop(p.p)
	C.snd_pcm_close(p.p)
}

// alsaError turns a negative ALSA return code into an error: a
// syscall.Errno for system errors, so that errors.Is(err, fs.ErrNotExist)
// and the like work, and ALSA's own message otherwise.
func alsaError(rc C.int) error {
	if rc > -C.SND_ERROR_BEGIN {
		return syscall.Errno(-rc)
	}
	return errors.New(C.GoString(C.snd_strerror(rc)))
}

const (
	streamPlayback = C.SND_PCM_STREAM_PLAYBACK
	streamCapture  = C.SND_PCM_STREAM_CAPTURE
)
