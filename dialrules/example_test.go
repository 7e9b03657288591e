package dialrules_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/opencsf/opencsf/dialrules"
)

func Example() {
	const appDialRules = `<DialRules>
  <DialRule NumDigits="7" PrefixWith="9"/>
  <DialRule BeginsWith="+1" NumDigits="12" DigitsToRemove="2" PrefixWith="91"/>
  <DialRule BeginsWith="+" DigitsToRemove="1" PrefixWith="9011"/>
</DialRules>`
	rules, _, err := dialrules.Parse("AppDialRules.xml", strings.NewReader(appDialRules))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range []string{"555-1234", "+1 (408) 555-1234", "+44 20 7946 0958", "51234", "1-800-FLOWERS"} {
		dial, err := rules.Transform(n)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s → %s\n", n, dial)
	}
	// Output:
	// 555-1234 → 95551234
	// +1 (408) 555-1234 → 914085551234
	// +44 20 7946 0958 → 9011442079460958
	// 51234 → 51234
	// dialrules: number "1-800-FLOWERS": unexpected letter 'F' at byte 6: invalid number
}

func ExampleRules_Explain() {
	rules, _, _ := dialrules.Parse("DirLookupDialRules.xml", strings.NewReader(`<DialRules>
  <DialRule BeginsWith="+1408555" NumDigits="12" DigitsToRemove="7"/>
  <DialRule BeginsWith="+1" NumDigits="12" DigitsToRemove="2"/>
</DialRules>`))
	fmt.Print(rules.Explain("+1 408 566 1234"))
	// Output:
	// number "+1 408 566 1234" → "+14085661234" (12 characters)
	//   1. rule 1 (line 2) <DialRule BeginsWith="+1408555" NumDigits="12" DigitsToRemove="7"/>: no: begins with "+1408566", not "+1408555"
	//   2. rule 2 (line 3) <DialRule BeginsWith="+1" NumDigits="12" DigitsToRemove="2"/>: match → "4085661234" (applied)
	// result: "4085661234" by rule 2
}

func ExampleRules_AppendTransform() {
	rules, _ := dialrules.New([]dialrules.Rule{
		{NumDigits: 7, PrefixWith: "9"},
	})
	buf := make([]byte, 0, 2*dialrules.MaxLen) // reused: no allocation per number
	for _, n := range []string{"5551234", "51234"} {
		var matched bool
		buf, matched, _ = rules.AppendTransform(buf[:0], []byte(n))
		fmt.Println(string(buf), matched)
	}
	// Output:
	// 95551234 true
	// 51234 false
}

func ExampleSet_Reload() {
	var set dialrules.Set
	_, _ = set.Reload("AppDialRules.xml", strings.NewReader(`<DialRules><DialRule NumDigits="7" PrefixWith="9"/></DialRules>`))

	// A broken update is refused; the rules in force stay.
	_, err := set.Reload("AppDialRules.xml", strings.NewReader(`<DialRules><DialRule NumDigits="7" DigitsToRemove="8"/></DialRules>`))
	fmt.Println(err)
	dial, _ := set.Transform("555-1234")
	fmt.Println(dial)
	fmt.Println(set.Status().LastError != nil)
	// Output:
	// dialrules: AppDialRules.xml:1: rule 1: DigitsToRemove: removes 8 characters from numbers of 7
	// 95551234
	// true
}

func ExampleRules_WriteTo() {
	rules, _, _ := dialrules.Parse("DirLookupDialRules.xml", strings.NewReader(
		`<dialRules><dialRule numberBeginWith="+1" numberOfDigits="12" digitsToBeRemoved="2"/></dialRules>`))
	_, _ = rules.WriteTo(os.Stdout)
	// Output:
	// <DialRules>
	//   <DialRule BeginsWith="+1" NumDigits="12" DigitsToRemove="2"/>
	// </DialRules>
}
