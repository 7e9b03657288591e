package dialrules

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that whatever Parse accepts is valid, and that the
// canonical form parses back to the same rules and is a fixed point.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.xml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`<dialRules><DialRule numberBeginWith="9" numberOfDigits="8" digitsToBeRemoved="1" prefixPattern="408" priority="3"/></dialRules>`))
	f.Add([]byte(`<DialRules><DialRule BeginsWith="1" X="y"><a/>t</DialRule><Other/></DialRules>`))
	f.Add([]byte(`<DialRules><DialRule NumDigits="7" DigitsToRemove="8"/></DialRules>`))

	f.Fuzz(func(t *testing.T, data []byte) {
		rs, _, err := Parse("fuzz.xml", bytes.NewReader(data))
		if err != nil {
			if rs != nil {
				t.Fatal("rules with an error")
			}
			return
		}
		for i, r := range rs.rules {
			if attr, err := r.validate(); err != nil {
				t.Fatalf("rule %d %s accepted but invalid: %s: %v", i, r, attr, err)
			}
			if r.Line < 1 {
				t.Fatalf("rule %d %s has no line", i, r)
			}
		}
		var canon bytes.Buffer
		if _, err := rs.WriteTo(&canon); err != nil {
			t.Fatal(err)
		}
		again, warnings, err := Parse("canonical.xml", bytes.NewReader(canon.Bytes()))
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, canon.Bytes())
		}
		for _, w := range warnings {
			if !strings.Contains(w.Message, "never applies") {
				t.Fatalf("canonical form gives warning %s", w)
			}
		}
		want, got := stripLines(rs.List()), stripLines(again.List())
		if len(want) != len(got) {
			t.Fatalf("round trip: %d rules, then %d", len(want), len(got))
		}
		for i := range want {
			if want[i] != got[i] {
				t.Fatalf("round trip: rule %d %s became %s", i, want[i], got[i])
			}
		}
		var canon2 bytes.Buffer
		if _, err := again.WriteTo(&canon2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(canon.Bytes(), canon2.Bytes()) {
			t.Fatalf("canonical form is not a fixed point:\n%s\n%s", canon.Bytes(), canon2.Bytes())
		}
		enc, err := xml.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		viaXML, _, err := Parse("marshalled.xml", bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("MarshalXML output does not parse: %v\n%s", err, enc)
		}
		for i, r := range stripLines(viaXML.List()) {
			if r != want[i] {
				t.Fatalf("MarshalXML: rule %d %s became %s", i, want[i], r)
			}
		}
	})
}

// rulesFromSpec turns fuzz bytes into rules, five bytes a rule, skipping
// invalid ones. Small alphabets make collisions between rules likely.
func rulesFromSpec(spec []byte) []Rule {
	starts := []string{"", "+", "+1", "+4", "+44", "1", "12", "123", "0", "00", "9", "+12", "2", "21", "5", "55"}
	prefixes := []string{"", "9", "00", "+", "*", "91", "#", "+49"}
	var rules []Rule
	for len(spec) >= 5 && len(rules) < 64 {
		r := Rule{
			BeginsWith:     starts[spec[0]%16],
			NumDigits:      int(spec[1] % 16),
			DigitsToRemove: int(spec[2] % 8),
			PrefixWith:     prefixes[spec[3]%8],
		}
		if spec[4]&0x80 != 0 {
			r.HasPriority, r.Priority = true, int(spec[4]&3)
		}
		spec = spec[5:]
		if _, err := r.validate(); err == nil {
			rules = append(rules, r)
		}
	}
	return rules
}

// FuzzTransform checks that the compiled engine never panics, writes only
// dialable characters, and agrees with the naive first-match scan.
func FuzzTransform(f *testing.F) {
	f.Add("+1 (408) 555-1234", []byte{2, 12, 2, 5, 0, 1, 7, 0, 1, 0x81})
	f.Add("555\u00a01234", []byte{0, 7, 0, 1, 0})
	f.Add("1-800-FLOWERS", []byte{})
	f.Add("+442079460958", []byte{4, 13, 3, 2, 0, 1, 0, 1, 2, 0})
	f.Add("*86#", []byte{0, 3, 3, 6, 0, 0, 0, 0, 1, 0x82})
	f.Add("12\xff", []byte{5, 0, 0, 0, 0})
	for _, n := range genNumbers(8, 3) {
		f.Add(n, []byte{1, 12, 1, 2, 0, 3, 10, 0, 1, 0, 4, 0, 1, 1, 0x80})
	}

	f.Fuzz(func(t *testing.T, number string, spec []byte) {
		rs, err := New(rulesFromSpec(spec))
		if err != nil {
			t.Fatal(err)
		}
		list := rs.List()
		want, wantIdx, ok := refTransform(list, number)
		got, err := rs.Transform(number)
		if !ok {
			if err == nil {
				t.Fatalf("%q: reference rejects, engine gives %q", number, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: reference gives %q, engine: %v", number, want, err)
		}
		if got != want {
			t.Fatalf("%q: engine %q, reference %q (rule %d)\nrules: %v", number, got, want, wantIdx, list)
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; !(c >= '0' && c <= '9' || c == '+' || c == '*' || c == '#') {
				t.Fatalf("%q → %q: character %q", number, got, c)
			}
		}
		out, matched, err := rs.AppendTransform(nil, []byte(number))
		if err != nil || string(out) != want || matched != (wantIdx >= 0) {
			t.Fatalf("%q: AppendTransform %q %v %v", number, out, matched, err)
		}
		e := rs.Explain(number)
		if e.Result != want || e.Winner != wantIdx {
			t.Fatalf("%q: Explain %q winner %d, reference %q rule %d", number, e.Result, e.Winner, want, wantIdx)
		}
	})
}
