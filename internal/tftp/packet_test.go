package tftp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePacket(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want packet
		err  string
	}{
		{"RRQ with options", []byte("\x00\x01CSFalice.cnf.xml\x00OCTET\x00BLKSIZE\x001428\x00tsize\x000\x00"),
			packet{op: opRRQ, file: "CSFalice.cnf.xml", mode: "octet", options: map[string]string{"blksize": "1428", "tsize": "0"}}, ""},
		{"RRQ without mode", []byte("\x00\x01f\x00"), packet{}, "request with 1 strings"},
		{"RRQ unterminated", []byte("\x00\x01f\x00octet"), packet{}, "NUL terminator"},
		{"RRQ empty name", []byte("\x00\x01\x00octet\x00"), packet{}, "empty file name"},
		{"OACK", []byte("\x00\x06blksize\x00512\x00"), packet{op: opOACK, options: map[string]string{"blksize": "512"}}, ""},
		{"OACK duplicate option", []byte("\x00\x06blksize\x00512\x00BlkSize\x00512\x00"), packet{}, "twice"},
		{"OACK odd", []byte("\x00\x06blksize\x00"), packet{}, "without value"},
		{"DATA", []byte("\x00\x03\x00\x02abc"), packet{op: opDATA, block: 2, data: []byte("abc")}, ""},
		{"DATA empty", []byte("\x00\x03\x00\x02"), packet{op: opDATA, block: 2, data: []byte{}}, ""},
		{"DATA short", []byte("\x00\x03\x00"), packet{}, "without block number"},
		{"ACK", []byte("\x00\x04\xff\xff"), packet{op: opACK, block: 65535}, ""},
		{"ACK long", []byte("\x00\x04\x00\x01\x00"), packet{}, "ACK of 5 bytes"},
		{"ERROR", []byte("\x00\x05\x00\x01File not found\x00"), packet{op: opERROR, code: 1, msg: "File not found"}, ""},
		{"ERROR bad UTF-8", []byte("\x00\x05\x00\x00\xff\x00"), packet{op: opERROR, msg: "\uFFFD"}, ""},
		{"one byte", []byte{0}, packet{}, "1 bytes"},
		{"opcode 0", []byte{0, 0}, packet{}, "unknown opcode 0"},
		{"too large", make([]byte, maxPacket+1), packet{}, "exceed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePacket(tc.in)
			if tc.err != "" {
				require.ErrorIs(t, err, errMalformed)
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, p)
		})
	}
}

func TestAppendRequestOrder(t *testing.T) {
	got := appendRequest(nil, opRRQ, "f", "octet", map[string]string{"zeta": "1", "timeout": "2", "blksize": "8", "alpha": "x"})
	assert.Equal(t, "\x00\x01f\x00octet\x00blksize\x008\x00timeout\x002\x00alpha\x00x\x00zeta\x001\x00", string(got))
}
