package voicemail_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/voicemail"
)

// A message as a voicemail system sends it, read without a server.
func ExampleParseMessage() {
	f, err := os.Open("testdata/synthetic-ulaw.eml")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	v, audio, err := voicemail.ParseMessage(f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.CallerName, v.CallerNumber)
	fmt.Println("urgent:", v.Urgent, "private:", v.Private)
	fmt.Println(v.Duration, v.Format, len(audio), "bytes")
	// Output:
	// Bob Smith 5551234
	// urgent: true private: true
	// 2s audio/x-wav ulaw 8000Hz mono 16044 bytes
}

// Decoding G.711 µ-law audio to 16-bit PCM and measuring it.
func ExampleNewDecoder() {
	f, err := os.Open("testdata/synthetic-ulaw.eml")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	_, audio, err := voicemail.ParseMessage(f)
	if err != nil {
		log.Fatal(err)
	}
	dec, err := voicemail.NewDecoder(bytesReader(audio))
	if err != nil {
		log.Fatal(err)
	}
	st, err := voicemail.Measure(dec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d samples, %s, peak %.2f\n", st.Samples, st.Duration, st.Peak)
	// Output:
	// 16000 samples, 2s, peak 0.18
}

// Listing voice messages and saving one as a WAV file.
func ExampleDial() {
	ctx := context.Background()
	c, err := voicemail.Dial(ctx, voicemail.Config{
		Server:   "vm.example.test:993",
		UserName: "alice@example.test",
		Password: config.Secret("secret1"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	list, err := c.List(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range list {
		if v.Err != nil {
			fmt.Println(v.ID, "unreadable:", v.Err)
			continue
		}
		fmt.Println(v.ID, v.CallerName, v.CallerNumber, v.Date.Format(time.Stamp), v.Duration, v.Heard)
	}
	out, err := os.Create("first.wav")
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	if _, err := c.Export(ctx, list[0].ID, out); err != nil {
		log.Fatal(err)
	}
	if err := c.SetHeard(ctx, list[0].ID, true); err != nil {
		log.Fatal(err)
	}
	if err := c.Logout(ctx); err != nil {
		log.Fatal(err)
	}
}

// Running the voicemail service in the framework and following the
// message-waiting indicator.
func ExampleSpec() {
	ctx := context.Background()
	fw := csf.New(csf.Config{})
	err := fw.Register(voicemail.Spec(voicemail.Config{
		Server:    "vm.example.test:993",
		UserName:  "alice@example.test",
		Password:  config.Secret("secret1"),
		CacheFile: "voicemail-cache.json",
	}))
	if err != nil {
		log.Fatal(err)
	}
	sub := fw.Subscribe(nil)
	defer sub.Close()
	if err := fw.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer fw.Shutdown(ctx)
	for ev := range sub.Events() {
		switch ev := ev.(type) {
		case voicemail.CountChanged:
			fmt.Println("message waiting:", ev.Unheard > 0, ev.Unheard, "of", ev.Total)
		case voicemail.MessageArrived:
			fmt.Println("new voicemail from", ev.Message.CallerName, ev.Message.CallerNumber)
		case voicemail.MessageRemoved:
			fmt.Println("removed", ev.ID)
		case csf.Lagged:
			svc, _ := fw.Service("voicemail")
			fmt.Println("resync:", len(svc.(*voicemail.Mailbox).Messages()), "messages")
		}
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
