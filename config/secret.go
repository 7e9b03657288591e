package config

import (
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Secret is a string that does not print: String, GoString, every fmt verb,
// slog (through LogValue), JSON and text marshalling all give "[redacted]".
// Only [Secret.Reveal] returns the value, so a password reaching a log or a
// problem report is a visible call in the code, not an accident.
type Secret string

// Reveal returns the secret's value. Call it only where the value is used,
// such as when answering an authentication challenge.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString returns "[redacted]", so %#v does not show the value either.
func (s Secret) GoString() string { return redacted }

// Format writes "[redacted]" for every verb, including %s, %q, %v and %x.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements [slog.LogValuer]; it returns "[redacted]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON returns the JSON string "[redacted]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[redacted]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
