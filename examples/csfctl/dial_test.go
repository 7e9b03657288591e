package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const seedRules = `<DialRules>
  <DialRule NumDigits="7" PrefixWith="9"/>
  <DialRule BeginsWith="+1" NumDigits="12" DigitsToRemove="2" PrefixWith="91"/>
  <DialRule BeginsWith="+" NumDigits="12" DigitsToRemove="1" PrefixWith="00"/>
</DialRules>
`

func runCmd(t *testing.T, environ []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &cmdEnv{stdout: &out, stderr: &errb, environ: environ})
	return code, out.String(), errb.String()
}

func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	return p
}

func TestDial(t *testing.T) {
	rules := writeTemp(t, "AppDialRules.xml", seedRules)
	lookup := writeTemp(t, "DirLookupDialRules.xml",
		`<dialRules><DialRule numberBeginWith="+1408555" numberOfDigits="12" digitsToBeRemoved="7"/></dialRules>`)
	bad := writeTemp(t, "bad.xml", `<DialRules><DialRule NumDigits="3" DigitsToRemove="5"/></DialRules>`)
	notXML := writeTemp(t, "notxml.xml", `this is not xml`)

	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrHas  string
		stderrNone bool
	}{
		{"in order", []string{"dial", "--rules", rules, "555-1234", "+1 (408) 555-1234", "+4420794609", "+33123456789"},
			0, "95551234\n914085551234\n+4420794609\n0033123456789\n", "", true},
		{"lookup", []string{"dial", "--rules", lookup, "--lookup", "+14085551234", "1001"}, 0, "51234\n1001\n", "", true},
		{"explain", []string{"dial", "--rules", rules, "--explain", "5551234"}, 0,
			"number \"5551234\" → \"5551234\" (7 characters)\n" +
				"  1. rule 1 (line 2) <DialRule NumDigits=\"7\" PrefixWith=\"9\"/>: match → \"95551234\" (applied)\n" +
				"  2. rule 2 (line 3) <DialRule BeginsWith=\"+1\" NumDigits=\"12\" DigitsToRemove=\"2\" PrefixWith=\"91\"/>: no: begins with \"55\", not \"+1\"\n" +
				"  3. rule 3 (line 4) <DialRule BeginsWith=\"+\" NumDigits=\"12\" DigitsToRemove=\"1\" PrefixWith=\"00\"/>: no: begins with \"5\", not \"+\"\n" +
				"result: \"95551234\" by rule 1\n", "", true},
		{"invalid number keeps lines aligned", []string{"dial", "--rules", rules, "5551234", "call-me", "5551235"},
			1, "95551234\n\n95551235\n", "1 of 3 numbers cannot be dialled", false},
		{"bad rules file", []string{"dial", "--rules", bad, "5551234"}, 1, "", "DigitsToRemove", false},
		{"not xml", []string{"dial", "--rules", notXML, "5551234"}, 1, "", "malformed", false},
		{"missing file", []string{"dial", "--rules", filepath.Join(t.TempDir(), "nope.xml"), "5551234"}, 1, "", "no such file", false},
		{"no number", []string{"dial", "--rules", rules}, 2, "", "NUMBER", false},
		{"bad flag", []string{"dial", "--bogus", "1"}, 2, "", "bogus", false},
		{"no provisioned rules", []string{"dial", "--cache", t.TempDir(), "5551234"}, 1, "", "provision fetch", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, nil, tc.args...)
			assert.Equal(t, tc.code, code, "stderr: %s", stderr)
			assert.Equal(t, tc.stdout, stdout)
			if tc.stderrNone {
				assert.Empty(t, stderr)
			}
			assert.Contains(t, stderr, tc.stderrHas)
		})
	}
}

func TestDialProvisionedRules(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".cache", "opencsf", "provision", "CUPC")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "AppDialRules.xml"), []byte(seedRules), 0o644))
	code, stdout, stderr := runCmd(t, []string{"HOME=" + home}, "dial", "5551234")
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, "95551234\n", stdout)
}
