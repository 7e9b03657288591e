package im_test

import (
	"context"
	"fmt"
	"log"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/im"
)

// A client on its own: send a message and print what arrives. It needs a
// server, so it is compiled, not run.
func ExampleClient() {
	ctx := context.Background()
	trust, err := csf.LoadTrust("/etc/opencsf/ca.pem", true)
	if err != nil {
		log.Fatal(err)
	}
	fw := csf.New(csf.Config{})
	defer fw.Close()
	c, err := im.New(im.Config{
		JID:      "alice@example.test",
		Password: config.Secret("secret1"),
		Trust:    trust,
		Events:   fw.Bus().NewPublisher("im"),
	})
	if err != nil {
		log.Fatal(err)
	}
	msgs := csf.SubscribeTo[im.MessageReceived](fw.Bus(), 0)
	defer msgs.Close()
	if err := c.Start(ctx); err != nil {
		log.Fatal(err) // errors.Is(err, im.ErrAuth): wrong password; *csf.TLSError: certificate
	}
	defer c.Shutdown(ctx)
	if _, err := c.SendText(ctx, "bob@example.test", "hi"); err != nil {
		log.Fatal(err)
	}
	ev := <-msgs.Events()
	fmt.Printf("%s: %s\n", ev.Message.From, ev.Message.Text)
}

// The IM service in a framework, configured from settings (UserName,
// Password, Domain, PresenceServerAddress, TrustedCAFile…).
func ExampleSpec() {
	st := config.NewStore()
	_ = st.Set(config.KeyUserName, "alice")
	_ = st.Set(config.KeyPassword, "secret1")
	_ = st.Set(config.KeyDomain, "example.test")
	fw := csf.New(csf.Config{Settings: st.Effective()})
	defer fw.Close()
	if err := fw.Register(im.Spec()); err != nil {
		log.Fatal(err)
	}
	// fw.Start(ctx) connects; events arrive on fw.Subscribe(nil).
}
