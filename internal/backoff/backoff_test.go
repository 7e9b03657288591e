package backoff

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDelayGrowsAndCaps(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second, Jitter: -1}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		assert.Equal(t, w*time.Millisecond, p.Delay(i), "attempt %d", i)
	}
	assert.Equal(t, time.Second, p.Delay(1000), "huge attempt must not overflow")
}

func TestDelayJitterStaysInRange(t *testing.T) {
	p := Policy{Base: time.Second, Max: time.Minute, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := p.Delay(2)
		assert.GreaterOrEqual(t, d, 2*time.Second)
		assert.LessOrEqual(t, d, 4*time.Second)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 10, "jitter should spread delays")
}

func TestWaitHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Policy{Base: time.Hour}.Wait(ctx, 0)
	assert.ErrorIs(t, err, context.Canceled)
}
