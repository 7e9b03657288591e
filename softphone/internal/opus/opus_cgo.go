//go:build cgo && opus

package opus

/*
#cgo pkg-config: opus
#include <opus.h>
#include <stdlib.h>

static int enc_set_bitrate(OpusEncoder *e, opus_int32 b) { return opus_encoder_ctl(e, OPUS_SET_BITRATE(b)); }
static int enc_set_complexity(OpusEncoder *e, opus_int32 c) { return opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(c)); }
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Available reports whether libopus is built in.
const Available = true

// Encoder encodes mono PCM frames. It is not safe for concurrent use.
type Encoder struct{ e *C.OpusEncoder }

// NewEncoder makes a VoIP encoder for rate Hz mono at bitrate bits/s (0
// means 24000).
func NewEncoder(rate, bitrate int) (*Encoder, error) {
	var errc C.int
	e := C.opus_encoder_create(C.opus_int32(rate), 1, C.OPUS_APPLICATION_VOIP, &errc)
	if errc != C.OPUS_OK || e == nil {
		return nil, fmt.Errorf("opus: encoder: %s", C.GoString(C.opus_strerror(errc)))
	}
	if bitrate == 0 {
		bitrate = 24000
	}
	C.enc_set_bitrate(e, C.opus_int32(bitrate))
	C.enc_set_complexity(e, 5)
	return &Encoder{e: e}, nil
}

// Encode encodes one frame (2.5 to 60 ms of samples) into out and returns
// the packet length.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) {
	if len(pcm) == 0 || len(out) == 0 {
		return 0, fmt.Errorf("opus: encode: empty buffer")
	}
	n := C.opus_encode(e.e, (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)),
		(*C.uchar)(unsafe.Pointer(&out[0])), C.opus_int32(len(out)))
	if n < 0 {
		return 0, fmt.Errorf("opus: encode: %s", C.GoString(C.opus_strerror(n)))
	}
	return int(n), nil
}

// Close frees the encoder.
func (e *Encoder) Close() {
	if e.e != nil {
		C.opus_encoder_destroy(e.e)
		e.e = nil
	}
}

// Decoder decodes packets to mono PCM. It is not safe for concurrent use.
type Decoder struct{ d *C.OpusDecoder }

// NewDecoder makes a decoder producing rate Hz mono.
func NewDecoder(rate int) (*Decoder, error) {
	var errc C.int
	d := C.opus_decoder_create(C.opus_int32(rate), 1, &errc)
	if errc != C.OPUS_OK || d == nil {
		return nil, fmt.Errorf("opus: decoder: %s", C.GoString(C.opus_strerror(errc)))
	}
	return &Decoder{d: d}, nil
}

// Decode decodes packet into pcm and returns the samples written; a nil
// packet asks for loss concealment of len(pcm) samples.
func (d *Decoder) Decode(packet []byte, pcm []int16) (int, error) {
	if len(pcm) == 0 {
		return 0, fmt.Errorf("opus: decode: empty buffer")
	}
	var p *C.uchar
	if len(packet) > 0 {
		p = (*C.uchar)(unsafe.Pointer(&packet[0]))
	}
	n := C.opus_decode(d.d, p, C.opus_int32(len(packet)), (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)), 0)
	if n < 0 {
		return 0, fmt.Errorf("opus: decode: %s", C.GoString(C.opus_strerror(n)))
	}
	return int(n), nil
}

// Close frees the decoder.
func (d *Decoder) Close() {
	if d.d != nil {
		C.opus_decoder_destroy(d.d)
		d.d = nil
	}
}
