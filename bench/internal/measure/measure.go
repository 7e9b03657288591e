//go:build linux

// Package measure holds what the benchmark programs under bench/ measure
// the same way: the process's CPU time, its memory after a collection, and
// a bounded fan-out for setting up many clients or calls at once.
package measure

import (
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// CPU is this process's CPU time so far, user plus system (getrusage), as
// the peers' figures are taken.
func CPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MemStats collects twice (the first may leave finalizers' garbage) and
// reads the runtime's memory statistics.
func MemStats() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

// Pct is a as a percentage of b, 0 when b is 0.
func Pct(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// ForEach runs f(0..n-1) with at most par in flight and returns the first
// error, with the number of failures.
func ForEach(n, par int, f func(i int) error) error {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d failures, first: %w", len(errs), errs[0])
	}
	return nil
}
