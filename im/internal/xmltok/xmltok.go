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
//
// [Reader.Next] is the same stream without allocation: the current token's
// name, attributes and text are views into the Reader's buffers, valid
// until the next call. A client's hot path (chat messages) reads that way
// and copies only the values it keeps; [Reader.Token] builds encoding/xml
// tokens from it for everything else.
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

const maxInt = int(^uint(0) >> 1)

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

// Kind is the kind of the token [Reader.Next] read.
type Kind uint8

// The kinds of token.
const (
	KindStart Kind = iota + 1 // a start tag; Name and Attrs describe it
	KindEnd                   // an end tag (or the end of a self-closing tag); Name
	KindText                  // character data (CDATA sections too); Text
)

// Attr is an attribute of the current start tag. Value is resolved
// (references replaced) and valid until the next call to Next or Token.
type Attr struct {
	Name  xml.Name
	Value []byte
}

// qname is an open element's name as written, for the end-tag check.
type qname struct{ prefix, local string }

// Reader reads tokens from r. It is not safe for concurrent use.
type Reader struct {
	r       *bufio.Reader
	off     int64
	scopes  []int     // len(bindings) at each open element
	names   []qname   // names of open elements, for end-tag checks
	binds   []binding // in-scope namespace bindings, innermost last
	buf     []byte
	intern  map[string]string
	recent  [32]string // see str
	pend    xml.Name   // end of a self-closing element, when hasPend
	hasPend bool
	raw     []rawAttr // scratch for startTag
	vals    []byte    // the current start tag's attribute values

	// The current token, for Name, Attrs and Text.
	curName xml.Name
	attrs   []Attr
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

// Byte classes for bulk: the bytes that need no attention in text, in an
// attribute value (per quote), and inside a name after its first byte.
var (
	textPlain, aposPlain, quotPlain, namePlain [256]bool
)

func init() {
	for i := range 256 {
		b := byte(i)
		textPlain[i] = b != '<' && b != '&' && b != '\r'
		aposPlain[i] = textPlain[i] && b != '\''
		quotPlain[i] = textPlain[i] && b != '"'
		namePlain[i] = b >= 0x80 || b != ':' && nameByte(b, false)
	}
}

// bulk consumes the run of plain bytes at the front of what the bufio
// reader holds, appending them to the token buffer (at most limit of
// them), without the per-byte cost of getc. The caller's byte loop then
// deals with whatever ends the run.
func (t *Reader) bulk(plain *[256]bool, limit int) {
	for limit > 0 {
		n := t.r.Buffered()
		if n == 0 {
			return
		}
		p, _ := t.r.Peek(min(n, limit))
		i := 0
		for i < len(p) && plain[p[i]] {
			i++
		}
		if i == 0 {
			return
		}
		t.buf = append(t.buf, p[:i]...)
		t.off += int64(i)
		if t.Budget > 0 && !t.over && len(t.names) > 0 && t.off-t.topStart > t.Budget {
			t.over = true
		}
		if t.over && len(t.buf) > 256 {
			t.buf = t.buf[:0]
		}
		_, _ = t.r.Discard(i)
		limit -= i
		if i < len(p) {
			return
		}
	}
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
	if len(b) == 0 {
		return ""
	}
	// A direct-mapped cache in front of the table: a stream's names are
	// few and repeat on every stanza, and comparing one string is cheaper
	// than hashing it.
	slot := &t.recent[(len(b)*31+int(b[0])*7+int(b[len(b)-1]))%len(t.recent)]
	if *slot == string(b) {
		return *slot
	}
	if s, ok := t.intern[string(b)]; ok {
		*slot = s
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

// Next reads the next token without allocating: its kind, and through
// Name, Attrs and Text what it holds, valid until the next call. At the
// top level, an end tag (the stream's close) returns io.EOF. Errors are
// those of Token.
func (t *Reader) Next() (Kind, error) {
	if len(t.names) == 0 && !t.hasPend {
		t.topStart = t.off
	}
	k, err := t.token()
	if err != nil || !t.over {
		return k, err
	}
	top := t.topName
	// Over budget: read the rest of the top-level element, keeping nothing.
	for len(t.names) > 0 || t.hasPend {
		if _, err := t.token(); err != nil {
			return 0, err
		}
	}
	t.over = false
	size := t.off - t.topStart
	if top.Local == "" {
		top.Local = "stanza"
	}
	return 0, &TooBigError{Name: top, Size: size}
}

// Name is the current start or end tag's name, its Space the namespace.
func (t *Reader) Name() xml.Name { return t.curName }

// Attrs are the current start tag's attributes, namespace declarations
// included (as encoding/xml reports them: Name.Space "xmlns" for a prefix
// declaration, Name.Local "xmlns" for the default namespace).
func (t *Reader) Attrs() []Attr { return t.attrs }

// Attr returns the value of the current start tag's attribute local
// (without namespace), or nil.
func (t *Reader) Attr(local string) []byte {
	for i := range t.attrs {
		if t.attrs[i].Name.Local == local && t.attrs[i].Name.Space == "" {
			return t.attrs[i].Value
		}
	}
	return nil
}

// Text is the current character data.
func (t *Reader) Text() []byte { return t.buf }

// Skip reads up to the end of the element whose start tag was the last
// token.
func (t *Reader) Skip() error {
	for depth := 1; depth > 0; {
		k, err := t.Next()
		if err != nil {
			return err
		}
		switch k {
		case KindStart:
			depth++
		case KindEnd:
			depth--
		}
	}
	return nil
}

// StartElement returns the current start tag as an encoding/xml token,
// which owns its memory.
func (t *Reader) StartElement() xml.StartElement {
	se := xml.StartElement{Name: t.curName}
	if len(t.attrs) > 0 {
		se.Attr = make([]xml.Attr, len(t.attrs))
		for i, a := range t.attrs {
			se.Attr[i] = xml.Attr{Name: a.Name, Value: string(a.Value)}
		}
	}
	return se
}

// Token returns the next token, as encoding/xml's Decoder.Token would
// (the token owns its memory). At the top level, an end tag (the
// stream's close) returns io.EOF.
func (t *Reader) Token() (xml.Token, error) {
	k, err := t.Next()
	if err != nil {
		return nil, err
	}
	switch k {
	case KindStart:
		return t.StartElement(), nil
	case KindEnd:
		return xml.EndElement{Name: t.curName}, nil
	}
	return xml.CharData(append([]byte{}, t.buf...)), nil
}

func (t *Reader) token() (Kind, error) {
	if t.hasPend {
		t.hasPend = false
		t.pop()
		t.curName = t.pend
		return KindEnd, nil
	}
	b, err := t.getc()
	if err != nil {
		// Only the stream's end tag ends it properly.
		return 0, unexpected(err)
	}
	if b != '<' {
		t.ungetc()
		return t.text()
	}
	b, err = t.getc()
	if err != nil {
		return 0, unexpected(err)
	}
	switch b {
	case '/':
		return t.endTag()
	case '!':
		return t.bang()
	case '?':
		return 0, ErrRestricted
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

func (t *Reader) bang() (Kind, error) {
	const cdata = "[CDATA["
	for i := 0; i < len(cdata); i++ {
		b, err := t.getc()
		if err != nil {
			return 0, unexpected(err)
		}
		if b != cdata[i] {
			return 0, ErrRestricted
		}
	}
	if len(t.names) == 0 {
		return 0, t.syntax("CDATA outside an element")
	}
	t.buf = t.buf[:0]
	for {
		b, err := t.getc()
		if err != nil {
			return 0, unexpected(err)
		}
		t.keep(b)
		if n := len(t.buf); n >= 3 && t.buf[n-1] == '>' && t.buf[n-2] == ']' && t.buf[n-3] == ']' {
			t.buf = t.buf[:n-3]
			if !utf8.Valid(t.buf) && !t.over {
				return 0, t.syntax("invalid UTF-8")
			}
			return KindText, nil
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
		t.bulk(&namePlain, maxName-len(t.buf))
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
	prefix, local string
	start, end    int // the value, in Reader.vals
}

func (t *Reader) startTag() (Kind, error) {
	max := t.MaxDepth
	if max <= 0 {
		max = 256
	}
	if len(t.names) >= max {
		return 0, t.syntax("elements nested too deep")
	}
	p, l, err := t.name()
	if err != nil {
		return 0, err
	}
	prefix, local := t.str(p), t.str(l)
	raw := t.raw[:0]
	defer func() { t.raw = raw[:0] }()
	t.vals = t.vals[:0]
	selfClose := false
	for {
		b, err := t.space()
		if err != nil {
			return 0, err
		}
		if b == '>' {
			break
		}
		if b == '/' {
			if b, err = t.getc(); err != nil {
				return 0, unexpected(err)
			}
			if b != '>' {
				return 0, t.syntax("expected > after /")
			}
			selfClose = true
			break
		}
		t.ungetc()
		ap, al, err := t.name()
		if err != nil {
			return 0, err
		}
		a := rawAttr{prefix: t.str(ap), local: t.str(al)}
		if b, err = t.space(); err != nil {
			return 0, err
		}
		if b != '=' {
			return 0, t.syntax("attribute without value")
		}
		if b, err = t.space(); err != nil {
			return 0, err
		}
		if b != '"' && b != '\'' {
			return 0, t.syntax("unquoted attribute value")
		}
		if err := t.value(b); err != nil {
			return 0, err
		}
		if t.over {
			continue // thrown away: keep nothing of an oversized stanza
		}
		a.start = len(t.vals)
		t.vals = append(t.vals, t.buf...)
		a.end = len(t.vals)
		for _, o := range raw {
			if o.prefix == a.prefix && o.local == a.local {
				return 0, t.syntax("duplicate attribute")
			}
		}
		raw = append(raw, a)
	}
	// Namespace declarations first: they apply to this element's own name
	// and attributes.
	t.scopes = append(t.scopes, len(t.binds))
	for _, a := range raw {
		switch {
		case a.prefix == "" && a.local == "xmlns":
			t.binds = append(t.binds, binding{"", t.str(t.vals[a.start:a.end])})
		case a.prefix == "xmlns":
			if a.start == a.end {
				t.scopes = t.scopes[:len(t.scopes)-1]
				return 0, t.syntax("empty namespace for a prefix")
			}
			t.binds = append(t.binds, binding{a.local, t.str(t.vals[a.start:a.end])})
		}
	}
	ns, ok := t.lookup(prefix)
	if !ok {
		ns = prefix // encoding/xml leaves an unknown prefix as the space
	}
	t.curName = xml.Name{Space: ns, Local: local}
	t.attrs = t.attrs[:0]
	for _, a := range raw {
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
		t.attrs = append(t.attrs, Attr{Name: n, Value: t.vals[a.start:a.end:a.end]})
	}
	if len(t.names) == 0 {
		t.topName = t.curName
	}
	t.names = append(t.names, qname{prefix, local})
	if selfClose {
		t.pend, t.hasPend = t.curName, true
	}
	return KindStart, nil
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

func (t *Reader) endTag() (Kind, error) {
	p, l, err := t.name()
	if err != nil {
		return 0, err
	}
	b, err := t.space()
	if err != nil {
		return 0, err
	}
	if b != '>' {
		return 0, t.syntax("bad end tag")
	}
	if len(t.names) == 0 {
		// Only the stream's own end tag may close the top level.
		if ns, _ := t.lookup(string(p)); ns == nsStream && string(l) == "stream" {
			return 0, io.EOF
		}
		return 0, t.syntax("unexpected end tag at the top level")
	}
	open := t.names[len(t.names)-1]
	if open.prefix != string(p) || open.local != string(l) {
		return 0, t.syntax("end tag </" + joinName(string(p), string(l)) + "> does not match <" + joinName(open.prefix, open.local) + ">")
	}
	ns, ok := t.lookup(open.prefix)
	if !ok {
		ns = open.prefix
	}
	t.curName = xml.Name{Space: ns, Local: open.local}
	t.pop()
	return KindEnd, nil
}

func joinName(prefix, local string) string {
	if prefix == "" {
		return local
	}
	return prefix + ":" + local
}

// value reads an attribute value up to quote q into buf, resolving
// references.
func (t *Reader) value(q byte) error {
	t.buf = t.buf[:0]
	plain := &aposPlain
	if q == '"' {
		plain = &quotPlain
	}
	for {
		t.bulk(plain, maxInt)
		b, err := t.getc()
		if err != nil {
			return unexpected(err)
		}
		switch b {
		case q:
			if !utf8.Valid(t.buf) && !t.over {
				return t.syntax("invalid UTF-8")
			}
			return nil
		case '<':
			return t.syntax("< in attribute value")
		case '&':
			if err := t.ref(); err != nil {
				return err
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

func (t *Reader) text() (Kind, error) {
	t.buf = t.buf[:0]
	for {
		t.bulk(&textPlain, maxInt)
		b, err := t.getc()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if b == '<' {
			t.ungetc()
			break
		}
		switch b {
		case '&':
			if err := t.ref(); err != nil {
				return 0, err
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
		return 0, t.syntax("invalid UTF-8")
	}
	if len(t.names) == 0 {
		for _, b := range t.buf {
			if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
				return 0, t.syntax("text at the stream's top level")
			}
		}
	}
	return KindText, nil
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
