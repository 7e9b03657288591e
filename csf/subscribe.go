package csf

// SubscribeOptions tunes a subscription. A nil *SubscribeOptions means
// defaults.
type SubscribeOptions struct {
	// QueueLen bounds the events buffered for a slow consumer; 0 means
	// DefaultQueueLen.
	QueueLen int
	// Filter, if set, is called on the publishing goroutine, under the bus
	// lock, for every event; it must be quick and must not publish. Events
	// it rejects never reach the queue. Lagged events bypass it.
	Filter func(Event) bool
}

// Subscription receives events in the bus order. Close it when done.
type Subscription struct {
	q      *queue
	events chan Event
}

// Subscribe returns a subscription to every event accepted by opts.Filter.
// On a closed bus the subscription's channel is closed at once.
func (b *Bus) Subscribe(opts *SubscribeOptions) *Subscription {
	var o SubscribeOptions
	if opts != nil {
		o = *opts
	}
	s := &Subscription{q: newQueue(b, o.QueueLen, o.Filter), events: make(chan Event)}
	if !b.add(s.q) {
		s.q.close()
	}
	go func() {
		defer close(s.events)
		s.q.run(func(ev Event) bool {
			select {
			case s.events <- ev:
				return true
			case <-s.q.done:
				return false
			}
		})
	}()
	return s
}

// Events returns the channel of events. It is closed after Close or when
// the framework closes.
func (s *Subscription) Events() <-chan Event { return s.events }

// Dropped returns how many events this subscription has lost to overflow.
func (s *Subscription) Dropped() uint64 { return s.q.droppedTotal() }

// Close ends the subscription and waits for its feeding goroutine. It is
// safe to call more than once.
func (s *Subscription) Close() {
	s.q.bus.remove(s.q)
	s.q.close()
	<-s.q.exit
}

// Typed is a subscription to events of one type E. Overflow is reported on
// Lags.
type Typed[E Event] struct {
	q      *queue
	events chan E
	lags   chan Lagged
}

// SubscribeTo subscribes to events of type E only, in bus order. queueLen 0
// means DefaultQueueLen.
func SubscribeTo[E Event](b *Bus, queueLen int) *Typed[E] {
	filter := func(ev Event) bool { _, ok := ev.(E); return ok }
	t := &Typed[E]{q: newQueue(b, queueLen, filter), events: make(chan E), lags: make(chan Lagged, 1)}
	if !b.add(t.q) {
		t.q.close()
	}
	go func() {
		defer close(t.events)
		t.q.run(func(ev Event) bool {
			if l, ok := ev.(Lagged); ok {
				// Coalesce if the consumer has not read the previous one.
				select {
				case t.lags <- l:
				case old := <-t.lags:
					l.Missed += old.Missed
					t.lags <- l
				}
				return true
			}
			select {
			case t.events <- ev.(E):
				return true
			case <-t.q.done:
				return false
			}
		})
	}()
	return t
}

// Events returns the channel of events of type E.
func (t *Typed[E]) Events() <-chan E { return t.events }

// Lags delivers a [Lagged] event when events of type E were dropped; the
// counts of unread reports are added together.
func (t *Typed[E]) Lags() <-chan Lagged { return t.lags }

// Close ends the subscription and waits for its feeding goroutine.
func (t *Typed[E]) Close() {
	t.q.bus.remove(t.q)
	t.q.close()
	<-t.q.exit
}
