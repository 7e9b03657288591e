package csf_test

import (
	"testing"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type ping struct {
	csf.EventHeader
	N int
}

type pong struct {
	csf.EventHeader
	N int
}

func recv(t *testing.T, ch <-chan csf.Event) csf.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "channel closed")
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return nil
	}
}

func TestBusStampsAndOrders(t *testing.T) {
	fw := csf.New(csf.Config{})
	defer fw.Close()
	sub := fw.Subscribe(nil)
	defer sub.Close()
	pub := fw.Bus().NewPublisher("im")
	for i := range 10 {
		csf.Publish(pub, ping{N: i})
	}
	var last uint64
	for i := range 10 {
		ev := recv(t, sub.Events())
		p, ok := ev.(ping)
		require.True(t, ok, "got %T", ev)
		assert.Equal(t, i, p.N)
		assert.Equal(t, "im", p.Service)
		assert.Greater(t, p.Seq, last)
		assert.False(t, p.Time.IsZero())
		last = p.Seq
	}
}

func TestBusFilterAndTyped(t *testing.T) {
	fw := csf.New(csf.Config{})
	defer fw.Close()
	onlyPong := fw.Subscribe(&csf.SubscribeOptions{Filter: func(ev csf.Event) bool { _, ok := ev.(pong); return ok }})
	defer onlyPong.Close()
	typed := csf.SubscribeTo[ping](fw.Bus(), 0)
	defer typed.Close()
	pub := fw.Bus().NewPublisher("x")
	csf.Publish(pub, ping{N: 1})
	csf.Publish(pub, pong{N: 2})
	csf.Publish(pub, ping{N: 3})

	assert.Equal(t, 2, recv(t, onlyPong.Events()).(pong).N)
	for _, want := range []int{1, 3} {
		select {
		case p := <-typed.Events():
			assert.Equal(t, want, p.N)
		case <-time.After(5 * time.Second):
			t.Fatal("typed event missing")
		}
	}
}

// A subscriber that never reads must not block publishers or other
// subscribers, and must learn exactly how many events it lost.
func TestSlowSubscriberGetsLaggedWithCount(t *testing.T) {
	fw := csf.New(csf.Config{})
	defer fw.Close()
	slow := fw.Subscribe(&csf.SubscribeOptions{QueueLen: 8})
	defer slow.Close()
	fast := fw.Subscribe(&csf.SubscribeOptions{QueueLen: 2000})
	defer fast.Close()
	pub := fw.Bus().NewPublisher("flood")

	const total = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			csf.Publish(pub, ping{N: i})
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publisher blocked by a slow subscriber")
	}
	for i := range total {
		assert.Equal(t, i, recv(t, fast.Events()).(ping).N)
	}

	// Drain the slow one: events delivered plus Missed must add up, with
	// a Lagged marker where the gap is.
	var got, missed int
	var sawLagged bool
	for got+missed < total {
		switch ev := recv(t, slow.Events()).(type) {
		case ping:
			got++
		case csf.Lagged:
			sawLagged = true
			missed += int(ev.Missed)
		default:
			t.Fatalf("unexpected %T", ev)
		}
	}
	assert.True(t, sawLagged)
	assert.Equal(t, total, got+missed)
	assert.Equal(t, uint64(missed), slow.Dropped())
	assert.Equal(t, uint64(missed), fw.Bus().Stats().Dropped)
}

func TestLaggedSeqGapMatchesMissed(t *testing.T) {
	fw := csf.New(csf.Config{})
	defer fw.Close()
	sub := fw.Subscribe(&csf.SubscribeOptions{QueueLen: 4})
	defer sub.Close()
	pub := fw.Bus().NewPublisher("x")
	for i := range 50 {
		csf.Publish(pub, ping{N: i})
	}
	var prev uint64
	var pendingMissed uint64
	seen := 0
	for seen < 50 {
		ev := recv(t, sub.Events())
		if l, ok := ev.(csf.Lagged); ok {
			pendingMissed += l.Missed
			seen += int(l.Missed)
			continue
		}
		h := ev.Header()
		if prev != 0 {
			assert.Equal(t, prev+1+pendingMissed, h.Seq, "gap must equal Missed")
		}
		seen++
		pendingMissed = 0
		prev = h.Seq
	}
	assert.Equal(t, 50, seen)
}

func TestTypedLagReported(t *testing.T) {
	fw := csf.New(csf.Config{})
	defer fw.Close()
	typed := csf.SubscribeTo[ping](fw.Bus(), 2)
	defer typed.Close()
	pub := fw.Bus().NewPublisher("x")
	for i := range 20 {
		csf.Publish(pub, ping{N: i})
	}
	var n, missed int
	for n+missed < 20 {
		select {
		case <-typed.Events():
			n++
		case l := <-typed.Lags():
			missed += int(l.Missed)
		case <-time.After(5 * time.Second):
			t.Fatalf("stuck at %d delivered, %d missed", n, missed)
		}
	}
	assert.Equal(t, 20, n+missed)
	assert.Positive(t, missed)
}

func TestSubscriptionsEndWithFramework(t *testing.T) {
	fw := csf.New(csf.Config{})
	sub := fw.Subscribe(nil)
	require.NoError(t, fw.Close())
	for range sub.Events() {
	}
	sub.Close()
	late := fw.Subscribe(nil)
	_, ok := <-late.Events()
	assert.False(t, ok, "subscribing to a closed framework gives a closed channel")
	late.Close()
}

func BenchmarkPublishTwoSubscribers(b *testing.B) {
	fw := csf.New(csf.Config{})
	defer fw.Close()
	pub := fw.Bus().NewPublisher("bench")
	var subs []*csf.Subscription
	for range 2 {
		s := fw.Subscribe(&csf.SubscribeOptions{QueueLen: 1 << 16})
		subs = append(subs, s)
		go func() {
			for range s.Events() {
			}
		}()
	}
	b.ReportAllocs()
	for b.Loop() {
		csf.Publish(pub, ping{N: 1})
	}
	b.StopTimer()
	for _, s := range subs {
		s.Close()
	}

}
