package lab_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"testing"

	"github.com/opencsf/opencsf/lab"
)

// A test reaches the lab's SIP server over TLS, trusting only the lab CA.
func ExampleKamailio() {
	var t testing.TB // the test's *testing.T
	pbx := lab.Kamailio(t, nil)
	conn, err := tls.Dial("tcp", pbx.TLSAddr, pbx.CA().ClientTLS("example.test"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
}

// csfctl lab up: start every installed server, write a config file, run until
// interrupted.
func ExampleStart() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	l, err := lab.Start(ctx, lab.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	if err := l.WriteConfig("opencsf.yaml"); err != nil {
		log.Print(err)
		return
	}
	fmt.Printf("lab up in %v; config in opencsf.yaml; users:", l.StartupTime)
	for _, u := range l.Users() {
		fmt.Printf(" %s/%s", u.Name, u.Password)
	}
	fmt.Println()
	<-ctx.Done()
}

// Voicemail tests put a message into a mailbox, then read it over IMAPS.
func ExampleDovecotServer_Deliver() {
	var t testing.TB
	imap := lab.Dovecot(t, nil)
	msg := "From: <voicemail@example.test>\r\nSubject: voice message\r\n\r\nhello\r\n"
	if err := imap.Deliver("alice", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	// A client logs in at imap.TLSAddr as alice@example.test / secret1.
}

// Provisioning tests serve a device file over TFTP.
func ExampleTFTPServer_Put() {
	var t testing.TB
	tftp := lab.TFTP(t, nil)
	if err := tftp.Put("SEP001122334455.cnf.xml", []byte("<device/>")); err != nil {
		t.Fatal(err)
	}
	// A client asks tftp.Addr for SEP001122334455.cnf.xml.
}
