package voicemail

import (
	"bytes"
	"fmt"
	"strconv"
)

// A listing is thousands of FETCH responses, and building a tree of nodes
// for each (see arena) cost as much as everything else the client does
// with it. fetchScanner reads one FETCH response in a single pass straight
// into fetched: the values the listing wants are decoded where they stand,
// and everything else is only checked and skipped. It accepts exactly the
// syntax arena does, with the same errors, and gives the same results; a
// fuzz test holds the two to that.

// span is one value of a response: what an arena node holds, without
// links to children.
type span struct {
	kind       uint8
	escaped    bool
	start, end int
}

// fetchScanner reads one response. It borrows the arena's buffers: the
// interned strings and the path stack.
type fetchScanner struct {
	buf   []byte
	pos   int
	depth int
	a     *arena

	// The body structure's audio part, as refWireAudio (the test reference) finds it.
	found, haveFallback bool
	audio, fallback     audioPart
}

// parseFetch reads "* n FETCH (...)" into f. It returns false for another
// response. A syntax error leaves f empty but for the UID, with f.err set,
// when the UID can be found.
func (a *arena) parseFetch(resp []byte, f *fetched) (bool, error) {
	*f = fetched{}
	if !bytes.HasPrefix(resp, []byte("* ")) {
		return false, nil
	}
	rest := resp[2:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 || !bytes.HasPrefix(rest[sp:], []byte(" FETCH (")) {
		return false, nil
	}
	s := fetchScanner{buf: resp, pos: 2 + sp + len(" FETCH "), a: a}
	if err := s.fetch(f); err != nil {
		*f = fetched{}
		salvageUID(resp, f, err)
		return true, err
	}
	return true, nil
}

// salvageUID finds the UID of a response that could not be parsed, so
// that the error can name the message.
func salvageUID(resp []byte, f *fetched, err error) {
	i := bytes.Index(resp, []byte("UID "))
	if i < 0 {
		return
	}
	end := i + 4
	for end < len(resp) && resp[end] >= '0' && resp[end] <= '9' {
		end++
	}
	if n, perr := strconv.ParseUint(string(resp[i+4:end]), 10, 32); perr == nil {
		f.uid = uint32(n)
		f.err = err
	}
}

// fetch reads the list of items and values.
func (s *fetchScanner) fetch(f *fetched) error {
	if err := s.open(); err != nil {
		return err
	}
	for {
		more, err := s.next()
		if !more {
			return err
		}
		name, err := s.value()
		if err != nil {
			return err
		}
		if more, err = s.next(); !more {
			return err // a name without a value is ignored
		}
		if err := s.item(f, s.bytes(name)); err != nil {
			return err
		}
	}
}

// item reads the value of the item called name into f.
func (s *fetchScanner) item(f *fetched, name []byte) error {
	switch itemOf(name) {
	case itemUID:
		v, err := s.value()
		n, _ := s.num(v)
		f.uid = uint32(n)
		return err
	case itemFlags:
		f.haveFlags = true
		if s.buf[s.pos] != '(' {
			_, err := s.value()
			return err
		}
		return s.list(func(int) error {
			v, err := s.value()
			if v.kind != nList {
				fl := s.bytes(v)
				f.seen = f.seen || bytes.EqualFold(fl, []byte(`\Seen`))
				f.deleted = f.deleted || bytes.EqualFold(fl, []byte(`\Deleted`))
			}
			return err
		})
	case itemSize:
		v, err := s.value()
		f.size, _ = s.num(v)
		return err
	case itemInternalDate:
		v, err := s.value()
		f.rawInternalDate = s.bytes(v)
		return err
	case itemModSeq:
		f.modSeq = 0
		if s.buf[s.pos] != '(' {
			_, err := s.value()
			return err
		}
		return s.list(func(k int) error {
			v, err := s.value()
			if k == 0 {
				n, _ := s.num(v)
				f.modSeq = uint64(n)
			}
			return err
		})
	case itemBody:
		s.found, s.haveFallback = false, false
		f.haveStructure, f.hasAudio = false, false
		if s.buf[s.pos] != '(' {
			_, err := s.value()
			return err
		}
		f.haveStructure = true
		s.a.path = s.a.path[:0]
		if err := s.body(0); err != nil {
			return err
		}
		switch {
		case s.found:
			f.audio, f.hasAudio = s.audio, true
		case s.haveFallback:
			f.audio, f.hasAudio = s.fallback, true
		}
		return nil
	case itemHeader:
		v, err := s.value()
		f.header = s.bytes(v)
		return err
	}
	_, err := s.value()
	return err
}

// The FETCH items a listing reads.
const (
	itemOther = iota
	itemUID
	itemFlags
	itemSize
	itemInternalDate
	itemModSeq
	itemBody // BODY or BODYSTRUCTURE
	itemHeader
)

// itemOf tells the items apart by length first, which leaves one name to
// compare.
func itemOf(name []byte) int {
	var want string
	kind := itemOther
	switch len(name) {
	case 3:
		want, kind = "UID", itemUID
	case 4:
		want, kind = "BODY", itemBody
	case 5:
		want, kind = "FLAGS", itemFlags
	case 6:
		want, kind = "MODSEQ", itemModSeq
	case 11:
		want, kind = "RFC822.SIZE", itemSize
	case 12:
		want, kind = "INTERNALDATE", itemInternalDate
	case 13:
		want, kind = "BODYSTRUCTURE", itemBody
	default:
		if len(name) > 18 && eqFold(name[:18], "BODY[HEADER.FIELDS") {
			return itemHeader
		}
		return itemOther
	}
	if !eqFold(name, want) {
		return itemOther
	}
	return kind
}

// body reads one body structure (RFC 3501 section 7.4.2) at pos, looking
// for the audio part by the rules of findAudio: the first audio part in
// depth-first order, else the first part named *.wav. depth counts the
// structure's nesting as refWireAudio does; the arena's path stack holds the
// part number.
func (s *fetchScanner) body(depth int) error {
	if depth > 20 || s.found {
		_, err := s.value() // too deep to look into, or nothing left to find
		return err
	}
	mark := len(s.a.path)
	defer func() { s.a.path = s.a.path[:mark] }()
	if err := s.open(); err != nil {
		return err
	}
	more, err := s.next()
	if !more {
		return err
	}
	if s.buf[s.pos] == '(' { // multipart: bodies, then the subtype and extensions
		for i := 1; s.buf[s.pos] == '('; i++ {
			s.a.path = append(s.a.path[:mark], i)
			if err := s.body(depth + 1); err != nil {
				return err
			}
			if more, err = s.next(); !more {
				return err
			}
		}
		s.a.path = s.a.path[:mark]
		return s.rest()
	}
	if len(s.a.path) == 0 {
		s.a.path = append(s.a.path, 1)
	}
	return s.singlePart(depth)
}

// singlePart reads the fields of a non-multipart body after its "(".
func (s *fetchScanner) singlePart(depth int) error {
	var typ, sub, name, filename []byte
	var enc, size span
	isAudio, isMessage := false, false
	wantName := false
	disposition := 8 // the field after md5 (RFC 3501 body-ext-1part)
	enc.kind, size.kind = nNil, nNil
	for k := 0; ; k++ {
		var err error
		switch {
		case k == 0 || k == 1:
			var v span
			v, err = s.value()
			if k == 0 {
				typ = s.text(v)
				isAudio = eqFold(typ, "audio")
				wantName = !isAudio && !s.haveFallback
				if eqFold(typ, "text") {
					disposition = 9 // after the line count
				}
				break
			}
			sub = s.text(v)
			isMessage = eqFold(typ, "message") && eqFold(sub, "rfc822")
			wantName = wantName && !isMessage
		case k == 2 && wantName && s.buf[s.pos] == '(':
			name, err = s.param("name")
		case k == 5:
			enc, err = s.value()
		case k == 6:
			size, err = s.value()
		case k == 8 && isMessage && s.buf[s.pos] == '(':
			// The attached message's body: a single part is its part 1.
			first := s.pos + 1 + spaces(s.buf[s.pos+1:])
			single := first >= len(s.buf) || s.buf[first] != '('
			mark := len(s.a.path)
			if single {
				s.a.path = append(s.a.path, 1)
			}
			err = s.body(depth + 1)
			s.a.path = s.a.path[:mark]
		case k == disposition && wantName && s.buf[s.pos] == '(':
			err = s.list(func(k int) error {
				if k == 1 && s.buf[s.pos] == '(' {
					var err error
					filename, err = s.param("filename")
					return err
				}
				_, err := s.value()
				return err
			})
		default:
			_, err = s.value()
		}
		if err != nil {
			return err
		}
		more, err := s.next()
		if !more {
			if err != nil {
				return err
			}
			break
		}
	}
	switch {
	case isAudio:
		s.found = true
		s.audio = s.part(typ, sub, enc, size)
	case wantName:
		if len(filename) > 0 {
			name = filename
		}
		if isWAVName(decodeWords(string(name))) {
			s.haveFallback = true
			s.fallback = s.part(typ, sub, enc, size)
		}
	}
	return nil
}

// part makes the audioPart of the part at the path stack.
func (s *fetchScanner) part(typ, sub []byte, enc, size span) audioPart {
	n, _ := s.num(size)
	return audioPart{path: s.a.internPath(s.a.path), mediaType: s.a.mediaType(typ, sub), encoding: s.internStr(enc), size: n}
}

// internStr returns a span's string, shared between messages when it
// repeats (transfer encodings).
func (s *fetchScanner) internStr(v span) string {
	if v.kind == nNil || v.kind == nList {
		return ""
	}
	if v.escaped {
		return string(unescape(s.bytes(v)))
	}
	b := s.bytes(v)
	if s.a.lastStr != "" && string(b) == s.a.lastStr {
		return s.a.lastStr // as the previous message said it: no map look-up
	}
	str, ok := s.a.interned[string(b)]
	if !ok {
		str = string(b)
		s.a.keep(str)
	}
	s.a.lastStr = str
	return str
}

// param reads a body parameter list ("k" "v" "k" "v") at pos and returns
// the first value of key, unescaped; nil when there is none.
func (s *fetchScanner) param(key string) ([]byte, error) {
	var val []byte
	var k span
	found := false
	err := s.list(func(i int) error {
		v, err := s.value()
		if i%2 == 0 {
			k = v
		} else if !found && eqFold(s.text(k), key) {
			found = true
			val = s.text(v)
		}
		return err
	})
	return val, err
}

// rest skips the remaining values of the current list, and its ")".
func (s *fetchScanner) rest() error {
	for {
		if _, err := s.value(); err != nil {
			return err
		}
		if more, err := s.next(); !more {
			return err
		}
	}
}

// list reads a list at pos, calling each for each of its values in
// order (k counts from 0); each must read exactly one value.
func (s *fetchScanner) list(each func(k int) error) error {
	if err := s.open(); err != nil {
		return err
	}
	for k := 0; ; k++ {
		more, err := s.next()
		if !more {
			return err
		}
		if err := each(k); err != nil {
			return err
		}
	}
}

// open enters the list at pos.
func (s *fetchScanner) open() error {
	if s.pos >= len(s.buf) || s.buf[s.pos] != '(' {
		return errSyntax
	}
	s.depth++
	if s.depth > 64 {
		return fmt.Errorf("%w: nested deeper than 64", errSyntax)
	}
	s.pos++
	return nil
}

// next moves to the list's next value: true when there is one at pos,
// false after the list's ")" (or an error). Small enough to inline: a
// listing calls it some forty times per message.
func (s *fetchScanner) next() (bool, error) {
	buf, i := s.buf, s.pos
	for i < len(buf) && buf[i] == ' ' {
		i++
	}
	if i >= len(buf) {
		s.pos = i
		return false, errUnterminatedList
	}
	if buf[i] == ')' {
		s.pos = i + 1
		s.depth--
		return false, nil
	}
	s.pos = i
	return true, nil
}

var errUnterminatedList = fmt.Errorf("%w: unterminated list", errSyntax)

// value reads one value at pos, a list entirely, by arena's grammar.
func (s *fetchScanner) value() (span, error) {
	switch c := s.buf[s.pos]; {
	case c == '(':
		start := s.pos + 1
		if err := s.open(); err != nil {
			return span{}, err
		}
		for {
			more, err := s.next()
			if err != nil {
				return span{}, err
			}
			if !more {
				return span{kind: nList, start: start, end: s.pos}, nil
			}
			if _, err := s.value(); err != nil {
				return span{}, err
			}
		}
	case c == '"':
		return s.quoted()
	case c == '{' || (c == '~' && s.pos+1 < len(s.buf) && s.buf[s.pos+1] == '{'):
		rest := s.buf[s.pos:]
		end := bytes.IndexByte(rest, '}') // the common case, before the general search
		if end < 0 || !bytes.HasPrefix(rest[end+1:], []byte("\r\n")) {
			end = bytes.Index(rest, []byte("}\r\n"))
		}
		if end < 0 {
			return span{}, fmt.Errorf("%w: bad literal", errSyntax)
		}
		n, ok := literalSize(s.buf[s.pos : s.pos+end+3])
		start := s.pos + end + 3
		if !ok || start+n > len(s.buf) {
			return span{}, fmt.Errorf("%w: truncated literal", errSyntax)
		}
		s.pos = start + n
		return span{kind: nString, start: start, end: start + n}, nil
	}
	start, buf, i := s.pos, s.buf, s.pos
	for i < len(buf) && !atomStop[buf[i]] {
		i++
	}
	s.pos = i
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', ')', '(', '\r', '\n':
			if s.pos == start {
				return span{}, fmt.Errorf("%w: unexpected %q", errSyntax, s.buf[s.pos])
			}
			if s.buf[s.pos] == '(' {
				return span{}, fmt.Errorf("%w: unexpected '('", errSyntax)
			}
			return s.atom(start), nil
		case '[':
			// A section spec: BODY[HEADER.FIELDS (FROM DATE)]<0>.
			end := bytes.IndexByte(s.buf[s.pos:], ']')
			if end < 0 {
				return span{}, fmt.Errorf("%w: unterminated section", errSyntax)
			}
			s.pos += end
		}
		s.pos++
	}
	return s.atom(start), nil
}

// quoted reads a quoted string at pos.
func (s *fetchScanner) quoted() (span, error) {
	// Locals, not s.pos: the loop keeps its index in a register. The
	// strings are short (some ten per message, seven bytes on average),
	// too short for a word-at-a-time search to pay for its set-up.
	buf, i := s.buf, s.pos+1
	start, esc := i, false
	for i < len(buf) {
		c := buf[i]
		if !quotedStop[c] {
			i++
			continue
		}
		switch c {
		case '\\':
			esc = true
			i += 2
			continue
		case '"':
			s.pos = i + 1
			return span{kind: nString, escaped: esc, start: start, end: i}, nil
		}
		s.pos = i
		return span{}, fmt.Errorf("%w: line break in quoted string", errSyntax)
	}
	s.pos = len(buf)
	return span{}, fmt.Errorf("%w: unterminated string", errSyntax)
}

// The bytes that end a run of plain bytes in an atom and in a quoted
// string.
var atomStop, quotedStop = func() (atom, quoted [256]bool) {
	for _, c := range []byte(" )(\r\n[") {
		atom[c] = true
	}
	for _, c := range []byte("\\\"\r\n") {
		quoted[c] = true
	}
	return
}()

func (s *fetchScanner) atom(start int) span {
	v := span{kind: nAtom, start: start, end: s.pos}
	// NIL in any case, byte by byte: x|0x20 is 'n' only for 'N' and 'n'
	// (likewise 'i', 'l'), and no other three bytes fold to NIL.
	if b := s.buf[start:s.pos]; len(b) == 3 && b[0]|0x20 == 'n' && b[1]|0x20 == 'i' && b[2]|0x20 == 'l' {
		v.kind = nNil
	}
	return v
}

// bytes returns a value's raw bytes, as arena.bytes does.
func (s *fetchScanner) bytes(v span) []byte { return s.buf[v.start:v.end] }

// text returns a string or atom's bytes with escapes undone, nil for NIL
// or a list, as arena.text does.
func (s *fetchScanner) text(v span) []byte {
	if v.kind == nNil || v.kind == nList {
		return nil
	}
	if v.escaped {
		return unescape(s.bytes(v))
	}
	return s.bytes(v)
}

func (s *fetchScanner) num(v span) (int64, bool) {
	if v.kind != nAtom {
		return 0, false
	}
	return parseNum(s.bytes(v))
}

// spaces counts the spaces at the start of b.
func spaces(b []byte) int {
	n := 0
	for n < len(b) && b[n] == ' ' {
		n++
	}
	return n
}
