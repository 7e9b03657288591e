package tftp

import (
	"maps"
	"testing"
)

// FuzzParsePacket checks that whatever decodes encodes back to a packet
// that decodes to the same values.
func FuzzParsePacket(f *testing.F) {
	f.Add(appendRequest(nil, opRRQ, "CUPC/AppDialRules.xml", "octet", map[string]string{"blksize": "1428", "tsize": "0", "timeout": "1"}))
	f.Add(appendOACK(nil, map[string]string{"blksize": "512", "tsize": "99"}))
	f.Add(appendData(nil, 7, []byte("<DialRules/>")))
	f.Add(appendACK(nil, 65535))
	f.Add(appendError(nil, 1, "File not found"))
	f.Add([]byte{0, 5, 0, 1, 'x'})
	f.Add([]byte{0, 6})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePacket(b)
		if err != nil {
			return
		}
		var enc []byte
		switch p.op {
		case opRRQ, opWRQ:
			enc = appendRequest(nil, p.op, p.file, p.mode, p.options)
		case opOACK:
			enc = appendOACK(nil, p.options)
		case opDATA:
			enc = appendData(nil, p.block, p.data)
		case opACK:
			enc = appendACK(nil, p.block)
		case opERROR:
			if containsNUL(p.msg) {
				t.Fatalf("message %q holds NUL", p.msg)
			}
			enc = appendError(nil, p.code, p.msg)
		default:
			t.Fatalf("decoded unknown opcode %d", p.op)
		}
		q, err := parsePacket(enc)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", enc, err)
		}
		if p.op != q.op || p.file != q.file || p.mode != q.mode || p.block != q.block ||
			p.code != q.code || p.msg != q.msg || string(p.data) != string(q.data) || !maps.Equal(p.options, q.options) {
			t.Fatalf("round trip: %+v → %q → %+v", p, enc, q)
		}
	})
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}
