package softphone

import (
	"fmt"
	"os"
	"testing"
)

// skipOrFail skips t for a feature this machine lacks (IPv6 loopback,
// UDP segmentation offload), but fails it under CI=true: the CI machine
// has them, and a skip there would hide a failure.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: a missing feature is a failure)", msg)
	}
	t.Skip(msg)
}
