package csf

import (
	"sync"
)

// queue is one subscriber's bounded buffer plus the goroutine that feeds
// its channel. Publishers push without blocking; when the buffer is full the
// event is counted as missed and a Lagged marker takes its place in the
// order as soon as there is room (or when the buffer drains).
type queue struct {
	bus    *Bus
	filter func(Event) bool
	limit  int

	mu      sync.Mutex // guards items, missed, dropped, closed
	items   []Event    // FIFO, len ≤ limit
	missed  uint64     // dropped since the last Lagged marker was queued
	dropped uint64     // dropped in all
	closed  bool

	wake chan struct{} // capacity 1: "items changed"
	done chan struct{} // closed by close
	exit chan struct{} // closed when the pump has returned
}

func newQueue(b *Bus, limit int, filter func(Event) bool) *queue {
	if limit <= 0 {
		limit = DefaultQueueLen
	}
	return &queue{
		bus:    b,
		filter: filter,
		limit:  limit,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		exit:   make(chan struct{}),
	}
}

func (q *queue) push(ev Event) {
	q.mu.Lock()
	switch {
	case q.closed:
	case q.missed > 0 && len(q.items)+2 <= q.limit:
		q.items = append(q.items, q.bus.lagged(q.missed), ev)
		q.missed = 0
	case q.missed == 0 && len(q.items) < q.limit:
		q.items = append(q.items, ev)
	default:
		q.missed++
		q.dropped++
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop returns the next event, or a Lagged marker when the buffer has
// drained after an overflow.
func (q *queue) pop() (Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		ev := q.items[0]
		q.items[0] = nil
		q.items = q.items[1:]
		if len(q.items) == 0 {
			q.items = nil // let the backing array go
		}
		return ev, true
	}
	if q.missed > 0 {
		ev := q.bus.lagged(q.missed)
		q.missed = 0
		return ev, true
	}
	return nil, false
}

func (q *queue) droppedTotal() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// run feeds deliver until the queue is closed. deliver blocks until the
// consumer takes the event or done is closed, and reports whether to go on.
func (q *queue) run(deliver func(Event) bool) {
	defer close(q.exit)
	for {
		ev, ok := q.pop()
		if !ok {
			select {
			case <-q.wake:
				continue
			case <-q.done:
				return
			}
		}
		if !deliver(ev) {
			return
		}
	}
}

func (q *queue) close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	q.items = nil
	q.mu.Unlock()
	close(q.done)
}
