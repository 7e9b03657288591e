// Package dialrules reads and applies Cisco CUCM dial rules, as published to
// CSF clients (Cisco Unified Personal Communicator, Jabber) over TFTP.
//
// CUCM serves two files under CUPC/: AppDialRules.xml holds application
// dial rules, which turn a number taken from the directory or a
// click-to-dial request into the string to dial; DirLookupDialRules.xml
// holds directory-lookup rules, which turn an incoming caller ID into the
// key to search the directory with. Both have the same shape:
//
//	<DialRules>
//	  <DialRule BeginsWith="+" NumDigits="12" DigitsToRemove="1" PrefixWith="00"/>
//	</DialRules>
//
// The CSF client of CUCM 8.6 read these files at start only. Here a [Set]
// reloads them while numbers are being transformed.
//
// # Usage
//
//	f, err := os.Open("AppDialRules.xml")
//	...
//	rules, warnings, err := dialrules.Parse("AppDialRules.xml", f)
//	...
//	dial, err := rules.Transform("+1 (408) 555-1234")
//	fmt.Println(rules.Explain("+1 (408) 555-1234"))
//
// Hot paths use [Rules.AppendTransform], which does not allocate.
//
// # Semantics
//
// These follow the CUCM system guide's description of application and
// directory-lookup dial rules, and the public AppDialRules.xml files.
//
//   - A number is first normalised (see [Normalize]): spaces, dashes, dots,
//     slashes, parentheses and invisible marks that people paste are
//     dropped; digits, '*', '#' and a leading '+' stay; anything else, such
//     as letters, is an error matching [ErrInvalidNumber].
//   - A rule applies when all its conditions hold: the number begins with
//     BeginsWith, and it has NumDigits characters. An absent or empty
//     condition holds for every number.
//   - A leading '+' is a character of the number like any other: NumDigits
//     counts it and removing one digit removes it, as in the public example
//     above, which rewrites +14085551234 (12 characters) to 0014085551234.
//   - The consequence removes DigitsToRemove characters from the front of
//     the number, then prepends PrefixWith. A rule without NumDigits does
//     not apply to numbers shorter than its DigitsToRemove.
//   - The rules form a priority list and the first that applies wins. Rules
//     with a priority attribute come first, lowest value first; equal
//     priorities, and rules without one, keep the order of the file. When no rule applies, the normalised number is used
//     unchanged.
//
// Parsing rejects rules that cannot be applied as written, such as one that
// removes more digits than NumDigits, with a [*RuleError] naming the line
// and attribute.
//
// # Concurrency
//
// A [*Rules] is immutable once made and safe for concurrent use. A [Set]
// swaps rules atomically: a transform uses either the old rules or the new,
// never a mixture, and never waits for a reload. No goroutines are started.
//
// # Errors
//
// Errors to branch on are [ErrInvalidNumber] (a number that cannot be
// dialled), [ErrInvalidRule] (every [*RuleError]) and [ErrMalformed] (a file
// that is not dial-rules XML). Unknown attributes and elements, and rules
// that can never apply because an earlier one covers them, are [Warning]
// values, not errors, so that a file with vendor extensions still loads.
package dialrules
