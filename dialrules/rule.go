package dialrules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxPriority is the largest priority accepted.
const MaxPriority = 1<<31 - 1

// Rule is one dial rule. Its conditions are BeginsWith and NumDigits; a rule
// applies to a number when every condition that is set holds. Its
// consequence removes DigitsToRemove characters from the front of the
// number, then prepends PrefixWith. The zero Rule matches every number and
// leaves it unchanged.
type Rule struct {
	// BeginsWith is the start the number must have: digits, optionally after
	// a leading '+'. Empty matches every number.
	BeginsWith string
	// NumDigits is the number of characters the number must have, counting
	// a leading '+' and any '*' or '#'. 0 matches every length.
	NumDigits int
	// DigitsToRemove is how many characters to remove from the front of the
	// number, a leading '+' included. It is at most NumDigits when NumDigits
	// is set; when NumDigits is 0, the rule does not apply to numbers shorter
	// than DigitsToRemove.
	DigitsToRemove int
	// PrefixWith is prepended after removal: digits, '*' and '#', optionally
	// after a leading '+'.
	PrefixWith string
	// Priority orders the rules when HasPriority is set: the lowest value
	// comes first. Rules without a priority follow those with one.
	Priority int
	// HasPriority says whether Priority was given.
	HasPriority bool
	// Line is the line of the DialRule start tag in the file it was parsed
	// from; 0 for rules built in code. It does not affect matching and is
	// not serialised.
	Line int
}

// Canonical attribute names, as in the public AppDialRules.xml files.
const (
	attrBeginsWith     = "BeginsWith"
	attrNumDigits      = "NumDigits"
	attrDigitsToRemove = "DigitsToRemove"
	attrPrefixWith     = "PrefixWith"
	attrPriority       = "priority"
)

// String returns the rule in the canonical XML form written by
// [Rules.WriteTo], e.g. <DialRule BeginsWith="+" NumDigits="12"
// DigitsToRemove="1" PrefixWith="00"/>.
func (r Rule) String() string {
	var b strings.Builder
	b.Grow(80)
	b.WriteString("<DialRule")
	r.appendAttrs(&b)
	b.WriteString("/>")
	return b.String()
}

// appendAttrs writes the rule's attributes in canonical order, omitting
// absent ones. Values are digits, '+', '*' and '#' only, so they need no
// escaping.
func (r Rule) appendAttrs(b *strings.Builder) {
	attr := func(name, value string) {
		b.WriteByte(' ')
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(value)
		b.WriteByte('"')
	}
	if r.BeginsWith != "" {
		attr(attrBeginsWith, r.BeginsWith)
	}
	if r.NumDigits != 0 {
		attr(attrNumDigits, strconv.Itoa(r.NumDigits))
	}
	if r.DigitsToRemove != 0 {
		attr(attrDigitsToRemove, strconv.Itoa(r.DigitsToRemove))
	}
	if r.PrefixWith != "" {
		attr(attrPrefixWith, r.PrefixWith)
	}
	if r.HasPriority {
		attr(attrPriority, strconv.Itoa(r.Priority))
	}
}

// catchAll reports whether the rule has no conditions that can fail.
func (r *Rule) catchAll() bool {
	return r.BeginsWith == "" && r.NumDigits == 0 && r.DigitsToRemove <= 1
}

// minLen is the length of the shortest number the rule applies to.
func (r *Rule) minLen() int {
	if r.NumDigits != 0 {
		return r.NumDigits
	}
	return max(len(r.BeginsWith), r.DigitsToRemove, 1)
}

// covers reports whether r applies to every number that s applies to, so
// that s never applies when r comes first.
func (r *Rule) covers(s *Rule) bool {
	if !strings.HasPrefix(s.BeginsWith, r.BeginsWith) {
		return false
	}
	if r.NumDigits != 0 {
		return r.NumDigits == s.NumDigits
	}
	return r.DigitsToRemove <= s.minLen()
}

// validate returns the canonical name of the first invalid field and why.
func (r *Rule) validate() (string, error) {
	if err := checkChars(r.BeginsWith, "0123456789"); err != nil {
		return attrBeginsWith, err
	}
	if r.NumDigits < 0 {
		return attrNumDigits, errNegative
	}
	if r.NumDigits > MaxLen {
		return attrNumDigits, errTooLarge
	}
	if r.DigitsToRemove < 0 {
		return attrDigitsToRemove, errNegative
	}
	if r.DigitsToRemove > MaxLen {
		return attrDigitsToRemove, errTooLarge
	}
	if err := checkChars(r.PrefixWith, "0123456789*#"); err != nil {
		return attrPrefixWith, err
	}
	if r.Priority < 0 || !r.HasPriority && r.Priority != 0 {
		return attrPriority, errNegative
	}
	if r.Priority > MaxPriority {
		return attrPriority, fmt.Errorf("larger than %d", MaxPriority)
	}
	if r.NumDigits != 0 {
		if r.DigitsToRemove > r.NumDigits {
			return attrDigitsToRemove, fmt.Errorf("removes %d characters from numbers of %d", r.DigitsToRemove, r.NumDigits)
		}
		if len(r.BeginsWith) > r.NumDigits {
			return attrBeginsWith, fmt.Errorf("%q is longer than NumDigits %d", r.BeginsWith, r.NumDigits)
		}
	}
	return "", nil
}

var (
	errNegative = errors.New("negative value")
	errTooLarge = fmt.Errorf("larger than %d", MaxLen)
)

// checkChars reports whether s holds only the allowed bytes, after an
// optional leading '+', and is at most MaxLen long.
func checkChars(s, allowed string) error {
	if len(s) > MaxLen {
		return fmt.Errorf("longer than %d characters", MaxLen)
	}
	for i, c := range s {
		if c == '+' && i == 0 || c < 0x80 && strings.IndexByte(allowed, byte(c)) >= 0 {
			continue
		}
		if c == '+' {
			return fmt.Errorf("%q: '+' is allowed only first", s)
		}
		return fmt.Errorf("%q: %q is not allowed", s, c)
	}
	return nil
}
