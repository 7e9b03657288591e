package audio

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// WAVSource reads frames from a RIFF WAVE file of 16-bit PCM, mono, 8 kHz.
// Make one with [NewWAVSource].
type WAVSource struct {
	r    *bufio.Reader
	left int64 // bytes of sample data not yet read
	buf  []byte
}

// NewWAVSource reads the header of a WAV file from r and returns a source
// of its samples. A file in another format gives an error matching
// [ErrFormat]. The last frame is padded with silence.
func NewWAVSource(r io.Reader) (*WAVSource, error) {
	br := bufio.NewReader(r)
	var riff [12]byte
	if _, err := io.ReadFull(br, riff[:]); err != nil {
		return nil, fmt.Errorf("audio: wav header: %w", err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return nil, fmt.Errorf("audio: not a RIFF WAVE file: %w", ErrFormat)
	}
	fmtSeen := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(br, ch[:]); err != nil {
			return nil, fmt.Errorf("audio: wav chunk: %w", err)
		}
		id, size := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if size < 16 || size > 1<<10 {
				return nil, fmt.Errorf("audio: fmt chunk of %d bytes: %w", size, ErrFormat)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(br, b); err != nil {
				return nil, fmt.Errorf("audio: wav fmt: %w", err)
			}
			format, channels := binary.LittleEndian.Uint16(b[0:2]), binary.LittleEndian.Uint16(b[2:4])
			rate, bits := binary.LittleEndian.Uint32(b[4:8]), binary.LittleEndian.Uint16(b[14:16])
			if (format != 1 && format != 0xFFFE) || channels != 1 || rate != SampleRate || bits != 16 {
				return nil, fmt.Errorf("audio: wav of format %d, %d channels, %d Hz, %d bits: %w", format, channels, rate, bits, ErrFormat)
			}
			fmtSeen = true
		case "data":
			if !fmtSeen {
				return nil, fmt.Errorf("audio: data before fmt: %w", ErrFormat)
			}
			return &WAVSource{r: br, left: size, buf: make([]byte, 2*FrameSamples)}, nil
		default:
			if _, err := br.Discard(int(size + size%2)); err != nil {
				return nil, fmt.Errorf("audio: wav chunk %q: %w", id, err)
			}
		}
	}
}

// ReadFrame fills f with the next samples; io.EOF at the end of the data.
func (w *WAVSource) ReadFrame(f []int16) error {
	if w.left <= 0 {
		return io.EOF
	}
	want := min(int64(2*len(f)), w.left)
	if cap(w.buf) < int(want) {
		w.buf = make([]byte, want)
	}
	b := w.buf[:want]
	n, err := io.ReadFull(w.r, b)
	w.left -= int64(n)
	if err != nil {
		w.left = 0
	}
	clear(f)
	for i := 0; i+1 < n; i += 2 {
		f[i/2] = int16(binary.LittleEndian.Uint16(b[i:]))
	}
	if n == 0 {
		return io.EOF
	}
	return nil
}

// WAVSink writes frames to a WAV file of 16-bit PCM, mono, 8 kHz. Make one
// with [NewWAVSink]; Close writes the final sizes into the header.
type WAVSink struct {
	w   io.WriteSeeker
	n   int64 // data bytes written
	buf []byte
	err error
}

// NewWAVSink writes a WAV header to w and returns a sink that appends
// samples to it.
func NewWAVSink(w io.WriteSeeker) (*WAVSink, error) {
	s := &WAVSink{w: w, buf: make([]byte, 2*FrameSamples)}
	if _, err := w.Write(wavHeader(0)); err != nil {
		return nil, fmt.Errorf("audio: wav header: %w", err)
	}
	return s, nil
}

func wavHeader(data uint32) []byte {
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+data)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], SampleRate)
	binary.LittleEndian.PutUint32(h[28:], SampleRate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], data)
	return h
}

// WriteFrame appends f.
func (s *WAVSink) WriteFrame(f []int16) error {
	if s.err != nil {
		return s.err
	}
	if cap(s.buf) < 2*len(f) {
		s.buf = make([]byte, 2*len(f))
	}
	b := s.buf[:2*len(f)]
	for i, v := range f {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	n, err := s.w.Write(b)
	s.n += int64(n)
	s.err = err
	return err
}

// Close rewrites the header with the final sizes. It does not close the
// underlying writer.
func (s *WAVSink) Close() error {
	if _, err := s.w.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := s.w.Write(wavHeader(uint32(s.n))); err != nil {
		return err
	}
	_, err := s.w.Seek(0, io.SeekEnd)
	return err
}
