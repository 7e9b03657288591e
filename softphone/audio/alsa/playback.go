//go:build alsa && linux && cgo

package alsa

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/opencsf/opencsf/softphone/audio"
)

// Playback plays frames on a sound device. It is an [audio.Sink]: WriteFrame
// only copies the frame into a queue, which a goroutine of its own writes
// to ALSA, so a slow or stalled device costs dropped frames, never a
// stalled media loop.
type Playback struct {
	pcm *pcm
	log *slog.Logger

	mu     sync.Mutex // guards closed and sends on queue
	closed bool

	queue chan []int16  // frames waiting for the device
	free  chan []int16  // buffers to copy frames into; with queue, bounds memory
	done  chan struct{} // closed when the writer goroutine has closed the device

	failed         atomic.Pointer[error] // the error that stopped the writer
	xruns, dropped atomic.Uint64
}

// OpenPlayback opens device ("" means "default") for playing frames of
// [audio.SampleRate] Hz mono 16-bit PCM. ctx bounds the opening only.
func OpenPlayback(ctx context.Context, device string, opts *Options) (*Playback, error) {
	if device == "" {
		device = "default"
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err // about the options, not the device
	}
	p, err := openPCM(ctx, device, streamPlayback, o)
	if err != nil {
		return nil, err
	}
	pb := &Playback{
		pcm:   p,
		log:   o.Logger.With("device", device, "stream", "playback"),
		queue: make(chan []int16, o.Queue),
		free:  make(chan []int16, o.Queue),
		done:  make(chan struct{}),
	}
	for range o.Queue {
		pb.free <- make([]int16, 0, audio.FrameSamples)
	}
	go pb.run()
	return pb, nil
}

// WriteFrame queues a copy of f to be played. If the queue is full the
// frame is dropped and counted in [Stats.Dropped]. It returns [ErrClosed]
// after Close, and the device's error once the device has failed.
func (pb *Playback) WriteFrame(f []int16) error {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if pb.closed {
		return ErrClosed
	}
	if err := pb.failed.Load(); err != nil {
		return *err
	}
	select {
	case buf := <-pb.free:
		pb.queue <- append(buf[:0], f...) // never blocks: there are as many buffers as queue slots
	default:
		pb.dropped.Add(1)
	}
	return nil
}

// run writes queued frames to the device until Close closes the queue,
// then lets the device play out what it holds and closes it.
func (pb *Playback) run() {
	defer close(pb.done)
	xrun := func() {
		pb.xruns.Add(1)
		pb.log.Debug("alsa: underrun recovered")
	}
	for buf := range pb.queue {
		if pb.failed.Load() == nil {
			if err := pb.pcm.write(buf, xrun); err != nil {
				pb.failed.Store(&err)
				pb.log.Warn("alsa: playback failed", "err", err)
			}
		}
		pb.free <- buf
	}
	if pb.failed.Load() == nil {
		pb.pcm.drainClose()
	} else {
		pb.pcm.dropClose()
	}
}

// Close plays what is queued, closes the device and returns the error that
// stopped it, if any. Closing again does nothing and returns nil.
func (pb *Playback) Close() error {
	pb.mu.Lock()
	if pb.closed {
		pb.mu.Unlock()
		<-pb.done
		return nil
	}
	pb.closed = true
	close(pb.queue)
	pb.mu.Unlock()
	<-pb.done
	if err := pb.failed.Load(); err != nil {
		return *err
	}
	return nil
}

// Timing returns the latency and period ALSA chose.
func (pb *Playback) Timing() Timing { return pb.pcm.timing() }

// Stats returns the device's counters so far.
func (pb *Playback) Stats() Stats {
	return Stats{Xruns: pb.xruns.Load(), Dropped: pb.dropped.Load()}
}

var _ audio.Sink = (*Playback)(nil)
