package softphone_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// sipgo's transaction timers fire on their own goroutines for up
		// to 32 s (RFC 3261 timer values) after a phone has closed.
		goleak.IgnoreTopFunction("time.Sleep"),
		goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*ServerTx).ackWait"),
	)
}
