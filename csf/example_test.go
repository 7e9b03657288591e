package csf_test

import (
	"context"
	"fmt"

	"github.com/opencsf/opencsf/csf"
)

// CallRinging is an event a soft phone service might publish.
type CallRinging struct {
	csf.EventHeader
	From string
}

// clock is a tiny service: it publishes one event when started.
type clock struct{ env csf.Env }

func (c *clock) Start(ctx context.Context) error {
	csf.Publish(c.env.Events, CallRinging{From: "sip:bob@example.test"})
	return nil
}
func (c *clock) Shutdown(ctx context.Context) error { return nil }
func (c *clock) Close() error                       { return nil }
func (c *clock) Health() csf.Health                 { return csf.Health{Healthy: true} }

type desktop struct{}

func (desktop) Name() string { return "desktop" }

// An upper-layer app attaches, the framework starts its services, and the
// app receives their events in order.
func Example() {
	ctx := context.Background()
	fw := csf.New(csf.Config{StopWhenLastAppDetaches: true})
	_ = fw.Register(csf.ServiceSpec{Name: "softphone", New: func(env csf.Env) (csf.Service, error) {
		return &clock{env: env}, nil
	}})
	app, _ := fw.Attach(desktop{}, &csf.SubscribeOptions{Filter: func(ev csf.Event) bool {
		_, ok := ev.(CallRinging)
		return ok
	}})
	if err := fw.Start(ctx); err != nil {
		fmt.Println("start:", err)
	}
	ev := (<-app.Events()).(CallRinging)
	fmt.Println(ev.Service, "rings from", ev.From)
	_ = app.Detach(ctx) // the last app: the framework stops
	<-fw.Done()
	fmt.Println("stopped")
	// Output:
	// softphone rings from sip:bob@example.test
	// stopped
}
