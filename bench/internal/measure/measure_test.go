//go:build linux

package measure

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForEachBoundsAndReportsFailures(t *testing.T) {
	var inFlight, most, ran atomic.Int32
	err := ForEach(50, 4, func(i int) error {
		n := inFlight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		defer inFlight.Add(-1)
		ran.Add(1)
		if i%10 == 0 {
			return errors.New("boom")
		}
		return nil
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "5 failures")
	assert.EqualValues(t, 50, ran.Load())
	assert.LessOrEqual(t, most.Load(), int32(4))
}

func TestPctAndCPU(t *testing.T) {
	assert.InDelta(t, 25.0, Pct(1, 4), 1e-9)
	assert.Zero(t, Pct(1, 0))
	before := CPU()
	x := 0
	for i := range 10_000_000 {
		x += i
	}
	_ = x
	assert.GreaterOrEqual(t, CPU(), before)
}
