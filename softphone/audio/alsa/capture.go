//go:build alsa && linux && cgo

package alsa

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/opencsf/opencsf/softphone/audio"
)

// Capture records frames from a sound device. It is an [audio.Source]: a
// goroutine of its own reads ALSA into a short queue and ReadFrame takes
// from it without waiting, so a slow device costs silent frames, never a
// stalled media loop.
type Capture struct {
	pcm *pcm
	log *slog.Logger

	queue chan []int16  // captured frames, oldest first
	free  chan []int16  // buffers to capture into; with queue, bounds memory
	stop  chan struct{} // closed by Close
	done  chan struct{} // closed when the reader goroutine has closed the device

	closeOnce sync.Once
	closed    atomic.Bool

	failed         atomic.Pointer[error] // the error that stopped the reader
	xruns, starved atomic.Uint64
}

// OpenCapture opens device ("" means "default") for capturing frames of
// [audio.SampleRate] Hz mono 16-bit PCM. ctx bounds the opening only.
func OpenCapture(ctx context.Context, device string, opts *Options) (*Capture, error) {
	if device == "" {
		device = "default"
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err // about the options, not the device
	}
	p, err := openPCM(ctx, device, streamCapture, o)
	if err != nil {
		return nil, err
	}
	c := &Capture{
		pcm:   p,
		log:   o.Logger.With("device", device, "stream", "capture"),
		queue: make(chan []int16, o.Queue),
		free:  make(chan []int16, o.Queue),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	for range o.Queue {
		c.free <- make([]int16, audio.FrameSamples)
	}
	go c.run()
	return c, nil
}

// ReadFrame fills f with the oldest captured frame. If none is ready yet it
// fills f with silence and counts it in [Stats.Starved]. It returns
// [ErrClosed] after Close, and the device's error once the device has
// failed and everything captured before has been read.
func (c *Capture) ReadFrame(f []int16) error {
	if c.closed.Load() {
		return ErrClosed
	}
	select {
	case buf := <-c.queue:
		n := copy(f, buf)
		clear(f[n:])
		c.free <- buf // never blocks: buffers only move between the two
		return nil
	default:
	}
	if err := c.failed.Load(); err != nil {
		return *err
	}
	clear(f)
	c.starved.Add(1)
	return nil
}

// run captures frames while there is a free buffer to capture into. When
// the reader falls behind, no buffer is free, ALSA's own buffer fills and
// overruns, and the recovery drops the backlog: latency stays bounded.
func (c *Capture) run() {
	defer close(c.done)
	defer c.pcm.dropClose()
	xrun := func() {
		c.xruns.Add(1)
		c.log.Debug("alsa: overrun recovered")
	}
	for {
		var buf []int16
		select {
		case <-c.stop:
			return
		case buf = <-c.free:
		}
		if err := c.pcm.read(buf, xrun); err != nil {
			c.failed.Store(&err)
			c.log.Warn("alsa: capture failed", "err", err)
			return
		}
		c.queue <- buf // never blocks: there are as many buffers as queue slots
	}
}

// Close stops capturing, closes the device and returns the error that
// stopped it, if any. Closing again does nothing and returns nil.
func (c *Capture) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.closed.Store(true)
		close(c.stop)
	})
	<-c.done
	if !first {
		return nil
	}
	if err := c.failed.Load(); err != nil {
		return *err
	}
	return nil
}

// Timing returns the latency and period ALSA chose.
func (c *Capture) Timing() Timing { return c.pcm.timing() }

// Stats returns the device's counters so far.
func (c *Capture) Stats() Stats {
	return Stats{Xruns: c.xruns.Load(), Starved: c.starved.Load()}
}

var _ audio.Source = (*Capture)(nil)
