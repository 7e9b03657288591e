package csf

import (
	"sync"
	"time"
)

// DefaultQueueLen is the queue length of a subscription whose options leave
// it zero.
const DefaultQueueLen = 256

// Bus is the framework's single ordered event stream. Publishing never
// blocks on subscribers: each subscription has its own bounded queue and a
// subscriber that falls behind loses events for itself only, and is told
// how many with a [Lagged] event.
//
// The zero Bus is not usable; a [Framework] owns one, see [Framework.Bus].
type Bus struct {
	now func() time.Time

	mu        sync.Mutex // guards seq, subs, closed, published
	seq       uint64
	subs      map[*queue]struct{}
	closed    bool
	published uint64
}

func newBus(now func() time.Time) *Bus {
	return &Bus{now: now, subs: make(map[*queue]struct{})}
}

// Publisher publishes events on behalf of one service. It is safe for
// concurrent use. A nil *Publisher discards events, so services can be
// used without a framework.
type Publisher struct {
	bus     *Bus
	service string
}

// NewPublisher returns a publisher that stamps events with the service
// name.
func (b *Bus) NewPublisher(service string) *Publisher {
	return &Publisher{bus: b, service: service}
}

// Publish stamps ev with its header (service, time, sequence number) and
// hands it to every subscriber whose filter accepts it. It never blocks on
// a subscriber.
//
// Publish is a function rather than a method because it fills in the
// header of a value whose type belongs to another package.
func Publish[E any, PE interface {
	*E
	stamper
}](p *Publisher, ev E) {
	if p == nil || p.bus == nil {
		return
	}
	p.bus.publish(p.service, func(h EventHeader) Event {
		PE(&ev).stamp(h)
		return any(ev).(Event)
	})
}

// publish assigns the next sequence number under the lock, so that the
// order of Seq is the order every subscriber sees.
func (b *Bus) publish(service string, stamp func(EventHeader) Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.seq++
	b.published++
	val := stamp(EventHeader{Service: service, Time: b.now(), Seq: b.seq})
	for q := range b.subs {
		if q.filter != nil && !q.filter(val) {
			continue
		}
		q.push(val)
	}
}

// Stats reports what the bus has carried.
type BusStats struct {
	Published   uint64
	Subscribers int
	// Dropped is the sum over live subscriptions of events they lost.
	Dropped uint64
}

// Stats returns a snapshot of the bus counters.
func (b *Bus) Stats() BusStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := BusStats{Published: b.published, Subscribers: len(b.subs)}
	for q := range b.subs {
		s.Dropped += q.droppedTotal()
	}
	return s
}

func (b *Bus) add(q *queue) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.subs[q] = struct{}{}
	return true
}

func (b *Bus) remove(q *queue) {
	b.mu.Lock()
	delete(b.subs, q)
	b.mu.Unlock()
}

// close stops accepting events and ends every subscription.
func (b *Bus) close() {
	b.mu.Lock()
	b.closed = true
	subs := b.subs
	b.subs = make(map[*queue]struct{})
	b.mu.Unlock()
	for q := range subs {
		q.close()
	}
}

func (b *Bus) lagged(missed uint64) Lagged {
	return Lagged{EventHeader: EventHeader{Service: "csf", Time: b.now()}, Missed: missed}
}
