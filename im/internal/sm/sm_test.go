package sm

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func datas(items []Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, string(it.Data))
	}
	return out
}

func TestDisabledCountsNothing(t *testing.T) {
	var s State
	s.Received()
	assert.Zero(t, s.Sent([]byte("a"), true))
	assert.Zero(t, s.In())
	assert.Zero(t, s.Pending())
	n, err := s.Ack(5)
	assert.NoError(t, err)
	assert.Zero(t, n)
}

func TestAckDropsUpToH(t *testing.T) {
	var s State
	s.Enable("id1", "")
	for _, d := range []string{"a", "b", "c"} {
		s.Sent([]byte(d), true)
	}
	n, err := s.Ack(2)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, 1, s.Pending())
	// A repeated or older ack changes nothing.
	n, err = s.Ack(1)
	require.NoError(t, err)
	assert.Zero(t, n)
	_, err = s.Ack(4)
	assert.Error(t, err, "acknowledging more than sent")
}

func TestResumedResendsTheRestAndContinuesCount(t *testing.T) {
	var s State
	s.Enable("id1", "")
	for _, d := range []string{"a", "b", "c", "d"} {
		s.Sent([]byte(d), false)
	}
	s.Received()
	s.Received()
	rest, err := s.Resumed(1)
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "c", "d"}, datas(rest))
	assert.Equal(t, uint32(1), s.Out())
	assert.Equal(t, uint32(2), s.In(), "inbound count survives resumption")
	for _, it := range rest {
		s.Sent(it.Data, it.Resend)
	}
	assert.Equal(t, uint32(4), s.Out())
	n, err := s.Ack(4)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
}

func TestFailKeepsOnlyResendableUnacked(t *testing.T) {
	tests := []struct {
		name string
		h    uint32
		hasH bool
		want []string
	}{
		{"no h", 0, false, []string{"m1", "m2"}},
		{"h acks first message", 1, true, []string{"m2"}},
		{"h acks all", 3, true, nil},
		{"impossible h ignored", 9, true, []string{"m1", "m2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s State
			s.Enable("id", "")
			s.Sent([]byte("m1"), true)
			s.Sent([]byte("iq"), false)
			s.Sent([]byte("m2"), true)
			got := s.Fail(tt.h, tt.hasH)
			assert.Equal(t, tt.want, datas(got))
			assert.False(t, s.Enabled())
		})
	}
}

func TestCountersWrap(t *testing.T) {
	var s State
	s.Enable("id", "")
	s.out = math.MaxUint32 - 1
	s.Sent([]byte("a"), true) // seq MaxUint32
	s.Sent([]byte("b"), true) // seq 0
	s.Sent([]byte("c"), true) // seq 1
	n, err := s.Ack(0)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, 1, s.Pending())
}
