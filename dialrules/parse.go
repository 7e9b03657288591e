package dialrules

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits that keep a hostile or broken file from using unbounded memory.
const (
	// MaxFileSize is the largest file [Parse] reads, in bytes.
	MaxFileSize = 1 << 20
	// MaxRules is the largest number of rules in one file.
	MaxRules = 10000
)

// Warning is something [Parse] skipped or found suspicious but not fatal:
// an unknown attribute or element, or a rule that can never apply.
type Warning struct {
	File    string
	Line    int    // 0 when not tied to a line
	Rule    int    // position of the rule in file order from 1; 0 when not about a rule
	Message string // lower case, without the file and line
}

// String formats the warning as "file:line: rule N: message".
func (w Warning) String() string {
	s := w.File
	if w.Line > 0 {
		s += fmt.Sprintf(":%d", w.Line)
	}
	if w.Rule > 0 {
		s += fmt.Sprintf(": rule %d", w.Rule)
	}
	return s + ": " + w.Message
}

// field identifies a Rule field that an attribute sets.
type field int

const (
	fieldBeginsWith field = iota
	fieldNumDigits
	fieldDigitsToRemove
	fieldPrefixWith
	fieldPriority
	numFields
)

// attrFields maps lower-cased attribute spellings to fields: those in public
// AppDialRules.xml files and the CUCM administration and AXL names.
var attrFields = map[string]field{
	"beginswith":        fieldBeginsWith,
	"numberbeginwith":   fieldBeginsWith,
	"numberbeginswith":  fieldBeginsWith,
	"numdigits":         fieldNumDigits,
	"numberofdigits":    fieldNumDigits,
	"digitstoremove":    fieldDigitsToRemove,
	"digitstoberemoved": fieldDigitsToRemove,
	"prefixwith":        fieldPrefixWith,
	"prefixpattern":     fieldPrefixWith,
	"priority":          fieldPriority,
}

var canonicalNames = [numFields]string{attrBeginsWith, attrNumDigits, attrDigitsToRemove, attrPrefixWith, attrPriority}

// Parse reads a CUCM dial-rules file, AppDialRules.xml or
// DirLookupDialRules.xml, naming it name in errors and warnings. It accepts
// the root element DialRules in any letter case, holding DialRule elements
// whose attributes may use the spellings of the public files (BeginsWith,
// NumDigits, DigitsToRemove, PrefixWith) or of CUCM administration and AXL
// (numberBeginWith, numberOfDigits, digitsToBeRemoved, prefixPattern,
// priority), in any letter case. An empty attribute is an absent one.
//
// Unknown attributes and elements, and rules that earlier rules shadow,
// give warnings. An invalid rule gives a [*RuleError]; a file that is not
// XML, lacks the root element or exceeds [MaxFileSize] or [MaxRules] gives
// an error matching [ErrMalformed]. Parse reads r until the end of the root
// element and does not close it.
func Parse(name string, r io.Reader) (*Rules, []Warning, error) {
	p := &parser{name: name, lim: &limitReader{r: r, n: MaxFileSize}}
	p.dec = xml.NewDecoder(p.lim)
	p.dec.CharsetReader = charsetReader
	rules, err := p.parse()
	if err != nil {
		return nil, p.warnings, err
	}
	rs, err := build(name, rules)
	if err != nil {
		return nil, p.warnings, err
	}
	p.warnings = append(p.warnings, rs.shadowWarnings()...)
	return rs, p.warnings, nil
}

type parser struct {
	name     string
	lim      *limitReader
	dec      *xml.Decoder
	warnings []Warning
}

func (p *parser) warn(line, rule int, format string, args ...any) {
	p.warnings = append(p.warnings, Warning{File: p.name, Line: line, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// token returns the next token and the line it starts on.
func (p *parser) token() (xml.Token, int, error) {
	line, _ := p.dec.InputPos()
	tok, err := p.dec.Token()
	if err != nil {
		if p.lim.exceeded {
			return nil, line, malformed(p.name, 0, "larger than %d bytes", MaxFileSize)
		}
		if err == io.EOF {
			return nil, line, err
		}
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, se.Line, malformed(p.name, se.Line, "%s", se.Msg)
		}
		return nil, line, malformed(p.name, line, "%s", strings.TrimPrefix(err.Error(), "xml: "))
	}
	return tok, line, nil
}

func (p *parser) parse() ([]Rule, error) {
	var rules []Rule
	root := false
	for {
		tok, line, err := p.token()
		if err == io.EOF {
			if !root {
				return nil, malformed(p.name, 0, "no DialRules element")
			}
			return rules, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root {
				return nil, malformed(p.name, line, "element <%s> after the DialRules element", t.Name.Local)
			}
			if !strings.EqualFold(t.Name.Local, "DialRules") {
				return nil, malformed(p.name, line, "root element is <%s>, not <DialRules>", t.Name.Local)
			}
			root = true
			for _, a := range t.Attr {
				if !isNamespaceDecl(a.Name) {
					p.warn(line, 0, "unknown attribute %s on <%s>", a.Name.Local, t.Name.Local)
				}
			}
			if rules, err = p.parseRoot(); err != nil {
				return nil, err
			}
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) != 0 {
				return nil, malformed(p.name, line, "text outside the DialRules element")
			}
		}
	}
}

// parseRoot reads the content of the DialRules element, up to its end tag.
func (p *parser) parseRoot() ([]Rule, error) {
	var rules []Rule
	for {
		tok, line, err := p.token()
		if err == io.EOF {
			return nil, malformed(p.name, line, "unexpected end of file in <DialRules>")
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return rules, nil
		case xml.StartElement:
			if !strings.EqualFold(t.Name.Local, "DialRule") {
				p.warn(line, 0, "unknown element <%s> skipped", t.Name.Local)
				if err := p.skip(); err != nil {
					return nil, err
				}
				continue
			}
			if len(rules) == MaxRules {
				return nil, malformed(p.name, line, "more than %d rules", MaxRules)
			}
			r, err := p.parseRule(t, line, len(rules)+1)
			if err != nil {
				return nil, err
			}
			rules = append(rules, r)
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) != 0 {
				p.warn(line, 0, "text in <DialRules> ignored")
			}
		}
	}
}

// skip consumes the rest of the current element.
func (p *parser) skip() error {
	for depth := 1; depth > 0; {
		tok, line, err := p.token()
		if err == io.EOF {
			return malformed(p.name, line, "unexpected end of file")
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return nil
}

func (p *parser) parseRule(start xml.StartElement, line, index int) (Rule, error) {
	r := Rule{Line: line}
	var spelled [numFields]string // attribute name as written, per field
	for _, a := range start.Attr {
		if isNamespaceDecl(a.Name) {
			continue
		}
		f, ok := attrFields[strings.ToLower(a.Name.Local)]
		if !ok || a.Name.Space != "" {
			p.warn(line, index, "unknown attribute %s ignored", a.Name.Local)
			continue
		}
		if prev := spelled[f]; prev != "" {
			return r, &RuleError{File: p.name, Line: line, Attribute: a.Name.Local, Rule: index,
				Err: fmt.Errorf("duplicate: %s already given", prev)}
		}
		spelled[f] = a.Name.Local
		v := strings.TrimSpace(a.Value)
		if v == "" {
			continue
		}
		var err error
		switch f {
		case fieldBeginsWith:
			r.BeginsWith = v
		case fieldPrefixWith:
			r.PrefixWith = v
		case fieldNumDigits:
			r.NumDigits, err = parseCount(v, MaxLen)
		case fieldDigitsToRemove:
			r.DigitsToRemove, err = parseCount(v, MaxLen)
		case fieldPriority:
			r.Priority, err = parseCount(v, MaxPriority)
			r.HasPriority = true
		}
		if err != nil {
			return r, &RuleError{File: p.name, Line: line, Attribute: a.Name.Local, Rule: index, Err: err}
		}
	}
	if attr, err := r.validate(); err != nil {
		for f, c := range canonicalNames {
			if c == attr && spelled[f] != "" {
				attr = spelled[f]
			}
		}
		return r, &RuleError{File: p.name, Line: line, Attribute: attr, Rule: index, Err: err}
	}
	if err := p.skipRuleContent(line, index); err != nil {
		return r, err
	}
	return r, nil
}

// skipRuleContent consumes what is inside a DialRule element, which should
// be nothing.
func (p *parser) skipRuleContent(line, index int) error {
	warned := false
	for depth := 1; depth > 0; {
		tok, l, err := p.token()
		if err == io.EOF {
			return malformed(p.name, l, "unexpected end of file in <DialRule>")
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if !warned {
				p.warn(l, index, "content of <DialRule> ignored: <%s>", t.Name.Local)
				warned = true
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if !warned && len(strings.TrimSpace(string(t))) != 0 {
				p.warn(line, index, "text in <DialRule> ignored")
				warned = true
			}
		}
	}
	return nil
}

// parseCount parses a non-negative decimal count no larger than limit.
func parseCount(s string, limit int) (int, error) {
	if s[0] == '-' {
		return 0, fmt.Errorf("%q: %w", s, errNegative)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
		n = n*10 + int(c-'0')
		if n > limit {
			return 0, fmt.Errorf("%q is larger than %d", s, limit)
		}
	}
	return n, nil
}

func isNamespaceDecl(n xml.Name) bool {
	return n.Space == "xmlns" || n.Space == "" && n.Local == "xmlns"
}

// shadowWarnings reports rules that never apply because a rule before them
// applies to every number they would.
func (rs *Rules) shadowWarnings() []Warning {
	rules := rs.rules
	if len(rules) > 1000 {
		return nil // quadratic; files this large come from tools, not people
	}
	var ws []Warning
	for j := 1; j < len(rules); j++ {
		for i := range j {
			if rules[i].covers(&rules[j]) {
				ws = append(ws, Warning{File: rs.name, Line: rules[j].Line, Rule: rs.pos[j],
					Message: fmt.Sprintf("never applies: rule %d %s comes first and matches every number it would",
						rs.pos[i], rules[i])})
				break
			}
		}
	}
	return ws
}

// limitReader reads at most n bytes and records whether r had more.
type limitReader struct {
	r        io.Reader
	n        int64
	exceeded bool
}

func (l *limitReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		if k, _ := l.r.Read(one[:]); k > 0 {
			l.exceeded = true
			return 0, errors.New("file too large")
		}
		return 0, io.EOF
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	k, err := l.r.Read(b)
	l.n -= int64(k)
	return k, err
}

// charsetReader accepts the single-byte encodings that Windows tools
// declare. Rule values are ASCII whatever the encoding; other bytes can only
// be in comments and text, which are ignored, so reading windows-1252 as
// ISO-8859-1 is harmless.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin1", "windows-1252", "cp1252":
		return &latin1Reader{r: r}, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}

// latin1Reader decodes ISO-8859-1 to UTF-8.
type latin1Reader struct {
	r   io.Reader
	buf []byte
}

func (l *latin1Reader) Read(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, io.ErrShortBuffer
	}
	if cap(l.buf) < len(b)/2 {
		l.buf = make([]byte, len(b)/2)
	}
	k, err := l.r.Read(l.buf[:len(b)/2])
	n := 0
	for _, c := range l.buf[:k] {
		if c < 0x80 {
			b[n] = c
			n++
		} else {
			b[n], b[n+1] = 0xC0|c>>6, 0x80|c&0x3F
			n += 2
		}
	}
	return n, err
}
