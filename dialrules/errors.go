package dialrules

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidNumber reports a number that still holds letters or other
	// characters after normalisation, a '+' that is not the first
	// character, no characters at all, or more than [MaxLen] characters.
	ErrInvalidNumber = errors.New("invalid number")

	// ErrInvalidRule reports a rule that can never be applied as written.
	// Every [*RuleError] matches it with [errors.Is].
	ErrInvalidRule = errors.New("invalid dial rule")

	// ErrMalformed reports a dial-rules file that is not well-formed XML,
	// has no DialRules root element, or exceeds the size limits.
	ErrMalformed = errors.New("malformed dial rules file")
)

// RuleError reports an invalid rule: the file, the line of its DialRule
// element, the attribute at fault as spelled in the file, and the rule's
// position. It matches [ErrInvalidRule] with [errors.Is]; Err says what is
// wrong.
type RuleError struct {
	File      string // name given to [Parse]; empty for rules given to [New]
	Line      int    // line of the DialRule start tag; 0 for rules given to [New]
	Attribute string // attribute at fault, e.g. "DigitsToRemove"
	Rule      int    // position of the rule in file order, counting from 1
	Err       error  // the reason
}

// Error formats the error as "dialrules: file:line: rule N: attribute: reason".
func (e *RuleError) Error() string {
	where := "dialrules: "
	switch {
	case e.File != "" && e.Line > 0:
		where += fmt.Sprintf("%s:%d: ", e.File, e.Line)
	case e.File != "":
		where += e.File + ": "
	case e.Line > 0:
		where += fmt.Sprintf("line %d: ", e.Line)
	}
	return fmt.Sprintf("%srule %d: %s: %v", where, e.Rule, e.Attribute, e.Err)
}

// Unwrap returns the reason.
func (e *RuleError) Unwrap() error { return e.Err }

// Is reports whether target is [ErrInvalidRule].
func (e *RuleError) Is(target error) bool { return target == ErrInvalidRule }

// numberError builds the error for an invalid number. It is kept out of the
// hot path so that the number never escapes on success.
//
//go:noinline
func numberError(number string, off int, reason string) error {
	if off < 0 {
		return fmt.Errorf("dialrules: number %q: %s: %w", number, reason, ErrInvalidNumber)
	}
	return fmt.Errorf("dialrules: number %q: %s at byte %d: %w", number, reason, off, ErrInvalidNumber)
}

// malformed builds an error for a file-level problem.
func malformed(file string, line int, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		return fmt.Errorf("dialrules: %s:%d: %s: %w", file, line, msg, ErrMalformed)
	}
	return fmt.Errorf("dialrules: %s: %s: %w", file, msg, ErrMalformed)
}
