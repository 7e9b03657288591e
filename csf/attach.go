package csf

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// App is an upper-layer application sitting on the framework: a desktop
// client, a bot, csfctl. Several may be attached at once.
type App interface {
	// Name identifies the app in events and diagnostics.
	Name() string
}

// Attachment is one app's connection to the framework, with its own event
// subscription.
type Attachment struct {
	fw   *Framework
	app  App
	sub  *Subscription
	once sync.Once
}

// Attach connects app to the framework. opts tunes the app's own event
// subscription (nil means every event, default queue). Attaching is
// possible before or after Start.
func (fw *Framework) Attach(app App, opts *SubscribeOptions) (*Attachment, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.closed {
		return nil, fmt.Errorf("csf: attach %s: %w", app.Name(), net.ErrClosed)
	}
	a := &Attachment{fw: fw, app: app, sub: fw.bus.Subscribe(opts)}
	fw.apps[a] = struct{}{}
	Publish(fw.pub, AppAttached{App: app.Name()})
	fw.log.Info("app attached", "app", app.Name(), "apps", len(fw.apps))
	return a, nil
}

// App returns the attached app.
func (a *Attachment) App() App { return a.app }

// Framework returns the framework the app is attached to.
func (a *Attachment) Framework() *Framework { return a.fw }

// Events returns the app's own event channel; it is closed on Detach or
// when the framework stops.
func (a *Attachment) Events() <-chan Event { return a.sub.Events() }

// Detach disconnects the app and ends its subscription. If it was the last
// app and the framework is configured with StopWhenLastAppDetaches, the
// framework is shut down within ctx. A second Detach returns
// ErrNotAttached.
func (a *Attachment) Detach(ctx context.Context) error {
	err := fmt.Errorf("csf: detach %s: %w", a.app.Name(), ErrNotAttached)
	a.once.Do(func() {
		err = nil
		a.sub.Close()
		fw := a.fw
		fw.mu.Lock()
		delete(fw.apps, a)
		remaining := len(fw.apps)
		stop := remaining == 0 && fw.cfg.StopWhenLastAppDetaches && !fw.closed
		if !fw.closed {
			Publish(fw.pub, AppDetached{App: a.app.Name(), Remaining: remaining})
		}
		fw.mu.Unlock()
		fw.log.Info("app detached", "app", a.app.Name(), "apps", remaining)
		if stop {
			fw.log.Info("last app detached; stopping framework")
			err = fw.Shutdown(ctx)
		}
	})
	return err
}
