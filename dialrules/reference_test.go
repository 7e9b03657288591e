package dialrules

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds two independent implementations of the same semantics,
// written for clarity rather than speed: a naive first-match scan and a
// regexp version. Tests check the compiled engine against the first, and
// benchmarks measure it against the second.

// refSeparators are the runes normalisation drops, listed one by one.
var refSeparators = map[rune]bool{
	' ': true, '\t': true, '\n': true, '\r': true, '-': true, '.': true, '/': true, '(': true, ')': true,
	'\u00a0': true, '\u2060': true, '\u2066': true, '\u2067': true, '\u2068': true, '\u2069': true,
	'\u2212': true, '\u3000': true, '\ufeff': true,
}

func init() {
	for r := '\u2000'; r <= '\u2015'; r++ {
		refSeparators[r] = true
	}
	for r := '\u2028'; r <= '\u202f'; r++ {
		refSeparators[r] = true
	}
}

// refNormalize is the naive normaliser.
func refNormalize(number string) (string, bool) {
	var b strings.Builder
	for _, r := range number {
		switch {
		case refSeparators[r]:
		case r >= '0' && r <= '9', r == '*', r == '#':
			b.WriteRune(r)
		case r == '+' && b.Len() == 0:
			b.WriteRune(r)
		default:
			return "", false // also utf8.RuneError
		}
	}
	if b.Len() == 0 || b.String() == "+" || b.Len() > MaxLen {
		return "", false
	}
	return b.String(), true
}

// refTransform scans the rules in order and applies the first match.
func refTransform(rules []Rule, number string) (string, int, bool) {
	num, ok := refNormalize(number)
	if !ok {
		return "", -1, false
	}
	for i, r := range rules {
		if !strings.HasPrefix(num, r.BeginsWith) {
			continue
		}
		if r.NumDigits != 0 && utf8.RuneCountInString(num) != r.NumDigits {
			continue
		}
		if len(num) < r.DigitsToRemove {
			continue
		}
		return r.PrefixWith + num[r.DigitsToRemove:], i, true
	}
	return num, -1, true
}

// regexpRules is the regexp version: one anchored pattern per rule, tried in
// order.
type regexpRules struct {
	res   []*regexp.Regexp
	rules []Rule
	strip *regexp.Regexp
	valid *regexp.Regexp
}

func newRegexpRules(rules []Rule) *regexpRules {
	rr := &regexpRules{
		rules: rules,
		strip: regexp.MustCompile(`[\s\-./()\x{00a0}\x{2000}-\x{2015}\x{2028}-\x{202f}\x{2060}\x{2066}-\x{2069}\x{2212}\x{3000}\x{feff}]+`),
		valid: regexp.MustCompile(`^\+?[0-9*#]{1,64}$`),
	}
	for _, r := range rules {
		var p string
		switch rest := r.NumDigits - len(r.BeginsWith); {
		case r.NumDigits != 0:
			p = fmt.Sprintf(`^%s(.{%d})$`, regexp.QuoteMeta(r.BeginsWith), rest)
		default:
			p = fmt.Sprintf(`^%s(.*)$`, regexp.QuoteMeta(r.BeginsWith))
			if r.DigitsToRemove > len(r.BeginsWith) {
				p = fmt.Sprintf(`^%s(.{%d,})$`, regexp.QuoteMeta(r.BeginsWith), r.DigitsToRemove-len(r.BeginsWith))
			}
		}
		rr.res = append(rr.res, regexp.MustCompile(p))
	}
	return rr
}

func (rr *regexpRules) transform(number string) (string, bool) {
	num := rr.strip.ReplaceAllString(number, "")
	if !rr.valid.MatchString(num) {
		return "", false
	}
	for i, re := range rr.res {
		if re.MatchString(num) {
			r := rr.rules[i]
			return r.PrefixWith + num[r.DigitsToRemove:], true
		}
	}
	return num, true
}

// genRules makes a realistic rule set: a site in San Jose with 5-digit
// extensions, outside line 9, national and international rewriting, and
// country-specific rules for many countries.
func genRules() []Rule {
	rules := []Rule{
		{BeginsWith: "+1408555", NumDigits: 12, DigitsToRemove: 7},               // own extensions
		{BeginsWith: "+1408", NumDigits: 12, DigitsToRemove: 5, PrefixWith: "9"}, // local
		{NumDigits: 7, PrefixWith: "9"},
		{NumDigits: 10, PrefixWith: "91"},
		{BeginsWith: "1", NumDigits: 11, PrefixWith: "9"},
	}
	// Toll-free and premium ranges, each a rule.
	for _, npa := range []string{"800", "833", "844", "855", "866", "877", "888", "900"} {
		rules = append(rules, Rule{BeginsWith: "+1" + npa, NumDigits: 12, DigitsToRemove: 1, PrefixWith: "9"})
	}
	// Other area codes with a site gateway.
	for _, npa := range []string{"212", "213", "310", "312", "415", "510", "617", "646", "650", "702", "713", "718", "805", "818", "925", "949"} {
		rules = append(rules, Rule{BeginsWith: "+1" + npa, NumDigits: 12, DigitsToRemove: 2, PrefixWith: "8" + npa[:1]})
	}
	rules = append(rules, Rule{BeginsWith: "+1", NumDigits: 12, DigitsToRemove: 2, PrefixWith: "91"})
	// Countries: each with its national length and an international rule.
	countries := []struct {
		cc  string
		len int
	}{
		{"44", 13}, {"33", 12}, {"49", 13}, {"49", 14}, {"39", 13}, {"34", 12}, {"31", 12}, {"32", 12},
		{"41", 12}, {"43", 13}, {"45", 11}, {"46", 12}, {"47", 11}, {"358", 13}, {"353", 13}, {"351", 13},
		{"30", 13}, {"48", 12}, {"420", 13}, {"36", 12}, {"40", 12}, {"7", 12}, {"90", 13}, {"972", 13},
		{"971", 13}, {"966", 13}, {"91", 13}, {"86", 14}, {"81", 13}, {"82", 13}, {"852", 12}, {"65", 11},
		{"61", 12}, {"64", 12}, {"55", 14}, {"52", 13}, {"54", 13}, {"56", 12}, {"57", 13}, {"27", 12},
	}
	for _, c := range countries {
		rules = append(rules,
			Rule{BeginsWith: "+" + c.cc, NumDigits: c.len, DigitsToRemove: 1, PrefixWith: "9011"},
			Rule{BeginsWith: "00" + c.cc, NumDigits: c.len + 1, DigitsToRemove: 2, PrefixWith: "9011"},
		)
	}
	rules = append(rules,
		Rule{BeginsWith: "+", DigitsToRemove: 1, PrefixWith: "9011"},
		Rule{BeginsWith: "011", PrefixWith: "9"},
	)
	return rules
}

// genNumbers makes numbers as people paste them: E.164 with spaces and
// dashes, national formats with parentheses, extensions, NBSPs.
func genNumbers(n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 1))
	ccs := []string{"1", "44", "33", "49", "39", "34", "31", "358", "353", "86", "81", "61", "972", "55"}
	digits := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	var out []string
	for len(out) < n {
		switch rng.IntN(8) {
		case 0:
			out = append(out, "+1 408 555 "+digits(4))
		case 1:
			out = append(out, "+1 ("+digits(3)+") "+digits(3)+"-"+digits(4))
		case 2:
			cc := ccs[rng.IntN(len(ccs))]
			out = append(out, "+"+cc+" "+digits(2)+" "+digits(4)+" "+digits(4))
		case 3:
			out = append(out, digits(3)+"-"+digits(4))
		case 4:
			out = append(out, "("+digits(3)+") "+digits(3)+"-"+digits(4))
		case 5:
			out = append(out, digits(5))
		case 6:
			out = append(out, "+"+ccs[rng.IntN(len(ccs))]+"\u00a0"+digits(9))
		case 7:
			out = append(out, "0011"+strconv.Itoa(rng.IntN(90)+10)+digits(9))
		}
	}
	return out
}
