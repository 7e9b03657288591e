package voicemail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// This file holds a small IMAP response reader (RFC 3501 section 9
// syntax) for the one response a listing is made of: thousands of FETCH
// responses. go-imap hands each item of each message to another goroutine
// through a channel and builds maps for every body structure; for a
// listing of 10,000 messages that cost several times the read itself.
// Here a response is framed (lines and literals) into one reused buffer,
// so a malformed message costs only itself: the framing is intact, the
// next response reads normally. A listing's FETCH responses are then read
// in one pass (fetchscan.go); the few other responses (the audio probe,
// QRESYNC's) are parsed into a reused arena of nodes.

// maxLiteral bounds one literal in a listing response: header fields and
// the first kilobyte of an audio part. A server announcing more is broken
// or hostile.
const maxLiteral = 1 << 20

// maxResponse bounds one response, literals included.
const maxResponse = 4 << 20

var errResponseTooLarge = errors.New("response too large")

// readResponse reads one response (a line, plus any literals it announces
// and the lines after them) into buf[:0] and returns it.
func readResponse(r *bufio.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		line, err := r.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			buf = append(buf, line...)
			if len(buf) > maxResponse {
				return buf, errResponseTooLarge
			}
			line, err = r.ReadSlice('\n')
		}
		buf = append(buf, line...)
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
		n, ok := literalSize(buf)
		if !ok {
			return buf, nil
		}
		if n > maxLiteral || len(buf)+n > maxResponse {
			return buf, fmt.Errorf("literal of %d bytes: %w", n, errResponseTooLarge)
		}
		start := len(buf)
		buf = slices.Grow(buf, n)[:start+n]
		if _, err := io.ReadFull(r, buf[start:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
}

// nextResponse is readResponse without the copy when it can: when r's
// buffer holds the whole response, it returns that part of the buffer and
// its length, which the caller discards from r once done with the
// response; otherwise it reads a copy into buf[:0], and the length is 0.
// A listing's responses are some 600 bytes: nearly all lie whole in r's
// buffer.
func nextResponse(r *bufio.Reader, buf []byte) ([]byte, int, error) {
	b, _ := r.Peek(r.Buffered())
	if n, ok := wholeResponse(b); ok {
		return b[:n], n, nil
	}
	resp, err := readResponse(r, buf)
	return resp, 0, err
}

// wholeResponse reports whether b starts with a whole response, framed as
// readResponse frames it, and its length. Anything readResponse would
// refuse is left to it.
func wholeResponse(b []byte) (int, bool) {
	end := 0
	for {
		i := bytes.IndexByte(b[end:], '\n')
		if i < 0 {
			return 0, false
		}
		end += i + 1
		n, ok := literalSize(b[:end])
		if !ok {
			return end, true
		}
		if n > maxLiteral || end+n > maxResponse || end+n > len(b) {
			return 0, false
		}
		end += n
	}
}

// literalSize reports whether b ends with a literal announcement "{n}\r\n"
// (or "{n+}" / "~{n}") and its size.
func literalSize(b []byte) (int, bool) {
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) < 3 || b[len(b)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(b, '{')
	if i < 0 {
		return 0, false
	}
	digits := bytes.TrimSuffix(b[i+1:len(b)-1], []byte("+"))
	if len(digits) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= maxResponse {
			n = n*10 + int(c-'0')
		}
	}
	// An absurd size stays absurd (above the limits) without overflowing.
	return n, true
}

// Node kinds.
const (
	nAtom   = iota // atom or number, raw bytes
	nString        // quoted (escapes still in) or literal
	nNil
	nList
)

// node is one value of a parsed response. Children are linked through
// first/next indexes into the arena, so parsing allocates nothing once the
// arena has grown.
type node struct {
	kind        uint8
	escaped     bool  // a quoted string with backslashes
	start, end  int32 // bytes of the value in the response
	first, next int32 // -1 for none
}

// arena is a parsed response.
type arena struct {
	buf   []byte
	nodes []node
	pos   int
	depth int

	// Reused between responses by the listing's typed results.
	path     []int             // the body structure walk's path stack
	lastPath []int             // the last audio path handed out
	scratch  []byte            // for building lookup keys
	interned map[string]string // strings shared between messages
	// The last media type as sent and as returned: most messages of a
	// listing repeat the one before.
	lastMediaRaw []byte
	lastMedia    string
	lastStr      string    // the last string internStr returned
	kept         textChunk // the strings the listing keeps
}

var errSyntax = errors.New("malformed response")

func (a *arena) reset(buf []byte) {
	a.buf, a.nodes, a.pos, a.depth = buf, a.nodes[:0], 0, 0
}

// add appends a node without children or siblings yet. It writes in
// place rather than appending a copy: a listing adds some fifty nodes per
// message.
func (a *arena) add(kind uint8, escaped bool, start, end int) int32 {
	i := len(a.nodes)
	if i < cap(a.nodes) {
		a.nodes = a.nodes[:i+1]
	} else {
		a.nodes = append(a.nodes, node{})
	}
	a.nodes[i] = node{kind: kind, escaped: escaped, start: int32(start), end: int32(end), first: -1, next: -1}
	return int32(i)
}

func (a *arena) skipSP() {
	for a.pos < len(a.buf) && a.buf[a.pos] == ' ' {
		a.pos++
	}
}

// parseList parses "(" values ")" at pos and returns the list node.
func (a *arena) parseList() (int32, error) {
	if a.pos >= len(a.buf) || a.buf[a.pos] != '(' {
		return -1, errSyntax
	}
	a.depth++
	if a.depth > 64 {
		return -1, fmt.Errorf("%w: nested deeper than 64", errSyntax)
	}
	a.pos++
	list := a.add(nList, false, a.pos, 0)
	last := int32(-1)
	for {
		a.skipSP()
		if a.pos >= len(a.buf) {
			return -1, fmt.Errorf("%w: unterminated list", errSyntax)
		}
		if a.buf[a.pos] == ')' {
			a.pos++
			a.nodes[list].end = int32(a.pos)
			a.depth--
			return list, nil
		}
		child, err := a.parseValue()
		if err != nil {
			return -1, err
		}
		if last < 0 {
			a.nodes[list].first = child
		} else {
			a.nodes[last].next = child
		}
		last = child
	}
}

func (a *arena) parseValue() (int32, error) {
	switch c := a.buf[a.pos]; {
	case c == '(':
		return a.parseList()
	case c == '"':
		a.pos++
		start, esc := a.pos, false
		for a.pos < len(a.buf) {
			switch a.buf[a.pos] {
			case '\\':
				esc = true
				a.pos += 2
				continue
			case '"':
				n := a.add(nString, esc, start, a.pos)
				a.pos++
				return n, nil
			case '\r', '\n':
				return -1, fmt.Errorf("%w: line break in quoted string", errSyntax)
			}
			a.pos++
		}
		return -1, fmt.Errorf("%w: unterminated string", errSyntax)
	case c == '{' || (c == '~' && a.pos+1 < len(a.buf) && a.buf[a.pos+1] == '{'):
		end := bytes.Index(a.buf[a.pos:], []byte("}\r\n"))
		if end < 0 {
			return -1, fmt.Errorf("%w: bad literal", errSyntax)
		}
		n, ok := literalSize(a.buf[a.pos : a.pos+end+3])
		start := a.pos + end + 3
		if !ok || start+n > len(a.buf) {
			return -1, fmt.Errorf("%w: truncated literal", errSyntax)
		}
		a.pos = start + n
		return a.add(nString, false, start, start+n), nil
	default:
		start := a.pos
		for a.pos < len(a.buf) {
			switch a.buf[a.pos] {
			case ' ', ')', '(', '\r', '\n':
				if a.pos == start {
					return -1, fmt.Errorf("%w: unexpected %q", errSyntax, a.buf[a.pos])
				}
				if a.buf[a.pos] == '(' {
					return -1, fmt.Errorf("%w: unexpected '('", errSyntax)
				}
				return a.atom(start), nil
			case '[':
				// A section spec: BODY[HEADER.FIELDS (FROM DATE)]<0>.
				close := bytes.IndexByte(a.buf[a.pos:], ']')
				if close < 0 {
					return -1, fmt.Errorf("%w: unterminated section", errSyntax)
				}
				a.pos += close
			}
			a.pos++
		}
		return a.atom(start), nil
	}
}

func (a *arena) atom(start int) int32 {
	n := a.add(nAtom, false, start, a.pos)
	if a.pos-start == 3 && (bytes.EqualFold(a.buf[start:a.pos], []byte("NIL"))) {
		a.nodes[n].kind = nNil
	}
	return n
}

// bytes returns a node's raw bytes.
func (a *arena) bytes(i int32) []byte {
	if i < 0 {
		return nil
	}
	return a.buf[a.nodes[i].start:a.nodes[i].end]
}

// str returns a string node's value, unescaped; "" for NIL or a list.
func (a *arena) str(i int32) string {
	if i < 0 || a.nodes[i].kind == nNil || a.nodes[i].kind == nList {
		return ""
	}
	b := a.bytes(i)
	if !a.nodes[i].escaped {
		return string(b)
	}
	return string(unescape(b))
}

// unescape undoes a quoted string's backslashes, in a new slice.
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for j := 0; j < len(b); j++ {
		if b[j] == '\\' && j+1 < len(b) {
			j++
		}
		out = append(out, b[j])
	}
	return out
}

// text returns a string or atom node's bytes with escapes undone, nil
// for NIL or a list: str without the copy, except for a quoted string
// with backslashes.
func (a *arena) text(i int32) []byte {
	if i < 0 || a.nodes[i].kind == nNil || a.nodes[i].kind == nList {
		return nil
	}
	if !a.nodes[i].escaped {
		return a.bytes(i)
	}
	return []byte(a.str(i))
}

func (a *arena) num(i int32) (int64, bool) {
	if i < 0 || a.nodes[i].kind != nAtom {
		return 0, false
	}
	return parseNum(a.bytes(i))
}

// parseNum reads a number of up to 18 digits.
func parseNum(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// child returns the k-th child of list i, or -1.
func (a *arena) child(i int32, k int) int32 {
	if i < 0 || a.nodes[i].kind != nList {
		return -1
	}
	c := a.nodes[i].first
	for ; k > 0 && c >= 0; k-- {
		c = a.nodes[c].next
	}
	return c
}

func (a *arena) isList(i int32) bool { return i >= 0 && a.nodes[i].kind == nList }
