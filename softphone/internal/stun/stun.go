// Package stun encodes STUN Binding requests and decodes Binding responses
// (RFC 5389), no more: what a SIP user agent needs for the keep-alives of
// RFC 5626 section 4.4.2 on a UDP flow, and for reading the address the
// far end sees it at. It has no attributes beyond XOR-MAPPED-ADDRESS,
// MAPPED-ADDRESS and FINGERPRINT, and no authentication.
package stun

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
)

// TxID identifies a STUN transaction.
type TxID [12]byte

const (
	headerLen   = 20
	magicCookie = 0x2112A442

	typeBindingRequest = 0x0001
	typeBindingSuccess = 0x0101
	typeBindingError   = 0x0111

	attrMappedAddress    = 0x0001
	attrXORMappedAddress = 0x0020
	attrFingerprint      = 0x8028

	// fingerprintXOR is what the CRC-32 is XORed with (RFC 5389 section 15.5).
	fingerprintXOR = 0x5354554e
)

// Errors of Parse.
var (
	ErrNotSTUN   = errors.New("stun: not a STUN message")
	ErrMalformed = errors.New("stun: malformed message")
	ErrFailed    = errors.New("stun: binding error response")
)

// NewTxID returns a random transaction ID.
func NewTxID() TxID {
	var id TxID
	_, _ = rand.Read(id[:])
	return id
}

// BindingRequest returns a Binding request with transaction id, ending
// with a FINGERPRINT so that a server sharing the port with SIP can tell
// it apart (RFC 5389 section 8).
func BindingRequest(id TxID) []byte {
	b := make([]byte, headerLen+8)
	binary.BigEndian.PutUint16(b[0:], typeBindingRequest)
	binary.BigEndian.PutUint16(b[2:], 8)
	binary.BigEndian.PutUint32(b[4:], magicCookie)
	copy(b[8:20], id[:])
	binary.BigEndian.PutUint16(b[20:], attrFingerprint)
	binary.BigEndian.PutUint16(b[22:], 4)
	binary.BigEndian.PutUint32(b[24:], crc32.ChecksumIEEE(b[:20])^fingerprintXOR)
	return b
}

// Is reports whether b looks like a STUN message: the two top bits zero,
// the magic cookie, a length that fits (RFC 5389 section 6). SIP text
// never starts with a zero byte.
func Is(b []byte) bool {
	return len(b) >= headerLen && b[0]&0xC0 == 0 &&
		binary.BigEndian.Uint32(b[4:]) == magicCookie &&
		int(binary.BigEndian.Uint16(b[2:]))+headerLen <= len(b) &&
		binary.BigEndian.Uint16(b[2:])%4 == 0
}

// Response is a decoded Binding response.
type Response struct {
	ID TxID
	// Mapped is the source address the server saw the request come from
	// (XOR-MAPPED-ADDRESS, else the older MAPPED-ADDRESS).
	Mapped netip.AddrPort
}

// Parse decodes a Binding success response. A Binding error response
// gives its transaction ID with an error matching ErrFailed; anything else
// that is not a response gives ErrNotSTUN or ErrMalformed.
func Parse(b []byte) (Response, error) {
	var r Response
	if !Is(b) {
		return r, ErrNotSTUN
	}
	copy(r.ID[:], b[8:20])
	switch binary.BigEndian.Uint16(b[0:]) {
	case typeBindingSuccess:
	case typeBindingError:
		return r, ErrFailed
	default:
		return r, ErrNotSTUN
	}
	body := b[headerLen : headerLen+int(binary.BigEndian.Uint16(b[2:]))]
	var mapped, xorMapped netip.AddrPort
	for len(body) > 0 {
		if len(body) < 4 {
			return r, ErrMalformed
		}
		typ, n := binary.BigEndian.Uint16(body), int(binary.BigEndian.Uint16(body[2:]))
		padded := (n + 3) &^ 3
		if 4+padded > len(body) {
			return r, ErrMalformed
		}
		val := body[4 : 4+n]
		switch typ {
		case attrXORMappedAddress:
			a, err := address(val, b[4:20])
			if err != nil {
				return r, err
			}
			xorMapped = a
		case attrMappedAddress:
			a, err := address(val, nil)
			if err != nil {
				return r, err
			}
			mapped = a
		}
		body = body[4+padded:]
	}
	r.Mapped = xorMapped
	if !r.Mapped.IsValid() {
		r.Mapped = mapped
	}
	if !r.Mapped.IsValid() {
		return r, ErrMalformed
	}
	return r, nil
}

// address decodes a (XOR-)MAPPED-ADDRESS value; key is the magic cookie
// and transaction ID to XOR with, nil for MAPPED-ADDRESS (RFC 5389
// sections 15.1 and 15.2).
func address(v, key []byte) (netip.AddrPort, error) {
	if len(v) < 4 {
		return netip.AddrPort{}, ErrMalformed
	}
	port := binary.BigEndian.Uint16(v[2:])
	var ip []byte
	switch v[1] {
	case 0x01:
		if len(v) != 8 {
			return netip.AddrPort{}, ErrMalformed
		}
		ip = append(ip, v[4:8]...)
	case 0x02:
		if len(v) != 20 {
			return netip.AddrPort{}, ErrMalformed
		}
		ip = append(ip, v[4:20]...)
	default:
		return netip.AddrPort{}, ErrMalformed
	}
	if key != nil {
		port ^= uint16(magicCookie >> 16)
		for i := range ip {
			ip[i] ^= key[i]
		}
	}
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port), nil
}
