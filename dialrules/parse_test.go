package dialrules

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseString(t *testing.T, s string) (*Rules, []Warning, error) {
	t.Helper()
	return Parse("AppDialRules.xml", strings.NewReader(s))
}

// stripLines zeroes Line so that rules from different files compare equal.
func stripLines(rules []Rule) []Rule {
	for i := range rules {
		rules[i].Line = 0
	}
	return rules
}

func TestParseSpellings(t *testing.T) {
	want := []Rule{{BeginsWith: "+", NumDigits: 12, DigitsToRemove: 1, PrefixWith: "00"}}
	tests := []struct {
		name, doc string
	}{
		{"public file", `<DialRules><DialRule BeginsWith="+" NumDigits="12" DigitsToRemove="1" PrefixWith="00"/></DialRules>`},
		{"digits to be removed", `<DialRules><DialRule BeginsWith="+" NumDigits="12" DigitsToBeRemoved="1" PrefixWith="00"/></DialRules>`},
		{"axl names", `<dialRules><dialRule numberBeginWith="+" numberOfDigits="12" digitsToBeRemoved="1" prefixPattern="00"/></dialRules>`},
		{"any case", `<DIALRULES><dialrule BEGINSWITH="+" numdigits="12" digitstoremove="1" PREFIXWITH="00"></dialrule></DIALRULES>`},
		{"declaration, comments, whitespace", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- rules -->\n<DialRules>\n\t<DialRule\n\t  BeginsWith=\" + \" NumDigits=\"12\"\n DigitsToRemove=\"01\" PrefixWith=\"00\" />\n</DialRules>\n<!-- end -->\n"},
		{"namespace", `<DialRules xmlns="urn:example"><DialRule xmlns:x="urn:x" BeginsWith="+" NumDigits="12" DigitsToRemove="1" PrefixWith="00"/></DialRules>`},
		{"empty attributes are absent", `<DialRules><DialRule BeginsWith="+" NumDigits="12" DigitsToRemove="1" PrefixWith="00" priority=""/></DialRules>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, warnings, err := parseString(t, tt.doc)
			require.NoError(t, err)
			assert.Empty(t, warnings)
			assert.Equal(t, want, stripLines(rs.List()))
			assert.Equal(t, "AppDialRules.xml", rs.Name())
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, doc := range []string{`<DialRules/>`, `<DialRules></DialRules>`, "<dialRules>\n</dialRules>\n"} {
		rs, warnings, err := parseString(t, doc)
		require.NoError(t, err, doc)
		assert.Empty(t, warnings)
		assert.Equal(t, 0, rs.Len())
		got, err := rs.Transform("+1 408")
		require.NoError(t, err)
		assert.Equal(t, "+1408", got)
	}
}

func TestParseLinesAndPriority(t *testing.T) {
	doc := "<DialRules>\n" + // line 1
		"  <DialRule BeginsWith=\"1\"/>\n" + // line 2
		"  <!-- comment -->\n" + // line 3
		"  <DialRule\n" + // line 4
		"     BeginsWith=\"2\" priority=\"5\"/>\n" +
		"  <DialRule BeginsWith=\"3\" priority=\"0\"/><DialRule BeginsWith=\"4\" priority=\"5\"/>\n" + // line 6
		"</DialRules>\n"
	rs, warnings, err := parseString(t, doc)
	require.NoError(t, err)
	assert.Empty(t, warnings)
	var got []string
	var lines []int
	for _, r := range rs.List() {
		got = append(got, r.BeginsWith)
		lines = append(lines, r.Line)
	}
	assert.Equal(t, []string{"3", "2", "4", "1"}, got)
	assert.Equal(t, []int{6, 4, 6, 2}, lines)
	assert.Equal(t, []int{3, 2, 4, 1}, rs.pos)
}

func TestParseWarnings(t *testing.T) {
	doc := `<DialRules version="2">
  <DialRule BeginsWith="9" Comment="outside line" NumDigits="8"/>
  <Description>site rules</Description>
  <DialRule NumDigits="7" PrefixWith="9"><Note/></DialRule>
  <DialRule PrefixWith="1"/>
  <DialRule BeginsWith="9" NumDigits="8" PrefixWith="1"/>
  <DialRule NumDigits="7" PrefixWith="8"/>
</DialRules>`
	rs, warnings, err := parseString(t, doc)
	require.NoError(t, err)
	assert.Equal(t, 5, rs.Len())
	var got []string
	for _, w := range warnings {
		got = append(got, w.String())
	}
	assert.Equal(t, []string{
		"AppDialRules.xml:1: unknown attribute version on <DialRules>",
		"AppDialRules.xml:2: rule 1: unknown attribute Comment ignored",
		"AppDialRules.xml:3: unknown element <Description> skipped",
		"AppDialRules.xml:4: rule 2: content of <DialRule> ignored: <Note>",
		`AppDialRules.xml:6: rule 4: never applies: rule 1 <DialRule BeginsWith="9" NumDigits="8"/> comes first and matches every number it would`,
		`AppDialRules.xml:7: rule 5: never applies: rule 2 <DialRule NumDigits="7" PrefixWith="9"/> comes first and matches every number it would`,
	}, got)
}

func TestParseRuleErrors(t *testing.T) {
	tests := []struct {
		name, rule, attr, msg string
	}{
		{"remove more than length", `NumDigits="7" DigitsToRemove="8"`, "DigitsToRemove", "removes 8 characters from numbers of 7"},
		{"remove more, axl spelling", `numberOfDigits="7" digitsToBeRemoved="8"`, "digitsToBeRemoved", "removes 8"},
		{"begins with longer than length", `BeginsWith="12345" NumDigits="4"`, "BeginsWith", "longer than NumDigits 4"},
		{"letters in begins with", `BeginsWith="9x"`, "BeginsWith", `'x' is not allowed`},
		{"star in begins with", `BeginsWith="*8"`, "BeginsWith", `'*' is not allowed`},
		{"plus inside begins with", `BeginsWith="1+"`, "BeginsWith", "'+' is allowed only first"},
		{"letters in prefix", `PrefixWith="9,"`, "PrefixWith", `',' is not allowed`},
		{"plus inside prefix", `prefixPattern="0+"`, "prefixPattern", "'+' is allowed only first"},
		{"negative digits", `NumDigits="-1"`, "NumDigits", "negative value"},
		{"negative removal", `DigitsToRemove="-2"`, "DigitsToRemove", "negative value"},
		{"negative priority", `priority="-1"`, "priority", "negative value"},
		{"not a number", `NumDigits="ten"`, "NumDigits", `"ten" is not a number`},
		{"plus sign number", `NumDigits="+7"`, "NumDigits", `"+7" is not a number`},
		{"too many digits", `NumDigits="65"`, "NumDigits", "larger than 64"},
		{"huge", `DigitsToRemove="99999999999999999999999"`, "DigitsToRemove", "larger than 64"},
		{"prefix too long", `PrefixWith="` + strings.Repeat("1", 65) + `"`, "PrefixWith", "longer than 64"},
		{"duplicate spelling", `DigitsToRemove="1" DigitsToBeRemoved="1"`, "DigitsToBeRemoved", "duplicate: DigitsToRemove already given"},
		{"duplicate case", `NumDigits="1" numdigits="1"`, "numdigits", "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "<DialRules>\n  <DialRule/>\n\n  <DialRule " + tt.rule + "/>\n</DialRules>\n"
			rs, _, err := parseString(t, doc)
			require.Error(t, err)
			assert.Nil(t, rs)
			assert.ErrorIs(t, err, ErrInvalidRule)
			var re *RuleError
			require.True(t, errors.As(err, &re))
			assert.Equal(t, "AppDialRules.xml", re.File)
			assert.Equal(t, 4, re.Line)
			assert.Equal(t, 2, re.Rule)
			assert.Equal(t, tt.attr, re.Attribute)
			assert.Contains(t, re.Err.Error(), tt.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "dialrules: AppDialRules.xml:4: rule 2: "+tt.attr+": "), err.Error())
		})
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name, doc, msg string
	}{
		{"empty file", "", "no DialRules element"},
		{"only a comment", "<!-- nothing -->", "no DialRules element"},
		{"wrong root", "<Rules/>", "root element is <Rules>"},
		{"unclosed", "<DialRules>\n<DialRule/>\n", "unexpected EOF"},
		{"mismatched", "<DialRules>\n</DialRule>", "xml:2: element <DialRules> closed by </DialRule>"},
		{"text outside", "hello <DialRules/>", "text outside"},
		{"second root", "<DialRules/><DialRules/>", "after the DialRules element"},
		{"bad attribute syntax", "<DialRules><DialRule BeginsWith=1/></DialRules>", "unquoted"},
		{"unknown entity", "<DialRules><DialRule BeginsWith=\"&foo;\"/></DialRules>", "entity"},
		{"unknown charset", "<?xml version=\"1.0\" encoding=\"EBCDIC\"?><DialRules/>", `unsupported encoding "EBCDIC"`},
		{"too large", "<DialRules>" + strings.Repeat(" ", MaxFileSize) + "</DialRules>", "larger than 1048576 bytes"},
		{"too many rules", "<DialRules>" + strings.Repeat("<DialRule/>", MaxRules+1) + "</DialRules>", "more than 10000 rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseString(t, tt.doc)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "dialrules: AppDialRules.xml"), err.Error())
			assert.Contains(t, err.Error(), tt.msg)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func TestParseLatin1(t *testing.T) {
	doc := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<!-- Z\xfcrich -->\n<DialRules><DialRule BeginsWith=\"0\" PrefixWith=\"9\"/></DialRules>"
	rs, _, err := parseString(t, doc)
	require.NoError(t, err)
	assert.Equal(t, []Rule{{BeginsWith: "0", PrefixWith: "9", Line: 3}}, rs.List())
}

func TestNewErrors(t *testing.T) {
	_, err := New([]Rule{{}, {NumDigits: 3, DigitsToRemove: 4}})
	var re *RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, RuleError{Attribute: "DigitsToRemove", Rule: 2, Err: re.Err}, *re)
	assert.Equal(t, "dialrules: rule 2: DigitsToRemove: removes 4 characters from numbers of 3", err.Error())
	_, err = New([]Rule{{Priority: 3}})
	assert.ErrorIs(t, err, ErrInvalidRule, "priority without HasPriority")
}

func TestNewDoesNotKeepSlice(t *testing.T) {
	in := []Rule{{PrefixWith: "9"}}
	rs, err := New(in)
	require.NoError(t, err)
	in[0].PrefixWith = "8"
	got, err := rs.Transform("1")
	require.NoError(t, err)
	assert.Equal(t, "91", got)
	list := rs.List()
	list[0].PrefixWith = "7"
	got, _ = rs.Transform("1")
	assert.Equal(t, "91", got)
}

func TestWriteToCanonical(t *testing.T) {
	rs, _, err := parseString(t, `<dialRules>
  <DialRule numberBeginWith="+1" numberOfDigits="12" digitsToBeRemoved="2" priority="2"/>
  <DialRule numberBeginWith="+1408555" numberOfDigits="12" digitsToBeRemoved="7" priority="1"/>
  <DialRule NumDigits="7" PrefixWith="9" DigitsToRemove="0"/>
</dialRules>`)
	require.NoError(t, err)
	var b bytes.Buffer
	n, err := rs.WriteTo(&b)
	require.NoError(t, err)
	assert.Equal(t, int64(b.Len()), n)
	want := `<DialRules>
  <DialRule BeginsWith="+1408555" NumDigits="12" DigitsToRemove="7" priority="1"/>
  <DialRule BeginsWith="+1" NumDigits="12" DigitsToRemove="2" priority="2"/>
  <DialRule NumDigits="7" PrefixWith="9"/>
</DialRules>
`
	assert.Equal(t, want, b.String())

	// encoding/xml gives the same rules.
	out, err := xml.Marshal(rs)
	require.NoError(t, err)
	again, _, err := Parse("marshalled", bytes.NewReader(out))
	require.NoError(t, err)
	assert.Equal(t, stripLines(rs.List()), stripLines(again.List()))

	var empty bytes.Buffer
	_, err = (*Rules)(nil).WriteTo(&empty)
	require.NoError(t, err)
	assert.Equal(t, "<DialRules/>\n", empty.String())
}

// TestTestdataRoundTrip checks that every testdata file survives WriteTo.
func TestTestdataRoundTrip(t *testing.T) {
	for _, name := range []string{"public", "seed-app", "seed-dirlookup", "empty"} {
		rs := parseFile(t, "testdata/"+name+".xml")
		var b bytes.Buffer
		_, err := rs.WriteTo(&b)
		require.NoError(t, err)
		again, warnings, err := Parse(name, &b)
		require.NoError(t, err)
		assert.Empty(t, warnings)
		assert.Equal(t, stripLines(rs.List()), stripLines(again.List()), name)
	}
}
