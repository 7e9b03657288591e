//go:build !(cgo && opus)

package opus

// Available reports whether libopus is built in.
const Available = false

// Encoder is a stand-in: without libopus nothing can be made.
type Encoder struct{}

// NewEncoder returns ErrUnavailable.
func NewEncoder(rate, bitrate int) (*Encoder, error) { return nil, ErrUnavailable }

// Encode returns ErrUnavailable.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) { return 0, ErrUnavailable }

// Close does nothing.
func (e *Encoder) Close() {}

// Decoder is a stand-in: without libopus nothing can be made.
type Decoder struct{}

// NewDecoder returns ErrUnavailable.
func NewDecoder(rate int) (*Decoder, error) { return nil, ErrUnavailable }

// Decode returns ErrUnavailable.
func (d *Decoder) Decode(packet []byte, pcm []int16) (int, error) { return 0, ErrUnavailable }

// Close does nothing.
func (d *Decoder) Close() {}
