package softphone_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/softphone"
	"github.com/opencsf/opencsf/softphone/audio"
)

// A phone that registers, calls bob with a tone and hangs up after five
// seconds. It needs a registrar, so it only compiles here.
func Example() {
	ctx := context.Background()
	fw := csf.New(csf.Config{})
	defer fw.Close()
	p, err := softphone.New(softphone.Config{
		Account:   softphone.Account{User: "alice", Domain: "example.test", Password: config.Secret("secret1")},
		Registrar: "127.0.0.1:5060",
		Events:    fw.Bus().NewPublisher("softphone"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := p.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer p.Shutdown(ctx)
	call, err := p.Dial(ctx, "bob", &softphone.CallOptions{Source: &audio.Tone{Frequency: 440}})
	if err != nil {
		fmt.Println(err)
		return
	}
	select {
	case <-call.Done():
	case <-time.After(5 * time.Second):
		call.Hangup(ctx)
	}
	fmt.Printf("%+v\n", call.Stats())
}

// Answering every incoming call from the event stream.
func ExampleCall_Answer() {
	ctx := context.Background()
	fw := csf.New(csf.Config{})
	defer fw.Close()
	sub := csf.SubscribeTo[softphone.CallReceived](fw.Bus(), 16)
	defer sub.Close()
	for ev := range sub.Events() {
		if err := ev.Call.Answer(ctx, &softphone.CallOptions{Sink: audio.Discard{}}); err != nil {
			fmt.Println(err)
		}
	}
}

func ExampleStatusError() {
	err := error(&softphone.StatusError{Method: "INVITE", Code: 486, Reason: "Busy Here"})
	fmt.Println(err)
	fmt.Println(errorsIs(err, &softphone.StatusError{Code: 486}), errorsIs(err, &softphone.StatusError{Code: 603}))
	// Output:
	// softphone: INVITE answered 486 Busy Here
	// true false
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
