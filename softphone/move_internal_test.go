package softphone

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A failed offer after a move is tried again only when another try can
// succeed; a refusal ends the call at once.
func TestMoveRetryable(t *testing.T) {
	status := func(code int) error {
		return fmt.Errorf("softphone: re-INVITE: %w", &StatusError{Method: "INVITE", Code: code})
	}
	for _, tc := range []struct {
		name  string
		err   error
		retry bool
	}{
		{"timeout", fmt.Errorf("softphone: re-INVITE: %w", ErrTimeout), true},
		{"transport", errors.New("softphone: re-INVITE: write: connection refused"), true},
		{"408", status(408), true},
		{"491 glare, retried by offer", status(491), false},
		{"503", status(503), true},
		{"481 dialog gone", status(481), false},
		{"488 offer refused", status(488), false},
		{"477 next hop", status(477), false},
		{"603", status(603), false},
		{"bad answer", fmt.Errorf("softphone: re-INVITE answer: %w", ErrBadSDP), false},
		{"no codec", fmt.Errorf("softphone: re-INVITE answer: %w", ErrNoCodec), false},
		{"phone closed", fmt.Errorf("softphone: re-INVITE: %w", context.Canceled), false},
	} {
		assert.Equal(t, tc.retry, moveRetryable(tc.err), tc.name)
	}
}
