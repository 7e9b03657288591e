package softphone

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCallerID(t *testing.T) {
	for in, want := range map[string]string{
		"sip:1003@example.test":                     "1003",
		"sips:+14085551234@example.test;user=phone": "+14085551234",
		"tel:+14085551234":                          "+14085551234",
		`"Carol" <sip:carol@example.test>;tag=x`:    "carol",
		"SIP:bob@example.test?subject=x":            "bob",
		"":                                          "",
	} {
		assert.Equal(t, want, callerID(in), in)
	}
}
