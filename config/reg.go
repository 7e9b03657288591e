package config

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// Registry value types, as numbered by Windows (winnt.h REG_*).
const (
	regNone     = 0
	regSZ       = 1
	regExpandSZ = 2
	regBinary   = 3
	regDword    = 4
	regDwordBE  = 5
	regMultiSZ  = 7
	regQword    = 11
)

func regTypeName(t uint32) string {
	switch t {
	case regNone:
		return "REG_NONE"
	case regSZ:
		return "REG_SZ"
	case regExpandSZ:
		return "REG_EXPAND_SZ"
	case regBinary:
		return "REG_BINARY"
	case regDword:
		return "REG_DWORD"
	case regDwordBE:
		return "REG_DWORD_BIG_ENDIAN"
	case regMultiSZ:
		return "REG_MULTI_SZ"
	case regQword:
		return "REG_QWORD"
	}
	return fmt.Sprintf("registry type %#x", t)
}

// regValue is one registry value, from a .reg file or the live registry.
type regValue struct {
	typ  uint32
	str  string   // REG_SZ, REG_EXPAND_SZ (already expanded)
	num  uint64   // REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_QWORD
	list []string // REG_MULTI_SZ
}

// regConvert turns a registry value into key k's typed value. Numbers go
// into bool keys as 0 or 1, into duration keys as seconds, and into other
// keys as decimal text; a REG_MULTI_SZ fills a list key, or any key when it
// holds one string.
func regConvert(k *Key, v regValue) (any, error) {
	switch v.typ {
	case regSZ, regExpandSZ:
		return k.parse(v.str)
	case regDword, regDwordBE, regQword:
		switch k.Type {
		case TypeBool:
			if v.num > 1 {
				return nil, badValuef("%s %d is not 0 or 1", regTypeName(v.typ), v.num)
			}
			return v.num == 1, nil
		case TypeInt:
			if v.num > math.MaxInt {
				return nil, badValuef("%d is out of range", v.num)
			}
			return int(v.num), nil
		case TypeDuration:
			if v.num > math.MaxInt64 {
				return nil, badValuef("%d seconds is out of range", v.num)
			}
			return secondsDuration(int64(v.num))
		}
		return k.parse(strconv.FormatUint(v.num, 10))
	case regMultiSZ:
		if k.Type == TypeList {
			return listValue(v.list)
		}
		switch len(v.list) {
		case 0:
			return k.parse("")
		case 1:
			return k.parse(v.list[0])
		}
		return nil, badValuef("REG_MULTI_SZ with %d strings is not a valid %v value", len(v.list), k.Type)
	}
	return nil, badValuef("%s is not a valid %v value", regTypeName(v.typ), k.Type)
}

// The AdminData paths below the hive, as key name components.
var (
	adminDataPath = []string{"Software", "Cisco Systems, Inc.", "Client Services Framework", "AdminData"}
	policyPath    = []string{"Software", "Policies", "Cisco Systems, Inc.", "Client Services Framework", "AdminData"}
	// wowPath inserts the 32-bit view used by 32-bit CSF on 64-bit Windows.
	wowAdminDataPath = []string{"Software", "Wow6432Node", "Cisco Systems, Inc.", "Client Services Framework", "AdminData"}
	wowPolicyPath    = []string{"Software", "Wow6432Node", "Policies", "Cisco Systems, Inc.", "Client Services Framework", "AdminData"}
)

// regPaths lists each AdminData path with its layer.
var regPaths = []struct {
	layer Layer
	path  []string
}{
	{LayerUser, adminDataPath},
	{LayerPolicy, policyPath},
	{LayerUser, wowAdminDataPath},
	{LayerPolicy, wowPolicyPath},
}

// splitRegPath splits "HKCU\Software\..." into a known hive and the
// components below it; ok is false for other hives.
func splitRegPath(path string) (rest []string, ok bool) {
	var comps []string
	for c := range strings.SplitSeq(path, `\`) {
		if c = strings.TrimSpace(c); c != "" {
			comps = append(comps, c)
		}
	}
	if len(comps) == 0 {
		return nil, false
	}
	switch strings.ToUpper(comps[0]) {
	case "HKEY_CURRENT_USER", "HKCU", "HKEY_LOCAL_MACHINE", "HKLM":
		return comps[1:], true
	}
	return nil, false
}

// hasPrefixFold reports whether p starts with prefix, ignoring case.
func hasPrefixFold(p, prefix []string) bool {
	if len(prefix) > len(p) {
		return false
	}
	for i := range prefix {
		if !strings.EqualFold(p[i], prefix[i]) {
			return false
		}
	}
	return true
}

// regLayer returns the layer of a key path, or LayerDefault when it is not
// an AdminData key itself.
func regLayer(path string) Layer {
	rest, ok := splitRegPath(path)
	if !ok {
		return LayerDefault
	}
	for _, p := range regPaths {
		if len(rest) == len(p.path) && hasPrefixFold(rest, p.path) {
			return p.layer
		}
	}
	return LayerDefault
}

// ParseReg parses a regedit export called name (used in errors and as the
// name of both sources) into the values of its user and policy AdminData
// keys:
//
//	HKEY_CURRENT_USER\Software\Cisco Systems, Inc.\Client Services Framework\AdminData            → user
//	HKEY_CURRENT_USER\Software\Policies\Cisco Systems, Inc.\Client Services Framework\AdminData   → policy
//
// HKEY_LOCAL_MACHINE, the abbreviations HKCU and HKLM, and the Wow6432Node
// view are accepted too. Values of other keys, of subkeys of AdminData and
// the default value (@) are ignored with a [Warning], as are value names not
// in the schema.
//
// The file is either "Windows Registry Editor Version 5.00" in UTF-16LE with
// a byte order mark (as regedit writes it), or "REGEDIT4" in UTF-8 or ANSI
// (Windows-1252). Values may be strings ("a \"b\" c:\\d"), dword:0000000a,
// hex:…, hex(2):… (REG_EXPAND_SZ: UTF-16LE bytes in version 5, ANSI in
// REGEDIT4; %VAR% is expanded from the environment, unknown variables are
// kept), hex(7):… (REG_MULTI_SZ, for list keys), hex(b):… (REG_QWORD). Hex
// data may continue over lines ending in a backslash. Lines ending in CRLF
// or LF, blank lines and ; comments are accepted.
//
// Deletions act within the file only: `"Name"=-` removes a value set earlier
// in the file, and `[-key]` removes the values of that key (and of the
// AdminData keys below it) set earlier in the file. A deletion does not
// remove a value from another file or layer: the key is simply absent from
// this source, so lower layers show through. Within a file the last
// assignment to a name wins, whatever the hive.
//
// Errors are [*Error] naming the file and line and wrapping [ErrSyntax]
// (missing header, truncated file, invalid hex byte, dword out of range),
// [ErrBadEncoding] (odd number of bytes in UTF-16) or [ErrBadValue].
func ParseReg(name string, data []byte) (user, policy *Source, warnings []Warning, err error) {
	p := &regParser{name: name, lookupEnv: lookupEnvFold,
		user: NewSource(name), policy: NewSource(name)}
	if err := p.parse(data); err != nil {
		return nil, nil, p.warnings, err
	}
	return p.user, p.policy, p.warnings, nil
}

// lookupEnvFold looks up an environment variable ignoring case, as Windows
// does.
func lookupEnvFold(name string) (string, bool) {
	if v, ok := os.LookupEnv(name); ok {
		return v, true
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// expandEnv expands %NAME% as ExpandEnvironmentStrings does: unknown names
// and unpaired percent signs are kept as they are.
func expandEnv(s string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		j += i + 1
		name := s[i+1 : j]
		if v, ok := lookup(name); ok && name != "" {
			b.WriteString(s[:i])
			b.WriteString(v)
			s = s[j+1:]
			continue
		}
		// Keep "%name" and rescan from the second percent sign.
		b.WriteString(s[:j])
		s = s[j:]
	}
}

type regParser struct {
	name      string
	lookupEnv func(string) (string, bool)
	user      *Source
	policy    *Source
	warnings  []Warning

	v5   bool   // "Windows Registry Editor Version 5.00": hex strings are UTF-16LE
	text string // decoded file, LF line endings
	pos  int    // byte offset in text
	line int    // 1-based line of pos

	inSection bool    // a [key] line has been seen
	cur       *Source // where values of the current key go; nil means ignored
}

const (
	regHeader5 = "Windows Registry Editor Version 5.00"
	regHeader4 = "REGEDIT4"
)

func (p *regParser) errorf(err error) error {
	return &Error{Source: p.name, Line: p.line, Err: err}
}

func (p *regParser) warn(key string, line int, msg string) {
	p.warnings = append(p.warnings, Warning{Key: key, Source: p.name, Line: line, Msg: msg})
}

// decode turns the file's bytes into text.
func (p *regParser) decode(data []byte) error {
	p.line = 1
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		order := unicode.LittleEndian
		if data[0] == 0xFE {
			order = unicode.BigEndian
		}
		dec := unicode.UTF16(order, unicode.ExpectBOM).NewDecoder()
		odd := len(data)%2 != 0
		if odd {
			data = data[:len(data)-1]
		}
		b, err := dec.Bytes(data)
		if err != nil {
			return p.errorf(encodingf("bad UTF-16: %v", err))
		}
		if odd {
			p.line = 1 + bytes.Count(b, []byte{'\n'})
			return p.errorf(encodingf("odd number of bytes in UTF-16: truncated file"))
		}
		p.text = string(b)
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
		if !utf8.Valid(data) {
			p.line = 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte{'\n'})
			return p.errorf(encodingf("invalid UTF-8 after a UTF-8 byte order mark"))
		}
		p.text = string(data)
	default:
		first, _, _ := bytes.Cut(data, []byte{'\n'})
		if bytes.IndexByte(first, 0) >= 0 {
			return p.errorf(encodingf("NUL bytes in the header: UTF-16 without a byte order mark?"))
		}
		if utf8.Valid(data) {
			p.text = string(data)
		} else {
			b, err := charmap.Windows1252.NewDecoder().Bytes(data)
			if err != nil {
				return p.errorf(encodingf("bad ANSI text: %v", err))
			}
			p.text = string(b)
		}
	}
	p.text = strings.ReplaceAll(p.text, "\r\n", "\n")
	// A registry string ends at its first NUL, so a NUL in the text can
	// only be a mis-encoding.
	if i := strings.IndexByte(p.text, 0); i >= 0 {
		p.line = 1 + strings.Count(p.text[:i], "\n")
		return p.errorf(encodingf("NUL character in the text"))
	}
	return nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func (p *regParser) parse(data []byte) error {
	if err := p.decode(data); err != nil {
		return err
	}
	if err := p.header(); err != nil {
		return err
	}
	for !p.eof() {
		p.skipBlanks()
		if p.eof() {
			break
		}
		switch c := p.text[p.pos]; c {
		case '\n':
		case ';':
			p.skipToEOL()
		case '[':
			if err := p.section(); err != nil {
				return err
			}
		case '"', '@':
			if err := p.value(); err != nil {
				return err
			}
		default:
			return p.errorf(syntaxf("unexpected %q at the start of a line", p.restOfLine()))
		}
		if err := p.endOfLine(); err != nil {
			return err
		}
	}
	return nil
}

func (p *regParser) eof() bool { return p.pos >= len(p.text) }

func (p *regParser) skipBlanks() {
	for !p.eof() && (p.text[p.pos] == ' ' || p.text[p.pos] == '\t' || p.text[p.pos] == '\r') {
		p.pos++
	}
}

func (p *regParser) skipToEOL() {
	if i := strings.IndexByte(p.text[p.pos:], '\n'); i >= 0 {
		p.pos += i
	} else {
		p.pos = len(p.text)
	}
}

func (p *regParser) restOfLine() string {
	s := p.text[p.pos:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// endOfLine accepts trailing blanks and a ; comment, and consumes the line
// ending.
func (p *regParser) endOfLine() error {
	p.skipBlanks()
	if !p.eof() && p.text[p.pos] == ';' {
		p.skipToEOL()
	}
	if p.eof() {
		return nil
	}
	if p.text[p.pos] != '\n' {
		return p.errorf(syntaxf("unexpected %q after the value", p.restOfLine()))
	}
	p.pos++
	p.line++
	return nil
}

// truncated is the error for input that ends in the middle of something.
func (p *regParser) truncated(what string) error {
	return p.errorf(syntaxf("truncated file: %s", what))
}

func (p *regParser) header() error {
	for !p.eof() {
		p.skipBlanks()
		if !p.eof() && p.text[p.pos] == '\n' {
			p.pos++
			p.line++
			continue
		}
		break
	}
	h := p.text[p.pos:]
	if i := strings.IndexByte(h, '\n'); i >= 0 {
		h = h[:i]
	}
	p.pos += len(h)
	switch strings.TrimSpace(h) {
	case regHeader5:
		p.v5 = true
	case regHeader4:
	default:
		if h == "" {
			return p.errorf(syntaxf("missing header %q or %q: empty file", regHeader5, regHeader4))
		}
		return p.errorf(syntaxf("missing header %q or %q", regHeader5, regHeader4))
	}
	return p.endOfLine()
}

// section handles a "[key]" or "[-key]" line.
func (p *regParser) section() error {
	line := p.text[p.pos:]
	nl := strings.IndexByte(line, '\n')
	if nl >= 0 {
		line = line[:nl]
	}
	end := strings.LastIndexByte(line, ']')
	if end < 0 {
		if nl < 0 {
			return p.truncated("key name without ]")
		}
		return p.errorf(syntaxf("key name without ]"))
	}
	path := line[1:end]
	p.pos += end + 1
	p.inSection = true
	p.cur = nil
	if del, ok := strings.CutPrefix(path, "-"); ok {
		p.deleteKey(del)
		return nil
	}
	switch regLayer(path) {
	case LayerUser:
		p.cur = p.user
	case LayerPolicy:
		p.cur = p.policy
	default:
		p.warn("", p.line, fmt.Sprintf("key [%s] is not CSF AdminData; its values are ignored", path))
	}
	return nil
}

// deleteKey forgets the values set so far for AdminData keys at or below
// path.
func (p *regParser) deleteKey(path string) {
	rest, ok := splitRegPath(path)
	if !ok {
		return
	}
	for _, rp := range regPaths {
		if hasPrefixFold(rp.path, rest) {
			if rp.layer == LayerUser {
				clear(p.user.values)
			} else {
				clear(p.policy.values)
			}
		}
	}
}

// value handles a `"name"=data` or `@=data` line.
func (p *regParser) value() error {
	line := p.line
	var name string
	isDefault := p.text[p.pos] == '@'
	if isDefault {
		p.pos++
	} else {
		var err error
		if name, err = p.quoted(false); err != nil {
			return err
		}
	}
	p.skipBlanks()
	if p.eof() {
		return p.truncated("value without =")
	}
	if p.text[p.pos] != '=' {
		return p.errorf(syntaxf("want = after the value name, got %q", p.restOfLine()))
	}
	p.pos++
	p.skipBlanks()
	if p.eof() {
		return p.truncated("value without data")
	}
	var (
		v   regValue
		del bool
	)
	if p.text[p.pos] == '-' {
		p.pos++
		del = true
	} else {
		var err error
		if v, err = p.data(); err != nil {
			return err
		}
	}
	if !p.inSection {
		return &Error{Source: p.name, Line: line, Err: syntaxf("value before any [key] line")}
	}
	if p.cur == nil {
		return nil
	}
	if isDefault {
		p.warn("@", line, "default value ignored")
		return nil
	}
	i, ok := byFold[strings.ToLower(name)]
	if !ok {
		p.warn(name, line, "unknown key, ignored")
		return nil
	}
	if del {
		delete(p.cur.values, i)
		return nil
	}
	if v.typ == regExpandSZ {
		v.str = expandEnv(v.str, p.lookupEnv)
	}
	val, err := regConvert(&schema[i], v)
	if err != nil {
		return &Error{Key: schema[i].Name, Source: p.name, Line: line, Err: err}
	}
	p.cur.values[i] = entry{value: val, line: line}
	return nil
}

// quoted reads a "…" string with \\ and \" escapes. A string value may
// span lines (regedit writes REG_SZ values with line breaks that way); a
// value name may not.
func (p *regParser) quoted(multiline bool) (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for {
		if p.eof() {
			return "", p.truncated("unterminated string")
		}
		c := p.text[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\' && p.pos+1 < len(p.text) && (p.text[p.pos+1] == '\\' || p.text[p.pos+1] == '"'):
			b.WriteByte(p.text[p.pos+1])
			p.pos += 2
			continue
		case c == '\n':
			if !multiline {
				return "", p.errorf(syntaxf("unterminated value name"))
			}
			p.line++
		}
		b.WriteByte(c)
		p.pos++
	}
}

// data reads the data after "=".
func (p *regParser) data() (regValue, error) {
	rest := p.text[p.pos:]
	switch {
	case rest[0] == '"':
		s, err := p.quoted(true)
		return regValue{typ: regSZ, str: s}, err
	case hasPrefixASCIIFold(rest, "dword:"):
		p.pos += len("dword:")
		return p.dword()
	case hasPrefixASCIIFold(rest, "hex"):
		p.pos += len("hex")
		return p.hex()
	}
	return regValue{}, p.errorf(syntaxf("unknown value type %q", p.restOfLine()))
}

func hasPrefixASCIIFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (p *regParser) hexDigits() string {
	start := p.pos
	for !p.eof() && isHexDigit(p.text[p.pos]) {
		p.pos++
	}
	return p.text[start:p.pos]
}

func (p *regParser) dword() (regValue, error) {
	digits := p.hexDigits()
	if !p.eof() && p.text[p.pos] != '\n' && p.text[p.pos] != ' ' && p.text[p.pos] != '\t' && p.text[p.pos] != '\r' {
		return regValue{}, p.errorf(syntaxf("invalid dword %q", digits+p.restOfLine()))
	}
	if digits == "" {
		if p.eof() {
			return regValue{}, p.truncated("dword without digits")
		}
		return regValue{}, p.errorf(syntaxf("dword without digits"))
	}
	n, err := strconv.ParseUint(digits, 16, 32)
	if err != nil {
		return regValue{}, p.errorf(syntaxf("dword %s out of range (at most 8 hex digits)", digits))
	}
	return regValue{typ: regDword, num: n}, nil
}

// hex reads "hex:…" or "hex(T):…" (after "hex") and decodes the bytes
// according to the type.
func (p *regParser) hex() (regValue, error) {
	typ := uint32(regBinary)
	if !p.eof() && p.text[p.pos] == '(' {
		p.pos++
		digits := p.hexDigits()
		if p.eof() {
			return regValue{}, p.truncated("hex type without )")
		}
		n, err := strconv.ParseUint(digits, 16, 32)
		if err != nil || p.text[p.pos] != ')' {
			return regValue{}, p.errorf(syntaxf("invalid hex type %q", digits+p.restOfLine()))
		}
		p.pos++
		typ = uint32(n)
	}
	if p.eof() {
		return regValue{}, p.truncated("hex without :")
	}
	if p.text[p.pos] != ':' {
		return regValue{}, p.errorf(syntaxf("want : after hex, got %q", p.restOfLine()))
	}
	p.pos++
	b, err := p.hexBytes()
	if err != nil {
		return regValue{}, err
	}
	return p.decodeHex(typ, b)
}

// hexBytes reads comma-separated two-digit hex bytes, continued over lines
// ending in a backslash.
func (p *regParser) hexBytes() ([]byte, error) {
	var out []byte
	for {
		p.skipBlanks()
		if p.eof() || p.text[p.pos] == '\n' {
			return out, nil
		}
		if p.text[p.pos] == '\\' {
			if err := p.continuation(); err != nil {
				return nil, err
			}
			continue
		}
		d := p.hexDigits()
		if len(d) != 2 {
			if len(d) < 2 && p.eof() {
				return nil, p.truncated("incomplete hex byte")
			}
			return nil, p.errorf(syntaxf("invalid hex byte %q", d+p.restOfLine()))
		}
		n, _ := strconv.ParseUint(d, 16, 8)
		out = append(out, byte(n))
		p.skipBlanks()
		if p.eof() || p.text[p.pos] == '\n' {
			return out, nil
		}
		switch p.text[p.pos] {
		case ',':
			p.pos++
		case '\\':
			if err := p.continuation(); err != nil {
				return nil, err
			}
		default:
			return nil, p.errorf(syntaxf("invalid hex byte %q", p.restOfLine()))
		}
	}
}

// continuation consumes a backslash, blanks and the line ending after it.
func (p *regParser) continuation() error {
	p.pos++
	p.skipBlanks()
	if p.eof() {
		return p.truncated("line continuation at the end of the file")
	}
	if p.text[p.pos] != '\n' {
		return p.errorf(syntaxf("invalid hex byte %q", `\`+p.restOfLine()))
	}
	p.pos++
	p.line++
	return nil
}

// decodeHex interprets hex data by registry type.
func (p *regParser) decodeHex(typ uint32, b []byte) (regValue, error) {
	v := regValue{typ: typ}
	switch typ {
	case regSZ, regExpandSZ, regMultiSZ:
		s, err := p.hexString(b)
		if err != nil {
			return v, err
		}
		if typ != regMultiSZ {
			s, _, _ = strings.Cut(s, "\x00")
			v.str = s
			return v, nil
		}
		for it := range strings.SplitSeq(s, "\x00") {
			if it == "" {
				break // an empty string ends a REG_MULTI_SZ
			}
			v.list = append(v.list, it)
		}
	case regDword, regDwordBE:
		if len(b) != 4 {
			return v, p.errorf(syntaxf("%s data must be 4 bytes, not %d", regTypeName(typ), len(b)))
		}
		if typ == regDword {
			v.num = uint64(binary.LittleEndian.Uint32(b))
		} else {
			v.num = uint64(binary.BigEndian.Uint32(b))
		}
	case regQword:
		if len(b) != 8 {
			return v, p.errorf(syntaxf("REG_QWORD data must be 8 bytes, not %d", len(b)))
		}
		v.num = binary.LittleEndian.Uint64(b)
	}
	return v, nil
}

// hexString decodes string bytes: UTF-16LE in version 5 files, ANSI
// (UTF-8 when valid, else Windows-1252) in REGEDIT4 files.
func (p *regParser) hexString(b []byte) (string, error) {
	if p.v5 {
		if len(b)%2 != 0 {
			return "", p.errorf(encodingf("odd number of bytes in UTF-16 string data"))
		}
		s, err := unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder().Bytes(b)
		if err != nil {
			return "", p.errorf(encodingf("bad UTF-16 string data: %v", err))
		}
		return string(s), nil
	}
	if utf8.Valid(b) {
		return string(b), nil
	}
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return "", p.errorf(encodingf("bad ANSI string data: %v", err))
	}
	return string(s), nil
}
