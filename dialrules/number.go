package dialrules

import "unicode/utf8"

// MaxLen is the longest number, BeginsWith and PrefixWith accepted, in
// characters after normalisation. E.164 numbers have at most 16 characters
// with the '+'; the rest leaves room for access codes and extensions.
const MaxLen = 64

// numBuf holds a normalised number. It is an array so that it lives on the
// caller's stack.
type numBuf [MaxLen]byte

// normalize copies the dialable characters of s into buf and returns how many
// there are. It drops what people paste around numbers: spaces (including
// NBSP and the other Unicode spaces), tabs and line breaks, dashes (ASCII and
// Unicode), dots, slashes, parentheses, and invisible bidi and zero-width
// marks. It keeps digits, '*', '#', and a '+' that comes before every other
// kept character. Anything else is an error matching [ErrInvalidNumber].
func normalize[S ~string | ~[]byte](buf *numBuf, s S) (int, error) {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case '0' <= c && c <= '9', c == '*', c == '#':
		case c == '+':
			if n != 0 {
				return 0, numberError(string(s), i, "'+' after the first digit")
			}
		case c == ' ', c == '\t', c == '\n', c == '\r', c == '-', c == '.', c == '/', c == '(', c == ')':
			i++
			continue
		case c >= utf8.RuneSelf:
			size := separatorLen(s[i:])
			if size == 0 {
				return 0, invalidRune(string(s), i)
			}
			i += size
			continue
		default:
			return 0, invalidRune(string(s), i)
		}
		if n == MaxLen {
			return 0, numberError(string(s), -1, "longer than 64 characters")
		}
		buf[n] = c
		n++
		i++
	}
	if n == 0 || n == 1 && buf[0] == '+' {
		return 0, numberError(string(s), -1, "no digits")
	}
	return n, nil
}

//go:noinline
func invalidRune(s string, off int) error {
	r, _ := utf8.DecodeRuneInString(s[off:])
	if r == utf8.RuneError {
		return numberError(s, off, "invalid UTF-8")
	}
	return numberError(s, off, "unexpected "+quoteRune(r))
}

func quoteRune(r rune) string {
	if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
		return "letter '" + string(r) + "'"
	}
	return "character " + utf8Quote(r)
}

func utf8Quote(r rune) string {
	const hex = "0123456789ABCDEF"
	if r < 0x10000 {
		return "U+" + string([]byte{hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15]})
	}
	return "U+" + string([]byte{hex[r>>20&15], hex[r>>16&15], hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15]})
}

// separatorLen returns the length in bytes of the multi-byte separator at the
// start of s, or 0 if s does not start with one. Decoding by hand keeps the
// function generic and free of allocations.
func separatorLen[S ~string | ~[]byte](s S) int {
	switch {
	case len(s) >= 2 && s[0] == 0xC2 && s[1] == 0xA0: // U+00A0 NO-BREAK SPACE
		return 2
	case len(s) >= 3 && s[0] == 0xE2 && s[1] == 0x80:
		// U+2000..U+200F spaces, zero-width and direction marks,
		// U+2010..U+2015 hyphens and dashes, U+2028..U+202F separators,
		// embeddings and NARROW NO-BREAK SPACE.
		switch c := s[2]; {
		case 0x80 <= c && c <= 0x95, 0xA8 <= c && c <= 0xAF:
			return 3
		}
	case len(s) >= 3 && s[0] == 0xE2 && s[1] == 0x81:
		// U+2060 WORD JOINER, U+2066..U+2069 isolates.
		switch c := s[2]; {
		case c == 0xA0, 0xA6 <= c && c <= 0xA9:
			return 3
		}
	case len(s) >= 3 && s[0] == 0xE2 && s[1] == 0x88 && s[2] == 0x92: // U+2212 MINUS SIGN
		return 3
	case len(s) >= 3 && s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80: // U+3000 IDEOGRAPHIC SPACE
		return 3
	case len(s) >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF: // U+FEFF BOM, ZERO WIDTH NO-BREAK SPACE
		return 3
	}
	return 0
}

// Normalize returns number with separators removed, as [Rules.Transform]
// sees it before matching. The error matches [ErrInvalidNumber].
func Normalize(number string) (string, error) {
	var buf numBuf
	n, err := normalize(&buf, number)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
