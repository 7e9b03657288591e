package stun

import (
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rfc5769IPv4 is the sample IPv4 response of RFC 5769 section 2.2, with
// the MESSAGE-INTEGRITY value zeroed: Parse does not check integrity.
var rfc5769IPv4 = strings.Join([]string{
	"0101003c", "2112a442", "b7e7a701bc34d686fa87dfae",
	"8022000b", "7465737420766563746f7220",
	"00200008", "0001a147", "e112a643",
	"00080014", "0000000000000000000000000000000000000000",
	"80280004", "c07d4c96",
}, "")

func TestParseRFC5769(t *testing.T) {
	b, err := hex.DecodeString(rfc5769IPv4)
	require.NoError(t, err)
	require.True(t, Is(b))
	r, err := Parse(b)
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddrPort("192.0.2.1:32853"), r.Mapped)
	assert.Equal(t, "b7e7a701bc34d686fa87dfae", hex.EncodeToString(r.ID[:]))
}

// response builds a Binding success response carrying addr in
// XOR-MAPPED-ADDRESS.
func response(id TxID, addr netip.AddrPort) []byte {
	ip := addr.Addr().AsSlice()
	fam := byte(1)
	if len(ip) == 16 {
		fam = 2
	}
	key := append(binary.BigEndian.AppendUint32(nil, magicCookie), id[:]...)
	val := []byte{0, fam, 0, 0}
	binary.BigEndian.PutUint16(val[2:], addr.Port()^uint16(magicCookie>>16))
	for i, c := range ip {
		val = append(val, c^key[i])
	}
	b := binary.BigEndian.AppendUint16(nil, typeBindingSuccess)
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(val)))
	b = append(b, key...)
	b = binary.BigEndian.AppendUint16(b, attrXORMappedAddress)
	b = binary.BigEndian.AppendUint16(b, uint16(len(val)))
	return append(b, val...)
}

func TestRoundTrip(t *testing.T) {
	for _, a := range []string{"127.0.0.2:5060", "[2001:db8::1]:40000"} {
		id := NewTxID()
		r, err := Parse(response(id, netip.MustParseAddrPort(a)))
		require.NoError(t, err, a)
		assert.Equal(t, id, r.ID)
		assert.Equal(t, netip.MustParseAddrPort(a), r.Mapped)
	}
}

func TestBindingRequest(t *testing.T) {
	id := NewTxID()
	b := BindingRequest(id)
	require.True(t, Is(b))
	assert.Equal(t, uint16(typeBindingRequest), binary.BigEndian.Uint16(b))
	assert.Equal(t, id[:], b[8:20])
	// FINGERPRINT covers everything before it, with the length already
	// counting it (RFC 5389 section 15.5).
	assert.Equal(t, crc32.ChecksumIEEE(b[:20])^fingerprintXOR, binary.BigEndian.Uint32(b[24:]))
	// A request is not a response.
	_, err := Parse(b)
	assert.ErrorIs(t, err, ErrNotSTUN)
}

func TestParseRejects(t *testing.T) {
	id := NewTxID()
	good := response(id, netip.MustParseAddrPort("127.0.0.1:5060"))
	for name, b := range map[string][]byte{
		"sip":       []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n\r\n"),
		"crlf":      []byte("\r\n\r\n"),
		"short":     good[:10],
		"truncated": good[:len(good)-2],
	} {
		_, err := Parse(b)
		assert.Error(t, err, name)
	}
	bad := append([]byte(nil), good...)
	bad[23] = 0x20 // attribute length past the end
	_, err := Parse(bad)
	assert.ErrorIs(t, err, ErrMalformed)
	errResp := append([]byte(nil), good[:20]...)
	binary.BigEndian.PutUint16(errResp, typeBindingError)
	binary.BigEndian.PutUint16(errResp[2:], 0)
	r, err := Parse(errResp)
	assert.ErrorIs(t, err, ErrFailed)
	assert.Equal(t, id, r.ID)
}

func FuzzParse(f *testing.F) {
	b, _ := hex.DecodeString(rfc5769IPv4)
	f.Add(b)
	f.Add(response(TxID{1}, netip.MustParseAddrPort("[2001:db8::1]:1")))
	f.Add(BindingRequest(TxID{2}))
	f.Add([]byte("SIP/2.0 200 OK\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err == nil && !r.Mapped.IsValid() {
			t.Fatalf("success without an address: %x", b)
		}
	})
}
