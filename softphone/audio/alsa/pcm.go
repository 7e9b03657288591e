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

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.Latency <= 0 {
		v.Latency = 60 * time.Millisecond
	}
	if v.Queue <= 0 {
		v.Queue = 4
	}
	if v.Logger == nil {
		v.Logger = slog.New(slog.DiscardHandler)
	}
	return v
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

// ErrClosed is returned for frames written to or read from a closed device.
var ErrClosed = errors.New("alsa: device closed")

// keepErrors routes ALSA's messages, for the whole process, away from
// stderr into the errors that openPCM returns.
var keepErrors = sync.OnceFunc(func() { C.keep_errors() })

// pcm is an open ALSA PCM set to the frames of package audio.
type pcm struct {
	p      *C.snd_pcm_t
	device string
}

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
	// soft_resample 1 lets the plug layer convert rate, format and channels
	// to the device's; ALSA rounds the latency to what the device can do.
	rc = C.snd_pcm_set_params(p, C.SND_PCM_FORMAT_S16_LE, C.SND_PCM_ACCESS_RW_INTERLEAVED,
		1, audio.SampleRate, 1, C.uint(o.Latency/time.Microsecond))
	if rc < 0 {
		C.snd_pcm_close(p)
		return nil, fmt.Errorf("alsa: set up %s %q for %d Hz mono 16-bit: %w", what, device, audio.SampleRate, alsaError(rc))
	}
	return &pcm{p: p, device: device}, nil
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
