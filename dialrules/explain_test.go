package dialrules

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.explain goldens")

// TestExplainGolden compares csfctl-style explanations with
// testdata/seed-app.explain. Run with -update after reviewing a change.
func TestExplainGolden(t *testing.T) {
	rs := parseFile(t, "testdata/seed-app.xml")
	var b strings.Builder
	for _, n := range []string{"555-1234", "+1 (408) 555-1234", "+44 20 7946 0958", "+4420794609", "1234", "1-800-FLOWERS"} {
		b.WriteString(rs.Explain(n).String())
		b.WriteString("\n")
	}
	const golden = "testdata/seed-app.explain"
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), b.String())
}

func TestExplain(t *testing.T) {
	rs, err := New([]Rule{
		{BeginsWith: "+44", NumDigits: 13},
		{BeginsWith: "+1", NumDigits: 11},
		{DigitsToRemove: 20},
		{BeginsWith: "+", DigitsToRemove: 1, PrefixWith: "00"},
		{PrefixWith: "9"},
	})
	require.NoError(t, err)
	e := rs.Explain("+1 408 555 1234")
	require.NoError(t, e.Err)
	assert.Equal(t, "+14085551234", e.Number)
	assert.Equal(t, 3, e.Winner)
	assert.Equal(t, "0014085551234", e.Result)
	require.Len(t, e.Steps, 5)
	assert.Equal(t, `begins with "+14", not "+44"`, e.Steps[0].Reason)
	assert.Equal(t, "length 12 ≠ 11", e.Steps[1].Reason)
	assert.Equal(t, "length 12 < 20 digits to remove", e.Steps[2].Reason)
	assert.True(t, e.Steps[3].Matched)
	assert.True(t, e.Steps[4].Matched, "later matches are reported")
	assert.Equal(t, "9+14085551234", e.Steps[4].Result)

	bad := rs.Explain("call me")
	assert.ErrorIs(t, bad.Err, ErrInvalidNumber)
	assert.Equal(t, -1, bad.Winner)
	assert.Contains(t, bad.String(), `letter 'c' at byte 0`)
}
