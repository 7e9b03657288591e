package dialrules

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parseFile(t testing.TB, path string) *Rules {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rs, warnings, err := Parse(filepath.Base(path), f)
	require.NoError(t, err)
	require.Empty(t, warnings)
	return rs
}

// TestGolden applies each testdata/NAME.xml to the numbers in
// testdata/NAME.golden: lines "number<TAB>expected", expected ERR for an
// invalid number, "//" lines are comments.
func TestGolden(t *testing.T) {
	goldens, err := filepath.Glob("testdata/*.golden")
	require.NoError(t, err)
	require.NotEmpty(t, goldens)
	for _, g := range goldens {
		name := strings.TrimSuffix(filepath.Base(g), ".golden")
		t.Run(name, func(t *testing.T) {
			rs := parseFile(t, filepath.Join("testdata", name+".xml"))
			f, err := os.Open(g)
			require.NoError(t, err)
			defer f.Close()
			sc := bufio.NewScanner(f)
			for line := 1; sc.Scan(); line++ {
				text := sc.Text()
				if strings.HasPrefix(text, "//") || text == "" {
					continue
				}
				number, want, ok := strings.Cut(text, "\t")
				require.True(t, ok, "%s:%d: no tab", g, line)
				got, err := rs.Transform(number)
				if want == "ERR" {
					assert.ErrorIs(t, err, ErrInvalidNumber, "%s:%d: %q", g, line, number)
					continue
				}
				if assert.NoError(t, err, "%s:%d", g, line) {
					assert.Equal(t, want, got, "%s:%d: %q", g, line, number)
				}
				// The explanation and the naive reference agree.
				e := rs.Explain(number)
				assert.Equal(t, want, e.Result, "%s:%d: Explain", g, line)
				ref, _, _ := refTransform(rs.List(), number)
				assert.Equal(t, want, ref, "%s:%d: reference", g, line)
			}
			require.NoError(t, sc.Err())
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "5551234", "5551234"},
		{"e164 spaced", "+1 408 555 1234", "+14085551234"},
		{"us punctuation", "+1 (408) 555-1234", "+14085551234"},
		{"dots", "408.555.1234", "4085551234"},
		{"slash", "089/1234-56", "089123456"},
		{"nbsp", "+44\u00a020\u00a07946\u00a00958", "+442079460958"},
		{"narrow nbsp and en dash", "+33\u202f1\u201342\u201368", "+3314268"},
		{"minus sign", "555\u22121234", "5551234"},
		{"bidi marks from a web page", "\u202a+49 30 1234\u202c\u200e", "+49301234"},
		{"bom", "\ufeff1234", "1234"},
		{"tabs and newline", "\t1234\r\n", "1234"},
		{"plus in parentheses", "(+44) 20", "+4420"},
		{"star and hash", "*86#", "*86#"},
		{"max length", strings.Repeat("1", MaxLen), strings.Repeat("1", MaxLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizeInvalid(t *testing.T) {
	tests := []struct {
		name, in, msg string
	}{
		{"letters", "1-800-FLOWERS", `letter 'F' at byte 6`},
		{"ext", "5551234 x12", `letter 'x' at byte 8`},
		{"plus inside", "1+2", `'+' after the first digit at byte 1`},
		{"two plus", "++1", `'+' after the first digit at byte 1`},
		{"empty", "", "no digits"},
		{"only separators", " - ( ) ", "no digits"},
		{"only plus", "+", "no digits"},
		{"comma", "555,1234", "character U+002C at byte 3"},
		{"fullwidth digit", "１２３", "character U+FF11 at byte 0"},
		{"bad utf8", "12\xff3", "invalid UTF-8 at byte 2"},
		{"too long", strings.Repeat("1", MaxLen+1), "longer than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Normalize(tt.in)
			require.ErrorIs(t, err, ErrInvalidNumber)
			assert.Contains(t, err.Error(), tt.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "dialrules: number "), err.Error())
		})
	}
}

func TestTransformSemantics(t *testing.T) {
	tests := []struct {
		name   string
		rules  []Rule
		number string
		want   string
	}{
		{"no rules", nil, "+1 408", "+1408"},
		{"empty conditions match anything", []Rule{{PrefixWith: "9"}}, "123", "9123"},
		{"remove then prefix", []Rule{{BeginsWith: "0", DigitsToRemove: 1, PrefixWith: "+49"}}, "030 1234", "+49301234"},
		{"plus counts as a digit", []Rule{{BeginsWith: "+", NumDigits: 4, DigitsToRemove: 1}}, "+123", "123"},
		{"first match wins", []Rule{{NumDigits: 3, PrefixWith: "1"}, {NumDigits: 3, PrefixWith: "2"}}, "555", "1555"},
		{"file order beats specificity", []Rule{{PrefixWith: "1"}, {BeginsWith: "55", PrefixWith: "2"}}, "555", "1555"},
		{"priority beats file order", []Rule{{PrefixWith: "1", Priority: 2, HasPriority: true}, {BeginsWith: "55", PrefixWith: "2", Priority: 1, HasPriority: true}}, "555", "2555"},
		{"priority ties keep file order", []Rule{{PrefixWith: "1", Priority: 1, HasPriority: true}, {PrefixWith: "2", Priority: 1, HasPriority: true}}, "5", "15"},
		{"rules without priority come last", []Rule{{PrefixWith: "1"}, {PrefixWith: "2", Priority: 9, HasPriority: true}}, "5", "25"},
		{"too short to remove", []Rule{{DigitsToRemove: 4, PrefixWith: "1"}, {PrefixWith: "2"}}, "555", "2555"},
		{"remove all", []Rule{{NumDigits: 3, DigitsToRemove: 3, PrefixWith: "0"}}, "555", "0"},
		{"star not in trie", []Rule{{BeginsWith: "1", PrefixWith: "9"}, {NumDigits: 3, PrefixWith: "7"}}, "*86", "7*86"},
		{"longer prefix later in order", []Rule{{BeginsWith: "1", NumDigits: 5, PrefixWith: "8"}, {BeginsWith: "12", PrefixWith: "9"}}, "12345", "812345"},
		{"deeper rule first in order", []Rule{{BeginsWith: "123", PrefixWith: "9"}, {BeginsWith: "1", PrefixWith: "8"}}, "12345", "912345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := New(tt.rules)
			require.NoError(t, err)
			got, err := rs.Transform(tt.number)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			out, matched, err := rs.AppendTransform([]byte("x:"), []byte(tt.number))
			require.NoError(t, err)
			assert.Equal(t, "x:"+tt.want, string(out))
			_, wantIdx, _ := refTransform(rs.List(), tt.number)
			assert.Equal(t, wantIdx >= 0, matched)
		})
	}
}

func TestNilRules(t *testing.T) {
	var rs *Rules
	got, err := rs.Transform("+1 408")
	require.NoError(t, err)
	assert.Equal(t, "+1408", got)
	assert.Equal(t, 0, rs.Len())
	assert.Equal(t, -1, rs.Explain("1").Winner)
}

func TestAppendTransformAllocs(t *testing.T) {
	rs, err := New(genRules())
	require.NoError(t, err)
	numbers := genNumbers(64, 7)
	in := make([][]byte, len(numbers))
	for i, n := range numbers {
		in[i] = []byte(n)
	}
	dst := make([]byte, 0, 2*MaxLen)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		var err error
		dst, _, err = rs.AppendTransform(dst[:0], in[i%len(in)])
		if err != nil {
			t.Fatal(err)
		}
		i++
	})
	assert.Zero(t, allocs)
	var set Set
	set.Store(rs)
	allocs = testing.AllocsPerRun(1000, func() {
		dst, _, _ = set.AppendTransform(dst[:0], in[i%len(in)])
		i++
	})
	assert.Zero(t, allocs)
}

// TestEngineMatchesReference checks the compiled engine against the naive
// scan on the generated rules and many numbers.
func TestEngineMatchesReference(t *testing.T) {
	rules := genRules()
	rs, err := New(rules)
	require.NoError(t, err)
	rr := newRegexpRules(rs.List())
	for _, n := range genNumbers(5000, 1) {
		want, _, ok := refTransform(rs.List(), n)
		require.True(t, ok, n)
		got, err := rs.Transform(n)
		require.NoError(t, err, n)
		require.Equal(t, want, got, n)
		re, ok := rr.transform(n)
		require.True(t, ok, n)
		require.Equal(t, want, re, n)
	}
}
