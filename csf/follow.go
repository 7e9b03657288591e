package csf

import (
	"context"

	"github.com/opencsf/opencsf/config"
)

// Follow applies every change w reports (see [Framework.ApplySettings])
// until w's channel closes or the framework stops: edit a watched file
// and the affected services pick it up, with no restart of the framework.
// The framework owns the goroutine and waits for it when it stops; closing
// w stays the caller's job.
func (fw *Framework) Follow(w *config.Watcher) {
	fw.mu.Lock()
	if fw.closed {
		fw.mu.Unlock()
		return
	}
	fw.followers.Add(1)
	fw.mu.Unlock()
	go func() {
		defer fw.followers.Done()
		for {
			select {
			case ch, ok := <-w.Changes():
				if !ok {
					return
				}
				var s Settings
				if ch.Snapshot != nil {
					s = ch.Snapshot
				}
				for _, warn := range ch.Warnings {
					fw.log.Warn("configuration warning", "warning", warn.String())
				}
				if err := fw.ApplySettings(fw.life, "watch", s, ch.Changed, ch.Err); err != nil {
					fw.log.Error("applying configuration change", "err", err)
				}
			case <-fw.life.Done():
				return
			}
		}
	}()
}

// followSettingsEvents applies SettingsChanged events from services. It
// runs from Start until the framework stops.
func (fw *Framework) followSettingsEvents() {
	sub := SubscribeTo[SettingsChanged](fw.bus, 64)
	fw.followers.Add(1)
	go func() {
		defer fw.followers.Done()
		defer sub.Close()
		for {
			select {
			case ev, ok := <-sub.Events():
				if !ok {
					return
				}
				if err := fw.ApplySettings(fw.life, ev.Source, ev.Settings, ev.Changed, nil); err != nil {
					fw.log.Error("applying settings from "+ev.Service, "err", err)
				}
			case l := <-sub.Lags():
				fw.log.Error("settings changes lost", "missed", l.Missed)
			case <-fw.life.Done():
				return
			}
		}
	}()
}

// endFollowers stops Follow goroutines before the lifecycle lock is taken,
// since they take it themselves.
func (fw *Framework) endFollowers() {
	fw.cancelLife()
	fw.followers.Wait()
}

var _ Settings = (*config.Snapshot)(nil)

// ensure the lifetime context is created with the framework.
func newLife() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }

// TrustFromSettings builds the trust store the configuration names:
// TrustedCAFile on top of the system roots unless UseSystemTrustStore is
// off.
func TrustFromSettings(s *config.Snapshot) (*Trust, error) {
	return LoadTrust(s.String(config.KeyTrustedCAFile), s.Bool(config.KeyUseSystemTrustStore))
}
