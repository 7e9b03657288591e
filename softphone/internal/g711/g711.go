// Package g711 converts between 16-bit linear PCM and G.711 µ-law and
// A-law (ITU-T G.711), one byte per sample. Decoding uses tables built at
// init; encoding is branch-light arithmetic, allocation free.
package g711

var (
	ulawTable [256]int16
	alawTable [256]int16
)

func init() {
	for i := range 256 {
		ulawTable[i] = decodeULaw(byte(i))
		alawTable[i] = decodeALaw(byte(i))
	}
}

const ulawBias = 0x84

// EncodeULaw appends the µ-law encoding of pcm to dst.
func EncodeULaw(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, ulaw(s))
	}
	return dst
}

// DecodeULaw writes the samples of µ-law payload into dst, which must be
// at least len(payload) long, and returns the samples written.
func DecodeULaw(dst []int16, payload []byte) []int16 {
	dst = dst[:len(payload)]
	for i, b := range payload {
		dst[i] = ulawTable[b]
	}
	return dst
}

// EncodeALaw appends the A-law encoding of pcm to dst.
func EncodeALaw(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, alaw(s))
	}
	return dst
}

// DecodeALaw writes the samples of A-law payload into dst, which must be
// at least len(payload) long, and returns the samples written.
func DecodeALaw(dst []int16, payload []byte) []int16 {
	dst = dst[:len(payload)]
	for i, b := range payload {
		dst[i] = alawTable[b]
	}
	return dst
}

// segment returns the position of the highest set bit of v above bit 7,
// 0..7: the G.711 segment (chord) number.
func segment(v int) int {
	seg := 0
	for v >>= 8; v > 0 && seg < 7; v >>= 1 {
		seg++
	}
	return seg
}

func ulaw(s int16) byte {
	v := int(s)
	sign := 0
	if v < 0 {
		v = -v
		sign = 0x80
	}
	v = min(v, 32635) + ulawBias
	seg := segment(v) // exponent
	mant := (v >> (seg + 3)) & 0x0F
	return ^byte(sign | seg<<4 | mant)
}

func decodeULaw(b byte) int16 {
	b = ^b
	seg := int(b>>4) & 7
	mant := int(b & 0x0F)
	v := ((mant << 3) + ulawBias) << seg
	v -= ulawBias
	if b&0x80 != 0 {
		return int16(-v)
	}
	return int16(v)
}

func alaw(s int16) byte {
	v := int(s) >> 3 // A-law works on 13 bits
	sign := 0x80
	if v < 0 {
		v = -v - 1
		sign = 0
	}
	var b int
	if v < 32 {
		b = v >> 1
	} else {
		seg := 1
		for x := v >> 5; x > 1 && seg < 7; x >>= 1 {
			seg++
		}
		if v >= 4096 {
			v, seg = 4095, 7
		}
		b = seg<<4 | (v>>seg)&0x0F
	}
	return byte(sign|b) ^ 0x55
}

func decodeALaw(b byte) int16 {
	b ^= 0x55
	seg := int(b>>4) & 7
	mant := int(b & 0x0F)
	var v int
	if seg == 0 {
		v = mant<<4 + 8
	} else {
		v = (mant<<4 + 0x108) << (seg - 1)
	}
	if b&0x80 == 0 {
		return int16(-v)
	}
	return int16(v)
}
