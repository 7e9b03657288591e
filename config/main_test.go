package config

import (
	"testing"
	"unicode/utf16"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// utf16File encodes text as regedit version 5 writes it: UTF-16LE with a
// byte order mark.
func utf16File(text string) []byte {
	b := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(text)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}
