package config

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. They are always returned inside an [*Error] that says
// where the problem is; match them with [errors.Is].
var (
	// ErrSyntax means a file is not well formed: a missing .reg header, an
	// unterminated string, an invalid hex byte, a truncated file, bad YAML.
	ErrSyntax = errors.New("syntax error")

	// ErrBadEncoding means a file's bytes cannot be decoded as text: an odd
	// number of bytes in UTF-16, UTF-16 without a byte order mark.
	ErrBadEncoding = errors.New("bad encoding")

	// ErrBadValue means a value does not parse as its key's type, such as
	// "carrier-pigeon" for SipTransport or a dword of 2 for a bool key.
	ErrBadValue = errors.New("bad value")

	// ErrUnknownKey is returned by [Source.Set] and [Store.Set] for a key
	// that is not in the schema. Unknown keys in files and the environment
	// are [Warning]s instead, never errors.
	ErrUnknownKey = errors.New("unknown key")

	// ErrNoProfile means [LoadOptions.Profile] names no entry under Users:.
	ErrNoProfile = errors.New("no such profile")
)

// Error describes a bad file or value: which key (empty when the problem is
// not about one key), which source (a file path, "env", "code") and which
// 1-based line (0 when the source has no lines). It is always returned as a
// pointer; Err wraps one of the sentinel errors above or an I/O error.
type Error struct {
	Key    string // canonical key name; empty for file-level problems
	Source string // file path or source name
	Line   int    // 1-based line; 0 means unknown or not applicable
	Err    error
}

// Error formats the error as "config: file:line: key Name: problem".
func (e *Error) Error() string {
	b := []byte("config: ")
	if e.Source != "" {
		b = append(b, e.Source...)
		if e.Line > 0 {
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(e.Line), 10)
		}
		b = append(b, ": "...)
	}
	if e.Key != "" {
		b = append(b, "key "...)
		b = append(b, e.Key...)
		b = append(b, ": "...)
	}
	if e.Err != nil {
		b = append(b, e.Err.Error()...)
	} else {
		b = append(b, "invalid configuration"...)
	}
	return string(b)
}

// Unwrap returns e.Err.
func (e *Error) Unwrap() error { return e.Err }

// problem is an error with its own message that matches a sentinel, so that
// messages read "truncated file" rather than "syntax error: truncated file"
// while errors.Is(err, ErrSyntax) still holds.
type problem struct {
	kind error
	msg  string
}

func (p *problem) Error() string        { return p.msg }
func (p *problem) Is(target error) bool { return target == p.kind }

func syntaxf(format string, args ...any) error {
	return &problem{kind: ErrSyntax, msg: fmt.Sprintf(format, args...)}
}

func encodingf(format string, args ...any) error {
	return &problem{kind: ErrBadEncoding, msg: fmt.Sprintf(format, args...)}
}

func badValuef(format string, args ...any) error {
	return &problem{kind: ErrBadValue, msg: fmt.Sprintf(format, args...)}
}

// Warning reports something ignored while loading a source: an unknown key,
// a registry key outside the CSF AdminData paths, a default (@) value.
// Warnings never stop a source from loading.
type Warning struct {
	Key    string // the key as written; empty when not about one key
	Source string // file path or source name
	Line   int    // 1-based line; 0 means not applicable
	Msg    string
}

// String formats the warning like an [Error], without the "config: " prefix.
func (w Warning) String() string {
	b := []byte{}
	if w.Source != "" {
		b = append(b, w.Source...)
		if w.Line > 0 {
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(w.Line), 10)
		}
		b = append(b, ": "...)
	}
	if w.Key != "" {
		b = append(b, "key "...)
		b = append(b, w.Key...)
		b = append(b, ": "...)
	}
	return string(append(b, w.Msg...))
}
