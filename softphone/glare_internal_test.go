package softphone

import (
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// The retry after a 491 waits RFC 3261 section 14.2's delays: 2.1–4 s
// for the end that placed the call, 0–2 s for the other, spread out.
func TestGlareDelay(t *testing.T) {
	for _, tc := range []struct {
		owner    bool
		min, max time.Duration
	}{{true, 2100 * time.Millisecond, 4 * time.Second}, {false, 0, 2 * time.Second}} {
		lo, hi := tc.max, tc.min
		for range 2000 {
			d := glareDelay(tc.owner)
			assert.GreaterOrEqual(t, d, tc.min)
			assert.Less(t, d, tc.max)
			lo, hi = min(lo, d), max(hi, d)
		}
		// Random, not one fixed value: both ends retrying after the
		// same wait would collide again.
		assert.Less(t, lo, tc.min+(tc.max-tc.min)/4, "owner %v", tc.owner)
		assert.Greater(t, hi, tc.max-(tc.max-tc.min)/4, "owner %v", tc.owner)
	}
}

// A call and its stream, allocated together, stay in the 2304-byte size
// class (see callWithStream): the next class up is 2688 bytes, 17 % more
// memory per call.
func TestCallWithStreamSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes measured for 64-bit platforms")
	}
	assert.LessOrEqual(t, unsafe.Sizeof(callWithStream{}), uintptr(2304))
}
