package csf

import (
	"time"
)

// EventHeader is embedded in every event. The bus fills it in when the
// event is published, so publishers leave it zero.
type EventHeader struct {
	// Service is the name of the publishing service ("csf" for the
	// framework's own events).
	Service string
	// Time is when the bus accepted the event.
	Time time.Time
	// Seq is the event's position in the framework's single total order,
	// starting at 1. Subscribers see increasing Seq; a gap is always
	// announced by a [Lagged] event.
	Seq uint64
}

// Header returns the header; it makes every type embedding EventHeader an
// [Event].
func (h EventHeader) Header() EventHeader { return h }

func (h *EventHeader) stamp(nh EventHeader) { *h = nh }

func (EventHeader) isEvent() {}

// Event is implemented by every type that embeds [EventHeader]. Events are
// plain values: past-tense facts defined in the package of the service that
// publishes them.
type Event interface {
	Header() EventHeader
	isEvent()
}

// stamper is satisfied by a pointer to any type embedding EventHeader.
type stamper interface {
	Event
	stamp(EventHeader)
}

// Lagged tells a subscriber that its queue overflowed and Missed events
// were dropped for it (and only for it). After a Lagged event the
// subscriber should re-read state it keeps (presence snapshot, call list).
type Lagged struct {
	EventHeader
	Missed uint64
}

// ServiceStateChanged reports a service's lifecycle transition.
type ServiceStateChanged struct {
	EventHeader
	Name  string
	State State
	// Err is set when the transition was caused by a failure.
	Err error
}

// ConfigReloaded reports that configuration changed while running.
// Changed lists the keys whose effective value changed; Err is set when a
// new source was rejected and the previous configuration stays in force.
type ConfigReloaded struct {
	EventHeader
	Source  string
	Changed []string
	Err     error
}

// AppAttached reports that an upper-layer app attached to the framework.
type AppAttached struct {
	EventHeader
	App string
}

// AppDetached reports that an upper-layer app detached.
type AppDetached struct {
	EventHeader
	App string
	// Remaining is the number of apps still attached.
	Remaining int
}

// SettingsChanged is published by a service that changed the configuration
// itself — provisioning applying a new jabber-config.xml, say. The
// framework applies it as [Framework.ApplySettings] does: the services
// reading a changed key are reconfigured or restarted.
type SettingsChanged struct {
	EventHeader
	Source   string
	Settings Settings
	Changed  []string
}
