package voicemail

import (
	"bytes"
	"encoding/binary"
	"io"
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/encoding/htmlindex"
)

// listHeaders are the header fields the list fetches; everything the
// metadata needs, so that listing never reads a message body.
var listHeaders = []string{
	"From", "Date", "Subject",
	"Importance", "Priority", "X-Priority", "X-MSMail-Priority", "Sensitivity",
	"Content-Duration", "X-Content-Duration", "X-Asterisk-VM-Duration",
	"X-CallerID", "X-Caller-ID", "X-Cisco-CallerID", "X-Cisco-Caller-ID",
	"X-Asterisk-CallerID", "X-Asterisk-CallerIDName", "X-Asterisk-CallerIDNum",
}

// headerMeta is what the header fields say about a message.
type headerMeta struct {
	CallerName, CallerNumber string
	Subject                  string
	Date                     time.Time
	Duration                 time.Duration
	Urgent, Private          bool
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// headerGetter is a header block: textproto.MIMEHeader or headerFields.
type headerGetter interface{ Get(key string) string }

// headerField is one field of a header block. Both strings slice the
// block's one string copy unless the field was folded.
type headerField struct{ name, value string }

// headerFields is a parsed header block, in order.
type headerFields []headerField

// Get returns the first value of the field named key (any case), "" if
// none.
func (h headerFields) Get(key string) string {
	for i := range h {
		if len(h[i].name) == len(key) && strings.EqualFold(h[i].name, key) {
			return h[i].value
		}
	}
	return ""
}

// eqFold compares ASCII case-insensitively without allocating.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	if string(b) == s {
		return true // servers mostly send the spelling asked for: one memory compare
	}
	for i := range b {
		x, y := b[i], s[i]
		if x|0x20 != y|0x20 || (x|0x20 < 'a' || x|0x20 > 'z') && x != y {
			return false
		}
	}
	return true
}

// parseHeaderBlock parses an RFC 5322 header block (as HEADER.FIELDS
// returns it). It is lenient: bare LF line ends, a missing blank line, a
// line without a colon or a control character cost only their own field.
// Folded values (RFC 5322 section 2.2.3) are unfolded.
func parseHeaderBlock(raw []byte) headerFields {
	return parseHeaderBlockInto(make(headerFields, 0, 8), raw)
}

// parseHeaderBlockInto is parseHeaderBlock appending to h[:0]. The block
// is copied into one string that every field slices: a listing of
// thousands of messages costs one allocation per message here, not one per
// field looked up.
func parseHeaderBlockInto(h headerFields, raw []byte) headerFields {
	h = h[:0]
	text := string(raw)
	if hasBadCtl(raw) {
		text = blankCtl(raw)
	}
	for len(text) > 0 {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		line = strings.TrimSuffix(line, "\r")
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) > 0 {
				last := &h[len(h)-1]
				last.value = last.value + " " + strings.TrimSpace(line)
			}
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		h = append(h, headerField{name: strings.TrimRight(line[:colon], " \t"), value: strings.TrimSpace(line[colon+1:])})
	}
	return h
}

// hasBadCtl reports whether raw holds a control character other than
// tab, CR and LF. Bytes suffice: UTF-8 never puts a byte below 0x80 inside
// a multi-byte sequence.
func hasBadCtl(raw []byte) bool {
	// Eight bytes at a time. Most words have no byte below 0x20 or 0x7f,
	// which a cheap test shows; the others (every line ends in CR LF, so a
	// third of them) get masks exact per byte, no borrow crossing into the
	// next byte, instead of a look at each byte.
	i := 0
	for ; i+8 <= len(raw); i += 8 {
		x := binary.LittleEndian.Uint64(raw[i:])
		del := x ^ (0x7f * wordOnes)
		if ((x-0x20*wordOnes)&^x|(del-wordOnes)&^del)&wordHighs == 0 {
			continue
		}
		below := ^((x&wordLow7s + 0x60*wordOnes) | x) & wordHighs // bytes < 0x20
		allowed := zeroBytes(x^'\t'*wordOnes) | zeroBytes(x^'\r'*wordOnes) | zeroBytes(x^'\n'*wordOnes)
		if below&^allowed|zeroBytes(del) != 0 {
			return true
		}
	}
	for _, c := range raw[i:] {
		if badCtl[c] {
			return true
		}
	}
	return false
}

// Byte-wise masks for eight bytes at a time.
const wordOnes, wordHighs, wordLow7s = 0x0101010101010101, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f

// zeroBytes has the high bit set in each byte of y that is zero, exactly:
// adding 0x7f to the low seven bits carries into the high bit of the same
// byte only.
func zeroBytes(y uint64) uint64 { return ^((y&wordLow7s + wordLow7s) | y) & wordHighs }

var badCtl = func() (t [256]bool) {
	for c := range ' ' {
		t[c] = c != '\t' && c != '\r' && c != '\n'
	}
	t[0x7f] = true
	return t
}()

// blankCtl is raw with every control character hasBadCtl finds made a
// space: a header field keeps its place and its other characters.
func blankCtl(raw []byte) string {
	return string(bytes.Map(func(r rune) rune {
		if isBadCtl(r) {
			return ' '
		}
		return r
	}, raw))
}

func isBadCtl(r rune) bool { return (r < ' ' && r != '\t' && r != '\r' && r != '\n') || r == 0x7f }

// Indexes of listHeaders: the header block of a listing is read into a
// listValues by position, so that the metadata looks each field up by
// index instead of by name.
const (
	hFrom = iota
	hDate
	hSubject
	hImportance
	hPriority
	hXPriority
	hXMSMailPriority
	hSensitivity
	hContentDuration
	hXContentDuration
	hXAsteriskVMDuration
	hXCallerID
	hXCallerIDDash
	hXCiscoCallerID
	hXCiscoCallerIDDash
	hXAsteriskCallerID
	hXAsteriskCallerIDName
	hXAsteriskCallerIDNum
	nListHeaders
)

// listValues holds the first value of each of listHeaders, "" when absent.
type listValues [nListHeaders]string

// listHeaderIndex returns name's index in listHeaders, or -1. Names are
// told apart by length, then by one byte where the names of that length
// differ, which leaves one name to compare: as sent (the usual spelling),
// else ignoring case. A name of the same length with a multi-byte rune has
// fewer runes than the ASCII name, so only ASCII can match, as before.
func listHeaderIndex(name string) int {
	if len(name) >= len(listHeadersByLen) {
		return -1
	}
	b := &listHeadersByLen[len(name)]
	if len(b.keys) == 0 {
		return -1
	}
	c := lowerASCII(name[b.pos])
	for k, key := range b.keys {
		if key == c {
			i := b.idx[k]
			if h := listHeaders[i]; name == h || strings.EqualFold(name, h) {
				return int(i)
			}
			return -1
		}
	}
	return -1
}

// lowerASCII is c in lower case if it is an ASCII letter.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// headerBucket holds the listHeaders of one length: pos is a position at
// which they differ (ignoring case), keys their lower-case bytes there.
type headerBucket struct {
	pos  int
	keys []byte
	idx  []int8
}

// listHeadersByLen indexes listHeaders by name length, then by one byte.
var listHeadersByLen = func() (t [24]headerBucket) {
	for n := range t {
		var names []int8
		for i, h := range listHeaders {
			if len(h) == n {
				names = append(names, int8(i))
			}
		}
		if len(names) == 0 {
			continue
		}
	positions:
		for pos := range n {
			seen := map[byte]bool{}
			for _, i := range names {
				c := lowerASCII(listHeaders[i][pos])
				if seen[c] {
					continue positions
				}
				seen[c] = true
			}
			b := headerBucket{pos: pos, idx: names}
			for _, i := range names {
				b.keys = append(b.keys, lowerASCII(listHeaders[i][pos]))
			}
			t[n] = b
			break
		}
		if t[n].keys == nil {
			panic("voicemail: two list headers of length " + strconv.Itoa(n) + " differ nowhere")
		}
	}
	return t
}()

// valuesOf reads the listed fields from any header block.
func valuesOf(h headerGetter) *listValues {
	var v listValues
	for i, name := range listHeaders {
		v[i] = h.Get(name)
	}
	return &v
}

// metaOfBlock derives the metadata from a raw header block (as HEADER.FIELDS
// returns it), by the rules of parseHeaderBlock and parseMeta, without
// copying the block: a listing runs it once per message. The fields are read
// as views of raw, and only what the metadata keeps is copied, into kept
// (nil: one string of its own; see detach); raw may be reused as soon as
// it returns. The fields are a local on the stack, not a buffer kept in the
// arena: stores into a heap buffer pay the collector's write barrier while a
// collection runs, which a listing of thousands nearly always meets.
func metaOfBlock(raw []byte, kept *textChunk) headerMeta {
	var vals listValues
	v := &vals
	var text string
	if hasBadCtl(raw) {
		text = blankCtl(raw)
	} else if len(raw) > 0 {
		text = unsafe.String(unsafe.SliceData(raw), len(raw))
	}
	var seen uint32 // fields already read: the first of a name counts
	last := -1      // the index of the previous field, if it was kept
	for len(text) > 0 {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last >= 0 {
				v[last] = v[last] + " " + trimSpace(line)
			}
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			continue // as in parseHeaderBlock, a folded line after it still continues the last field
		}
		last = -1
		name := line[:colon]
		for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
			name = name[:len(name)-1]
		}
		i := listHeaderIndex(name)
		if i < 0 || seen&(1<<i) != 0 {
			continue
		}
		seen |= 1 << i
		v[i], last = trimSpace(line[colon+1:]), i
	}
	m := parseMeta(v)
	m.detach(kept)
	return m
}

// detach copies the strings of m into text (nil: one allocation of their
// own), so that they no longer view the header block.
func (m *headerMeta) detach(text *textChunk) {
	n := len(m.CallerName) + len(m.CallerNumber) + len(m.Subject)
	if n == 0 {
		m.CallerName, m.CallerNumber, m.Subject = "", "", ""
		return
	}
	var s string
	if text != nil {
		s = text.join(n, m.CallerName, m.CallerNumber, m.Subject)
	} else {
		s = m.CallerName + m.CallerNumber + m.Subject
	}
	a, c := len(m.CallerName), len(m.CallerName)+len(m.CallerNumber)
	m.CallerName, m.CallerNumber, m.Subject = s[:a], s[a:c], s[c:]
}

// textChunk hands out strings carved from one chunk of memory: the
// thousands of short strings a listing keeps (caller name, number,
// subject) cost an allocation per chunk, not per message. A string is
// never written to once handed out; a chunk lives as long as any of its
// strings.
type textChunk struct{ buf []byte }

// textChunkSize is a chunk's size: some 300 messages' strings, and what
// one Voicemail kept alone can hold on to.
const textChunkSize = 16 << 10

// join returns the concatenation of parts, n bytes long in all, as a
// string in the chunk.
func (t *textChunk) join(n int, parts ...string) string {
	if n > textChunkSize/4 {
		return strings.Join(parts, "")
	}
	if cap(t.buf)-len(t.buf) < n {
		t.buf = make([]byte, 0, textChunkSize)
	}
	start := len(t.buf)
	for _, p := range parts {
		t.buf = append(t.buf, p...)
	}
	b := t.buf[start:]
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// metaOf derives the metadata from a parsed header block.
func metaOf(h headerGetter) headerMeta { return parseMeta(valuesOf(h)) }

// parseMeta derives the metadata from the listed header fields. Its
// strings may be views of v's: callers that keep them detach them.
func parseMeta(v *listValues) headerMeta {
	var m headerMeta
	m.Subject = decodeWords(v[hSubject])
	if d := v[hDate]; d != "" {
		// The common form first: mail.ParseDate tries many layouts, each
		// failure allocating an error. The others get a copy: a parsed zone
		// name would keep a view of the header.
		if t, ok := parseMailDate(d); ok {
			m.Date = t
		} else if t, err := time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", strings.Clone(d)); err == nil {
			m.Date = t
		} else if t, err := mail.ParseDate(strings.Clone(d)); err == nil {
			m.Date = t
		}
	}
	// Caller: dedicated caller-ID headers first, then From.
	for _, k := range [...]int{hXCiscoCallerID, hXCiscoCallerIDDash, hXCallerID, hXCallerIDDash, hXAsteriskCallerID} {
		if v := v[k]; v != "" {
			name, num := parseCallerID(decodeWords(v))
			if m.CallerName == "" {
				m.CallerName = name
			}
			if m.CallerNumber == "" {
				m.CallerNumber = num
			}
		}
	}
	if v := v[hXAsteriskCallerIDName]; v != "" && m.CallerName == "" {
		m.CallerName = cleanName(decodeWords(v))
	}
	if v := v[hXAsteriskCallerIDNum]; v != "" && m.CallerNumber == "" {
		m.CallerNumber = cleanNumber(v)
	}
	if from := v[hFrom]; from != "" && (m.CallerName == "" || m.CallerNumber == "") {
		name, num := parseFrom(from)
		if m.CallerName == "" {
			m.CallerName = name
		}
		if m.CallerNumber == "" {
			m.CallerNumber = num
		}
	}
	if m.CallerName == m.CallerNumber {
		m.CallerName = ""
	}
	for _, k := range [...]int{hContentDuration, hXContentDuration, hXAsteriskVMDuration} {
		if d, ok := parseDurationHeader(v[k]); ok {
			m.Duration = d
			break
		}
	}
	m.Urgent = isUrgent(v)
	m.Private = strings.EqualFold(trimSpace(v[hSensitivity]), "private")
	return m
}

func isUrgent(v *listValues) bool {
	if strings.EqualFold(trimSpace(v[hImportance]), "high") {
		return true
	}
	if strings.EqualFold(trimSpace(v[hPriority]), "urgent") {
		return true
	}
	if strings.EqualFold(trimSpace(v[hXMSMailPriority]), "high") {
		return true
	}
	// X-Priority: "1 (Highest)", "2 (High)", "3 (Normal)"…
	if v := trimSpace(v[hXPriority]); v != "" {
		end := 0
		for end < len(v) && v[end] >= '0' && v[end] <= '9' {
			end++
		}
		if n, err := strconv.Atoi(v[:end]); err == nil && n >= 1 && n <= 2 {
			return true
		}
	}
	return false
}

// parseDurationHeader reads a duration in seconds: "17", "17.5", or "17 s".
// Values above a day are refused as absurd.
func parseDurationHeader(v string) (time.Duration, bool) {
	v = trimSpace(v)
	v = strings.TrimSuffix(strings.TrimSuffix(v, "s"), " ")
	if v == "" {
		return 0, false
	}
	if n, ok := digits(v); ok && len(v) <= 5 { // whole seconds, the common form
		if n > 86400 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 86400 || f != f {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// parseCallerID reads the caller-ID forms voicemail systems write:
// `"Name" <5551234>`, `Name <5551234>`, `<5551234>`, `5551234`, `Name`.
func parseCallerID(v string) (name, number string) {
	v = trimSpace(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		inner := v[i+1:]
		if j >= 0 {
			inner = v[i+1 : i+j]
		}
		return cleanName(v[:i]), numberFrom(inner)
	}
	if n := cleanNumber(v); n != "" && looksLikeNumber(v) {
		return "", n
	}
	return cleanName(v), ""
}

// parseFrom reads caller name and number from a From header: the display
// name, and the number as the address's local part when it is a number
// (5551234@vm.example, +15551234@…), else a number in the display name.
func parseFrom(v string) (name, number string) {
	if name, local, ok := simpleAddress(v); ok {
		name = cleanName(name)
		if looksLikeNumber(local) {
			return name, cleanNumber(local)
		}
		if looksLikeNumber(name) {
			return "", cleanNumber(name)
		}
		return name, ""
	}
	addr, err := addrParser.Parse(v)
	if err != nil {
		// Not RFC 5322: fall back to the caller-ID forms.
		return parseCallerID(decodeWords(v))
	}
	name = cleanName(addr.Name)
	local := addr.Address
	if i := strings.LastIndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	if looksLikeNumber(local) {
		number = cleanNumber(local)
	} else if looksLikeNumber(name) {
		number, name = cleanNumber(name), ""
	}
	return name, number
}

// simpleAddress reads the common forms `"Name" <local@domain>`,
// `Name <local@domain>` and `local@domain` without the general RFC 5322
// parser; ok is false for anything else (encoded words, comments, groups,
// escapes), which then goes to net/mail.
func simpleAddress(v string) (name, local string, ok bool) {
	v = trimSpace(v)
	if addressSpecials.in(v) || strings.Contains(v, "=?") {
		return "", "", false
	}
	addr := v
	if strings.HasSuffix(v, ">") {
		lt := strings.LastIndexByte(v, '<')
		if lt < 0 {
			return "", "", false
		}
		addr, name = v[lt+1:len(v)-1], trimSpace(v[:lt])
		if strings.Count(name, `"`) == 2 && name[0] == '"' && name[len(name)-1] == '"' {
			name = name[1 : len(name)-1]
		} else if nameSpecials.in(name) {
			return "", "", false
		}
	}
	at := strings.IndexByte(addr, '@')
	if at <= 0 || addrSpecials.in(addr) || strings.Count(addr, "@") != 1 {
		return "", "", false
	}
	return name, addr[:at], true
}

// asciiSet is a set of ASCII bytes, built once: strings.ContainsAny
// builds one on every call, and a listing calls these per message.
type asciiSet [256]bool

func makeASCIISet(chars string) *asciiSet {
	var set asciiSet
	for i := 0; i < len(chars); i++ {
		set[chars[i]] = true
	}
	return &set
}

// in reports whether s holds a byte of the set.
func (set *asciiSet) in(s string) bool {
	for i := 0; i < len(s); i++ {
		if set[s[i]] {
			return true
		}
	}
	return false
}

var (
	addressSpecials = makeASCIISet("\\(),;:")
	nameSpecials    = makeASCIISet(`"<>@`)
	addrSpecials    = makeASCIISet(" <>\"")
)

// numberFrom extracts a number from an address or URI such as
// "sip:5551234@pbx", "tel:+1555", "5551234@vm" or "5551234".
func numberFrom(s string) string {
	s = trimSpace(s)
	for _, p := range []string{"sip:", "sips:", "tel:"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			s = s[len(p):]
		}
	}
	if i := strings.IndexAny(s, "@;"); i >= 0 {
		s = s[:i]
	}
	if looksLikeNumber(s) {
		return cleanNumber(s)
	}
	return ""
}

// looksLikeNumber reports whether s is a dialable number with the usual
// punctuation: at least two digits and nothing but digits, + * # and
// separators.
func looksLikeNumber(s string) bool {
	digits := 0
	for _, r := range trimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' || r == '*' || r == '#' || r == '-' || r == '.' || r == ' ' || r == '(' || r == ')' || r == '/':
		default:
			return false
		}
	}
	return digits >= 2
}

// cleanNumber keeps digits, a leading +, * and #.
func cleanNumber(s string) string {
	s = trimSpace(s)
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		c := s[i]
		clean = c >= '0' && c <= '9' || c == '*' || c == '#' || c == '+' && i == 0
	}
	if clean {
		return s // the common case: already a bare number, no copy
	}
	var b strings.Builder
	for i, r := range trimSpace(s) {
		switch {
		case r >= '0' && r <= '9', r == '*', r == '#':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func cleanName(s string) string {
	s = trimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`)
	}
	s = trimSpace(s)
	if strings.EqualFold(s, "unknown") || strings.EqualFold(s, "anonymous") {
		return ""
	}
	if !nameDropped.in(s) {
		return s // the common case: nothing to drop, no copy
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '<' || r == '>' {
			return -1
		}
		return r
	}, s)
}

// nameDropped are the bytes cleanName drops: controls and angle brackets.
var nameDropped = func() *asciiSet {
	set := makeASCIISet("<>\x7f")
	for c := range ' ' {
		set[c] = true
	}
	return set
}()

// decodeWords decodes RFC 2047 encoded words, leaving the text as it is
// when they are malformed or in an unknown charset.
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return trimSpace(s)
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return trimSpace(s)
	}
	return trimSpace(d)
}

var addrParser = &mail.AddressParser{WordDecoder: wordDecoder}

// charsetReader decodes the charsets mime does not know (windows-1252,
// iso-8859-15…) with golang.org/x/text.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(input), nil
}

// trimSpace is strings.TrimSpace, with the ASCII ends (all a listing's
// header values have) trimmed inline: the listing trims a dozen values per
// message.
func trimSpace(s string) string {
	for len(s) > 0 && asciiSpace[s[0]] {
		s = s[1:]
	}
	for len(s) > 0 && asciiSpace[s[len(s)-1]] {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && (s[0] >= utf8.RuneSelf || s[len(s)-1] >= utf8.RuneSelf) {
		return strings.TrimSpace(s) // U+0085, U+00A0 and the other Unicode spaces
	}
	return s
}

var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}
