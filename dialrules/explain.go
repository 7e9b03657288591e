package dialrules

import (
	"fmt"
	"strings"
)

// Explanation says how [Rules.Explain] treated a number: every rule in the
// order they apply, whether it matched and why not, the winner and the
// result. Its String method prints it for people, one rule a line.
type Explanation struct {
	Input  string // the number as given
	Number string // the normalised number; empty when Err is set
	Steps  []Step // one per rule, in the order they apply
	Winner int    // index in Steps of the rule applied; -1 when none applied
	Result string // the transformed number; Number when no rule matched
	Err    error  // a normalisation error matching [ErrInvalidNumber], or nil
}

// Step is one rule's verdict on a number.
type Step struct {
	Rule     Rule
	Position int    // the rule's position in the file, from 1
	Matched  bool   // whether the rule's conditions hold for the number
	Reason   string // why the rule does not match; empty when it matches
	Result   string // what the rule would make of the number; empty when it does not match
}

// Explain applies the rules to number like [Rules.Transform], checking
// every rule rather than stopping at the first match, and reports each
// verdict. It is meant for people (csfctl dial --explain), not hot paths.
func (rs *Rules) Explain(number string) Explanation {
	e := Explanation{Input: number, Winner: -1}
	var buf numBuf
	n, err := normalize(&buf, number)
	if err != nil {
		e.Err = err
		return e
	}
	num := string(buf[:n])
	e.Number, e.Result = num, num
	for i := range rs.Len() {
		r := rs.rules[i]
		st := Step{Rule: r, Position: rs.pos[i]}
		st.Reason = r.mismatch(num)
		if st.Reason == "" {
			st.Matched = true
			st.Result = r.PrefixWith + num[r.DigitsToRemove:]
			if e.Winner < 0 {
				e.Winner = i
				e.Result = st.Result
			}
		}
		e.Steps = append(e.Steps, st)
	}
	return e
}

// mismatch says why r does not apply to num, or returns "" if it does.
func (r *Rule) mismatch(num string) string {
	if !strings.HasPrefix(num, r.BeginsWith) {
		k := min(len(num), len(r.BeginsWith))
		return fmt.Sprintf("begins with %q, not %q", num[:k], r.BeginsWith)
	}
	if r.NumDigits != 0 && len(num) != r.NumDigits {
		return fmt.Sprintf("length %d ≠ %d", len(num), r.NumDigits)
	}
	if len(num) < r.DigitsToRemove {
		return fmt.Sprintf("length %d < %d digits to remove", len(num), r.DigitsToRemove)
	}
	return ""
}

// String prints the explanation, e.g.
//
//	number "+1 408 555-1234" → "+14085551234" (12 characters)
//	  1. rule 1 (line 3) <DialRule BeginsWith="+44" .../>: no: begins with "+14", not "+44"
//	  2. rule 2 (line 4) <DialRule BeginsWith="+1" .../>: match → "914085551234" (applied)
//	result: "914085551234" by rule 2
func (e Explanation) String() string {
	var b strings.Builder
	if e.Err != nil {
		fmt.Fprintf(&b, "number %q: %v\n", e.Input, e.Err)
		return b.String()
	}
	fmt.Fprintf(&b, "number %q → %q (%d characters)\n", e.Input, e.Number, len(e.Number))
	for i, st := range e.Steps {
		fmt.Fprintf(&b, "  %d. rule %d", i+1, st.Position)
		if st.Rule.Line > 0 {
			fmt.Fprintf(&b, " (line %d)", st.Rule.Line)
		}
		fmt.Fprintf(&b, " %s: ", st.Rule)
		switch {
		case !st.Matched:
			fmt.Fprintf(&b, "no: %s\n", st.Reason)
		case i == e.Winner:
			fmt.Fprintf(&b, "match → %q (applied)\n", st.Result)
		default:
			fmt.Fprintf(&b, "match → %q (not applied: rule %d comes first)\n", st.Result, e.Steps[e.Winner].Position)
		}
	}
	if e.Winner < 0 {
		fmt.Fprintf(&b, "result: %q unchanged, no rule matched\n", e.Result)
	} else {
		fmt.Fprintf(&b, "result: %q by rule %d\n", e.Result, e.Steps[e.Winner].Position)
	}
	return b.String()
}
