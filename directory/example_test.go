package directory_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/opencsf/opencsf/dialrules"
	"github.com/opencsf/opencsf/directory"
)

// A directory resolves an incoming caller ID after the lookup rules turned
// it into an extension. It needs an LDAP server, so this example only
// compiles.
func ExampleDirectory_Lookup() {
	ctx := context.Background()
	var rules dialrules.Set // usually provision's LookupRules()
	if _, err := rules.Reload("DirLookupDialRules.xml", strings.NewReader(
		`<DialRules><DialRule BeginsWith="+1408555" NumDigits="12" DigitsToRemove="8"/></DialRules>`)); err != nil {
		log.Fatal(err)
	}
	d, err := directory.New(directory.Config{
		Server: "127.0.0.1:389",
		BaseDN: "dc=example,dc=test",
		Rules:  &rules,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	p, err := d.Lookup(ctx, "+1 408 555 1001")
	switch {
	case errors.Is(err, directory.ErrNotFound):
		fmt.Println("unknown caller")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(p.Name, p.JID, p.Mailbox)
	}
}
