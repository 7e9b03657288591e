package softphone

import (
	"testing"
	"time"
)

// ShortGlareDelays makes the retry after a 491 wait owner (for the phone
// that placed the call) or other, instead of RFC 3261's 2.1–4 s and
// 0–2 s, until t ends: glare tests between two phones would otherwise
// take seconds a round. Tests using it must not run in parallel.
func ShortGlareDelays(t testing.TB, owner, other [2]time.Duration) {
	old := glareDelays
	glareDelays = [2][2]time.Duration{owner, other}
	t.Cleanup(func() { glareDelays = old })
}

// SlowAnswers makes the phone take d, after its answer to an offer from
// the far end has left, before it is done with that answer, until t
// ends. Tests using it must not run in parallel.
func SlowAnswers(t testing.TB, d time.Duration) {
	afterAnswerSent = func() { time.Sleep(d) }
	t.Cleanup(func() { afterAnswerSent = nil })
}
