package softphone

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pack must keep every field's value while moving them into one string.
func TestDialogPackKeepsValues(t *testing.T) {
	d := dialog{localURI: "sip:alice@example.test", remoteURI: "sip:bob@example.test",
		remoteTarget: "sip:bob@127.0.0.1:5062;transport=udp", localTag: "abc", remoteTag: "",
		routeSet: []string{"sip:127.0.0.1:5060;lr", "sip:10.0.0.1;lr"}}
	want := d
	want.routeSet = append([]string(nil), d.routeSet...)
	d.pack()
	assert.Equal(t, want, d)
	u := uri(d.remoteTarget)
	assert.Equal(t, "127.0.0.1", u.Host)
	assert.Equal(t, 5062, u.Port)
	require.NotPanics(t, func() { (&dialog{}).pack() })
}
