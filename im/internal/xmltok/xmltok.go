// Package xmltok tokenizes the restricted XML of an XMPP stream (RFC 6120
// section 11.1) into encoding/xml tokens, several times faster than
// encoding/xml's own tokenizer, which dominated the client's receive path.
//
// It knows only what an XMPP stream may contain: elements, attributes,
// namespaces, character data with the predefined and numeric character
// references, and CDATA sections. Comments, processing instructions,
// document type declarations and other entity references are errors, as
// the RFC requires. Names in the tokens are translated (Name.Space holds
// the namespace, not the prefix), like encoding/xml's Decoder.Token; the
// namespace declarations stay in Attr as encoding/xml leaves them, so
// that xml.NewTokenDecoder over a Reader decodes into structs as usual.
package xmltok

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

const (
	nsXMLNS  = "http://www.w3.org/2000/xmlns/"
	nsXML    = "http://www.w3.org/XML/1998/namespace"
	nsStream = "http://etherx.jabber.org/streams"
)

// maxName bounds element and attribute names.
const maxName = 1024

// maxIntern bounds the table of interned names (element and attribute
// names, of which a stream uses a few dozen).
const maxIntern = 256

// ErrRestricted is returned for XML that RFC 6120 forbids in a stream
// (comments, processing instructions, DTDs, unknown entities).
var ErrRestricted = errors.New("xmltok: restricted XML")

// SyntaxError is malformed XML.
type SyntaxError struct {
	Msg    string
	Offset int64
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("xmltok: %s at byte %d", e.Msg, e.Offset) }

type binding struct {
	prefix, ns string
}

// Reader reads tokens from r. It is not safe for concurrent use.
type Reader struct {
	r       *bufio.Reader
	off     int64
	scopes  []int     // len(bindings) at each open element
	names   []string  // qualified names of open elements, for end-tag checks
	binds   []binding // in-scope namespace bindings, innermost last
	buf     []byte
	intern  map[string]string
	pend    xml.EndElement // end of a self-closing element, when hasPend
	hasPend bool
	attrs   []rawAttr // scratch for startTag
	// MaxDepth bounds element nesting; 0 means 256.
	MaxDepth int
	// Budget bounds the bytes of one top-level element (a stanza); 0 means
	// no limit. The rest of a bigger one is read and thrown away without
	// being kept, and Token returns a *TooBigError, after which the next
	// stanza can be read.
	Budget int64

	topStart int64    // offset where the current top-level element began
	topName  xml.Name // its name
	over     bool     // the current top-level element exceeded Budget
}

// TooBigError reports a top-level element over the Reader's Budget. It has
// been consumed entirely.
type TooBigError struct {
	Name xml.Name
	Size int64 // bytes read when it was given up, at least
}

func (e *TooBigError) Error() string {
	return fmt.Sprintf("xmltok: <%s> exceeds the size limit (%d bytes)", e.Name.Local, e.Size)
}

// NewReader returns a Reader that starts inside an element whose scope
// binds the default namespace to defaultNS and each prefix in prefixes to
// its namespace (the stream header's declarations).
func NewReader(r *bufio.Reader, defaultNS string, prefixes map[string]string) *Reader {
	t := &Reader{r: r, intern: make(map[string]string)}
	t.binds = append(t.binds, binding{"", defaultNS}, binding{"xml", nsXML})
	for p, ns := range prefixes {
		t.binds = append(t.binds, binding{p, ns})
	}
	return t
}

func (t *Reader) syntax(msg string) error { return &SyntaxError{Msg: msg, Offset: t.off} }

func (t *Reader) getc() (byte, error) {
	b, err := t.r.ReadByte()
	if err == nil {
		t.off++
		if t.Budget > 0 && !t.over && len(t.names) > 0 && t.off-t.topStart > t.Budget {
			t.over = true
		}
	}
	return b, err
}

// keep appends b to the token buffer, unless the element is over budget:
// then the buffer stays small while the rest is read.
func (t *Reader) keep(b ...byte) {
	if t.over {
		if len(t.buf) > 256 {
			t.buf = t.buf[:0]
		}
	}
	t.buf = append(t.buf, b...)
}

func (t *Reader) ungetc() {
	_ = t.r.UnreadByte()
	t.off--
}

func (t *Reader) str(b []byte) string {
	if s, ok := t.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(t.intern) < maxIntern && len(b) <= 64 {
		t.intern[s] = s
	}
	return s
}

// Depth returns the number of elements open (0 at the stream's top level).
func (t *Reader) Depth() int { return len(t.names) }

// Token returns the next token. At the top level, an end tag (the stream's
// close) returns io.EOF.
func (t *Reader) Token() (xml.Token, error) {
	if len(t.names) == 0 && !t.hasPend {
		t.topStart = t.off
	}
	tok, err := t.token()
	if err != nil || !t.over {
		return tok, err
	}
	top := t.topName
	// Over budget: read the rest of the top-level element, keeping nothing.
	for len(t.names) > 0 || t.hasPend {
		if _, err := t.token(); err != nil {
			return nil, err
		}
	}
	t.over = false
	size := t.off - t.topStart
	if top.Local == "" {
		top.Local = "stanza"
	}
	return nil, &TooBigError{Name: top, Size: size}
}

func (t *Reader) token() (xml.Token, error) {
	if t.hasPend {
		t.hasPend = false
		t.pop()
		return t.pend, nil
	}
	b, err := t.getc()
	if err != nil {
		// Only the stream's end tag ends it properly.
		return nil, unexpected(err)
	}
	if b != '<' {
		t.ungetc()
		return t.text()
	}
	b, err = t.getc()
	if err != nil {
		return nil, unexpected(err)
	}
	switch b {
	case '/':
		return t.endTag()
	case '!':
		return t.bang()
	case '?':
		return nil, ErrRestricted
	}
	t.ungetc()
	return t.startTag()
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (t *Reader) bang() (xml.Token, error) {
	const cdata = "[CDATA["
	for i := 0; i < len(cdata); i++ {
		b, err := t.getc()
		if err != nil {
			return nil, unexpected(err)
		}
		if b != cdata[i] {
			return nil, ErrRestricted
		}
	}
	if len(t.names) == 0 {
		return nil, t.syntax("CDATA outside an element")
	}
	t.buf = t.buf[:0]
	for {
		b, err := t.getc()
		if err != nil {
			return nil, unexpected(err)
		}
		t.keep(b)
		if n := len(t.buf); n >= 3 && t.buf[n-1] == '>' && t.buf[n-2] == ']' && t.buf[n-3] == ']' {
			data := t.buf[:n-3]
			if !utf8.Valid(data) && !t.over {
				return nil, t.syntax("invalid UTF-8")
			}
			return xml.CharData(append([]byte{}, data...)), nil
		}
	}
}

// name reads an XML name up to a delimiter, returning prefix and local
// part.
func (t *Reader) name() (prefix, local []byte, err error) {
	t.buf = t.buf[:0]
	colon := -1
	for {
		b, err := t.getc()
		if err != nil {
			return nil, nil, unexpected(err)
		}
		switch b {
		case ' ', '\t', '\r', '\n', '/', '>', '=':
			t.ungetc()
			if len(t.buf) == 0 || colon == 0 || colon == len(t.buf)-1 {
				return nil, nil, t.syntax("bad name")
			}
			if colon < 0 {
				return nil, t.buf, nil
			}
			return t.buf[:colon], t.buf[colon+1:], nil
		case ':':
			if colon >= 0 {
				return nil, nil, t.syntax("two colons in a name")
			}
			colon = len(t.buf)
		case '<', '&', '"', '\'':
			return nil, nil, t.syntax("bad character in a name")
		}
		if b < 0x80 && !nameByte(b, len(t.buf) == 0) {
			return nil, nil, t.syntax("bad character in a name")
		}
		if len(t.buf) >= maxName {
			return nil, nil, t.syntax("name too long")
		}
		t.buf = append(t.buf, b)
	}
}

func nameByte(b byte, first bool) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', b == '_', b == ':':
		return true
	case '0' <= b && b <= '9', b == '-', b == '.':
		return !first
	}
	return false
}

func (t *Reader) space() (byte, error) {
	for {
		b, err := t.getc()
		if err != nil {
			return 0, unexpected(err)
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, nil
	}
}

type rawAttr struct {
	prefix, local, value string
}

func (t *Reader) startTag() (xml.Token, error) {
	max := t.MaxDepth
	if max <= 0 {
		max = 256
	}
	if len(t.names) >= max {
		return nil, t.syntax("elements nested too deep")
	}
	p, l, err := t.name()
	if err != nil {
		return nil, err
	}
	prefix, local := t.str(p), t.str(l)
	attrs := t.attrs[:0]
	defer func() { t.attrs = attrs[:0] }()
	selfClose := false
	for {
		b, err := t.space()
		if err != nil {
			return nil, err
		}
		if b == '>' {
			break
		}
		if b == '/' {
			if b, err = t.getc(); err != nil {
				return nil, unexpected(err)
			}
			if b != '>' {
				return nil, t.syntax("expected > after /")
			}
			selfClose = true
			break
		}
		t.ungetc()
		ap, al, err := t.name()
		if err != nil {
			return nil, err
		}
		a := rawAttr{prefix: t.str(ap), local: t.str(al)}
		if b, err = t.space(); err != nil {
			return nil, err
		}
		if b != '=' {
			return nil, t.syntax("attribute without value")
		}
		if b, err = t.space(); err != nil {
			return nil, err
		}
		if b != '"' && b != '\'' {
			return nil, t.syntax("unquoted attribute value")
		}
		v, err := t.value(b)
		if err != nil {
			return nil, err
		}
		a.value = v
		for _, o := range attrs {
			if o.prefix == a.prefix && o.local == a.local {
				return nil, t.syntax("duplicate attribute")
			}
		}
		attrs = append(attrs, a)
	}
	// Namespace declarations first: they apply to this element's own name
	// and attributes.
	t.scopes = append(t.scopes, len(t.binds))
	for _, a := range attrs {
		switch {
		case a.prefix == "" && a.local == "xmlns":
			t.binds = append(t.binds, binding{"", a.value})
		case a.prefix == "xmlns":
			if a.value == "" {
				return nil, t.syntax("empty namespace for a prefix")
			}
			t.binds = append(t.binds, binding{a.local, a.value})
		}
	}
	ns, ok := t.lookup(prefix)
	if !ok {
		ns = prefix // encoding/xml leaves an unknown prefix as the space
	}
	se := xml.StartElement{Name: xml.Name{Space: ns, Local: local}}
	if len(attrs) > 0 {
		se.Attr = make([]xml.Attr, len(attrs))
	}
	for i, a := range attrs {
		n := xml.Name{Space: a.prefix, Local: a.local}
		switch {
		case a.prefix == "" || a.prefix == "xmlns":
		case a.prefix == "xml":
			n.Space = nsXML
		default:
			if v, ok := t.lookup(a.prefix); ok {
				n.Space = v
			}
		}
		se.Attr[i] = xml.Attr{Name: n, Value: a.value}
	}
	qname := local
	if prefix != "" {
		qname = prefix + ":" + local
	}
	if len(t.names) == 0 {
		t.topName = se.Name
	}
	t.names = append(t.names, qname)
	if selfClose {
		t.pend, t.hasPend = xml.EndElement{Name: se.Name}, true
	}
	return se, nil
}

func (t *Reader) lookup(prefix string) (string, bool) {
	for i := len(t.binds) - 1; i >= 0; i-- {
		if t.binds[i].prefix == prefix {
			return t.binds[i].ns, true
		}
	}
	return "", prefix == ""
}

func (t *Reader) pop() {
	t.names = t.names[:len(t.names)-1]
	t.binds = t.binds[:t.scopes[len(t.scopes)-1]]
	t.scopes = t.scopes[:len(t.scopes)-1]
}

func (t *Reader) endTag() (xml.Token, error) {
	p, l, err := t.name()
	if err != nil {
		return nil, err
	}
	b, err := t.space()
	if err != nil {
		return nil, err
	}
	if b != '>' {
		return nil, t.syntax("bad end tag")
	}
	if len(t.names) == 0 {
		// Only the stream's own end tag may close the top level.
		if ns, _ := t.lookup(string(p)); ns == nsStream && string(l) == "stream" {
			return nil, io.EOF
		}
		return nil, t.syntax("unexpected end tag at the top level")
	}
	qname := string(l)
	if len(p) > 0 {
		qname = string(p) + ":" + qname
	}
	if t.names[len(t.names)-1] != qname {
		return nil, t.syntax("end tag </" + qname + "> does not match <" + t.names[len(t.names)-1] + ">")
	}
	ns, ok := t.lookup(t.str(p))
	if !ok {
		ns = string(p)
	}
	e := xml.EndElement{Name: xml.Name{Space: ns, Local: t.str(l)}}
	t.pop()
	return e, nil
}

// value reads an attribute value up to quote q, resolving references.
func (t *Reader) value(q byte) (string, error) {
	t.buf = t.buf[:0]
	for {
		b, err := t.getc()
		if err != nil {
			return "", unexpected(err)
		}
		switch b {
		case q:
			if !utf8.Valid(t.buf) && !t.over {
				return "", t.syntax("invalid UTF-8")
			}
			// Values (addresses, ids) are not interned: they vary, and an
			// interned table would grow with every peer seen.
			return string(t.buf), nil
		case '<':
			return "", t.syntax("< in attribute value")
		case '&':
			if err := t.ref(); err != nil {
				return "", err
			}
		case '\r':
			// Line ends as encoding/xml treats them (no attribute-value
			// normalization: mellium does none either).
			if n, err := t.getc(); err == nil && n != '\n' {
				t.ungetc()
			}
			t.keep('\n')
		default:
			t.keep(b)
		}
	}
}

func (t *Reader) text() (xml.Token, error) {
	t.buf = t.buf[:0]
	for {
		b, err := t.getc()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if b == '<' {
			t.ungetc()
			break
		}
		switch b {
		case '&':
			if err := t.ref(); err != nil {
				return nil, err
			}
		case '\r':
			// Line-end normalization (XML 1.0 section 2.11).
			if n, err := t.getc(); err == nil && n != '\n' {
				t.ungetc()
			}
			t.keep('\n')
		default:
			t.keep(b)
		}
	}
	if !utf8.Valid(t.buf) && !t.over {
		return nil, t.syntax("invalid UTF-8")
	}
	if len(t.names) == 0 {
		for _, b := range t.buf {
			if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
				return nil, t.syntax("text at the stream's top level")
			}
		}
	}
	return xml.CharData(append([]byte{}, t.buf...)), nil
}

// ref reads a reference after & and appends what it stands for.
func (t *Reader) ref() error {
	var name [12]byte
	n := 0
	for {
		b, err := t.getc()
		if err != nil {
			return unexpected(err)
		}
		if b == ';' {
			break
		}
		if n == len(name) {
			return t.syntax("reference too long")
		}
		name[n] = b
		n++
	}
	s := name[:n]
	switch string(s) {
	case "lt":
		t.keep('<')
	case "gt":
		t.keep('>')
	case "amp":
		t.keep('&')
	case "apos":
		t.keep('\'')
	case "quot":
		t.keep('"')
	default:
		if len(s) < 2 || s[0] != '#' {
			return ErrRestricted
		}
		var v uint64
		var err error
		if s[1] == 'x' {
			v, err = strconv.ParseUint(string(s[2:]), 16, 32)
		} else {
			v, err = strconv.ParseUint(string(s[1:]), 10, 32)
		}
		r := rune(v)
		if err != nil || !isChar(r) {
			return t.syntax("bad character reference")
		}
		var enc [utf8.UTFMax]byte
		t.keep(enc[:utf8.EncodeRune(enc[:], r)]...)
	}
	return nil
}

func isChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
