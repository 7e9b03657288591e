package lab

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// testStartTimeout bounds a server's start in the test helpers when the test has no
// deadline of its own.
const testStartTimeout = 30 * time.Second

// requireBinaries skips t when a program is missing, naming it; with CI=true in the
// environment a missing program fails t instead, so CI cannot pass by skipping.
func requireBinaries(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := lookBinary(n); err != nil {
			skipOrFail(t, "lab: %s is not installed (the package doc lists the Debian packages)", n)
			return
		}
	}
}

// requireRoot skips t (fails it with CI=true) unless the test runs as root.
func requireRoot(t testing.TB, server string) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "lab: %s needs root", server)
	}
}

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
		return
	}
	t.Skipf(format, args...)
}

// startForTest starts a server for t: the start is bounded by t's context, a failure
// is fatal, and t.Cleanup closes the server (also after a panic), logging the server's
// output first when t failed.
func startForTest[S interface {
	Close() error
	Log() string
}](t testing.TB, name string, start func(ctx context.Context) (S, error)) S {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testStartTimeout)
	defer cancel()
	s, err := start(ctx)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s log ---\n%s", name, s.Log())
		}
		// A test may close the server itself (to test a server that is down).
		if err := s.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("%v", err)
		}
	})
	return s
}
