package voicemail

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// WAV format codes (RFC 2361, mmreg.h).
const (
	wavePCM        = 0x0001
	waveALaw       = 0x0006
	waveMuLaw      = 0x0007
	waveExtensible = 0xFFFE
)

// maxChunkSkip bounds the chunks skipped before the audio data, so a
// hostile header cannot make the decoder read forever.
const maxChunkSkip = 1 << 20

// wavHeader is what the start of a WAV file says.
type wavHeader struct {
	format     AudioFormat
	blockAlign int
	dataOffset int64 // where the samples start
	dataSize   int64 // -1 when the header does not say (streaming writers put 0 or 0xFFFFFFFF)
}

var errShortWAV = errors.New("wav header incomplete")

// duration returns the playing time of size bytes of sample data.
func (h wavHeader) duration(size int64) time.Duration {
	if h.blockAlign <= 0 || h.format.SampleRate <= 0 || size <= 0 {
		return 0
	}
	frames := size / int64(h.blockAlign)
	return time.Duration(frames) * time.Second / time.Duration(h.format.SampleRate)
}

// parseWAVHeader reads a WAV header from the first bytes of a file. It
// returns errShortWAV when b ends before the data chunk begins, and an
// error matching ErrBadAudio when b is not a WAV file it can describe.
func parseWAVHeader(b []byte) (wavHeader, error) {
	var h wavHeader
	if len(b) < 12 {
		return h, errShortWAV
	}
	if string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return h, fmt.Errorf("%w: not a RIFF WAVE file", ErrBadAudio)
	}
	off := int64(12)
	haveFmt := false
	for {
		if int64(len(b)) < off+8 {
			return h, errShortWAV
		}
		id := string(b[off : off+4])
		size := int64(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := off + 8
		switch id {
		case "fmt ":
			if size < 16 {
				return h, fmt.Errorf("%w: fmt chunk of %d bytes", ErrBadAudio, size)
			}
			if int64(len(b)) < body+min(size, 40) {
				return h, errShortWAV
			}
			if err := h.parseFmt(b[body:min(body+size, int64(len(b)))]); err != nil {
				return h, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return h, fmt.Errorf("%w: data chunk before fmt chunk", ErrBadAudio)
			}
			h.dataOffset = body
			h.dataSize = size
			if size == 0 || size == 0xFFFFFFFF {
				h.dataSize = -1
			}
			return h, nil
		}
		if size > maxChunkSkip && id != "data" {
			return h, fmt.Errorf("%w: %q chunk of %d bytes", ErrBadAudio, id, size)
		}
		off = body + size + size&1
	}
}

func (h *wavHeader) parseFmt(f []byte) error {
	code := binary.LittleEndian.Uint16(f[0:2])
	channels := int(binary.LittleEndian.Uint16(f[2:4]))
	rate := int(binary.LittleEndian.Uint32(f[4:8]))
	h.blockAlign = int(binary.LittleEndian.Uint16(f[12:14]))
	bits := int(binary.LittleEndian.Uint16(f[14:16]))
	if code == waveExtensible && len(f) >= 26 {
		code = binary.LittleEndian.Uint16(f[24:26]) // first two bytes of the sub-format GUID
	}
	if channels < 1 || channels > 8 || rate < 1 || rate > 384000 || h.blockAlign < 1 {
		return fmt.Errorf("%w: fmt chunk: %d channels, %d Hz, block %d", ErrBadAudio, channels, rate, h.blockAlign)
	}
	h.format.Codec = code
	h.format.Channels = channels
	h.format.SampleRate = rate
	h.format.BitsPerSample = bits
	switch code {
	case wavePCM:
		h.format.Encoding = EncodingPCM
		if bits != 8 && bits != 16 && bits != 24 && bits != 32 {
			return fmt.Errorf("%w: PCM with %d bits per sample", ErrBadAudio, bits)
		}
		if h.blockAlign != channels*bits/8 {
			return fmt.Errorf("%w: PCM block align %d for %d channels of %d bits", ErrBadAudio, h.blockAlign, channels, bits)
		}
	case waveMuLaw, waveALaw:
		h.format.Encoding = EncodingMuLaw
		if code == waveALaw {
			h.format.Encoding = EncodingALaw
		}
		if bits != 8 || h.blockAlign != channels {
			return fmt.Errorf("%w: G.711 with %d bits per sample, block %d", ErrBadAudio, bits, h.blockAlign)
		}
	default:
		h.format.Encoding = EncodingOther
	}
	return nil
}

// Decoder reads a WAV stream and yields linear 16-bit PCM samples,
// decoding G.711 µ-law and A-law and converting 8, 24 and 32-bit PCM.
// It reads its source sequentially and holds only a small buffer, so a
// message's audio is never all in memory. It is not safe for concurrent
// use.
type Decoder struct {
	r      *bufio.Reader
	h      wavHeader
	remain int64 // bytes of sample data left; -1 means until EOF
	frame  []byte
}

// NewDecoder reads the WAV header from r. Errors match ErrBadAudio when r
// is not a WAV file of a codec the decoder handles.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d, err := newDecoder(r)
	if err != nil {
		return nil, fmt.Errorf("voicemail: decode: %w", err)
	}
	return d, nil
}

// newDecoder is NewDecoder with errors unprefixed, for callers that wrap
// them in their own context.
func newDecoder(r io.Reader) (*Decoder, error) {
	br := bufio.NewReaderSize(r, 4096)
	// Grow the peek window until the header is complete.
	for n := 64; ; n *= 2 {
		b, err := br.Peek(n)
		h, herr := parseWAVHeader(b)
		if herr == nil {
			if _, err := br.Discard(int(h.dataOffset)); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadAudio, err)
			}
			if h.format.Encoding == EncodingOther || h.format.Encoding == EncodingUnknown {
				return nil, fmt.Errorf("%w: codec 0x%04x not supported", ErrBadAudio, h.format.Codec)
			}
			return &Decoder{r: br, h: h, remain: h.dataSize, frame: make([]byte, 0, 4096)}, nil
		}
		if !errors.Is(herr, errShortWAV) {
			return nil, herr
		}
		if err != nil || n >= br.Size() {
			if n >= br.Size() && err == nil {
				// The header is larger than the buffer: read it in one go.
				return newDecoderLargeHeader(br)
			}
			return nil, fmt.Errorf("%w: truncated header", ErrBadAudio)
		}
	}
}

// newDecoderLargeHeader handles files whose chunks before the data (LIST,
// bext…) exceed the peek buffer, by reading up to maxChunkSkip bytes.
func newDecoderLargeHeader(br *bufio.Reader) (*Decoder, error) {
	var buf []byte
	chunk := make([]byte, 4096)
	for len(buf) < maxChunkSkip+64 {
		n, err := br.Read(chunk)
		buf = append(buf, chunk[:n]...)
		h, herr := parseWAVHeader(buf)
		if herr == nil {
			rest := io.MultiReader(bytesReader(buf[h.dataOffset:]), br)
			if h.format.Encoding == EncodingOther || h.format.Encoding == EncodingUnknown {
				return nil, fmt.Errorf("%w: codec 0x%04x not supported", ErrBadAudio, h.format.Codec)
			}
			return &Decoder{r: bufio.NewReaderSize(rest, 4096), h: h, remain: h.dataSize, frame: make([]byte, 0, 4096)}, nil
		}
		if !errors.Is(herr, errShortWAV) {
			return nil, herr
		}
		if err != nil {
			return nil, fmt.Errorf("%w: truncated header", ErrBadAudio)
		}
	}
	return nil, fmt.Errorf("%w: header too large", ErrBadAudio)
}

// Format returns the stream's format.
func (d *Decoder) Format() AudioFormat { return d.h.format }

// Duration returns the playing time the header announces, or 0 when it
// does not say.
func (d *Decoder) Duration() time.Duration { return d.h.duration(d.h.dataSize) }

// SampleRate returns the samples per second per channel.
func (d *Decoder) SampleRate() int { return d.h.format.SampleRate }

// Channels returns the number of interleaved channels.
func (d *Decoder) Channels() int { return d.h.format.Channels }

// ReadSamples decodes up to len(dst) samples (interleaved when there is
// more than one channel) and returns how many it wrote. At the end of the
// data it returns 0, io.EOF; a stream cut inside the data gives
// io.ErrUnexpectedEOF once the whole frames before the cut are returned.
func (d *Decoder) ReadSamples(dst []int16) (int, error) {
	bps := d.h.blockAlign / d.h.format.Channels // bytes per sample
	want := len(dst) * bps
	if d.remain >= 0 && int64(want) > d.remain {
		want = int(d.remain)
	}
	want -= want % d.h.blockAlign
	if want == 0 {
		if len(dst) < d.h.format.Channels {
			return 0, io.ErrShortBuffer
		}
		return 0, io.EOF
	}
	if cap(d.frame) < want {
		d.frame = make([]byte, want)
	}
	buf := d.frame[:want]
	n, err := io.ReadFull(d.r, buf)
	n -= n % d.h.blockAlign
	if d.remain >= 0 {
		d.remain -= int64(n)
	}
	switch {
	case err == io.EOF && d.remain > 0:
		// The header announced more than the stream holds.
		return 0, io.ErrUnexpectedEOF
	case err == io.EOF || (err == io.ErrUnexpectedEOF && d.remain < 0):
		// Without an announced size the data simply ends at EOF.
		if n == 0 {
			return 0, io.EOF
		}
		err = nil
		d.remain = 0
	case err == io.ErrUnexpectedEOF:
		if n == 0 {
			return 0, err
		}
		err = nil
	case err != nil:
		return 0, err
	}
	return decodeSamples(dst, buf[:n], d.h.format.Encoding, bps), err
}

func decodeSamples(dst []int16, b []byte, enc Encoding, bps int) int {
	n := len(b) / bps
	switch {
	case enc == EncodingMuLaw:
		for i, c := range b[:n] {
			dst[i] = muLawTable[c]
		}
	case enc == EncodingALaw:
		for i, c := range b[:n] {
			dst[i] = aLawTable[c]
		}
	case bps == 1: // 8-bit PCM is unsigned
		for i, c := range b[:n] {
			dst[i] = int16(int(c)-128) << 8
		}
	default: // little-endian signed; keep the top 16 bits
		for i := range n {
			s := b[i*bps+bps-2 : i*bps+bps]
			dst[i] = int16(binary.LittleEndian.Uint16(s))
		}
	}
	return n
}

// AudioStats summarises decoded audio.
type AudioStats struct {
	Format   AudioFormat
	Samples  int64 // per channel
	Duration time.Duration
	Peak     float64 // largest absolute sample, 0 to 1
	RMS      float64 // 0 to 1
}

// Measure decodes the whole stream and reports its length and levels.
func Measure(d *Decoder) (AudioStats, error) {
	st := AudioStats{Format: d.Format()}
	buf := make([]int16, 4096)
	var total int64
	var sum float64
	peak := 0
	for {
		n, err := d.ReadSamples(buf)
		for _, s := range buf[:n] {
			v := int(s)
			if v < 0 {
				v = -v
			}
			peak = max(peak, v)
			f := float64(s)
			sum += f * f
		}
		total += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, err
		}
	}
	ch := int64(d.Channels())
	st.Samples = total / ch
	st.Duration = time.Duration(st.Samples) * time.Second / time.Duration(d.SampleRate())
	st.Peak = float64(peak) / 32768
	if total > 0 {
		st.RMS = math.Sqrt(sum/float64(total)) / 32768
	}
	return st, nil
}

// WriteWAV writes everything d decodes to w as a 16-bit PCM WAV file, the
// format every player reads, and returns the bytes written. When the
// source announces its size the file is streamed; otherwise, if w is an
// io.WriteSeeker the header is patched at the end, else the samples are
// buffered to learn their size.
func WriteWAV(w io.Writer, d *Decoder) (int64, error) {
	ch := d.Channels()
	if d.h.dataSize >= 0 {
		frames := d.h.dataSize / int64(d.h.blockAlign)
		return writeWAVStream(w, d, frames*int64(ch)*2, ch)
	}
	if ws, ok := w.(io.WriteSeeker); ok {
		start, err := ws.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, err
		}
		n, err := writeWAVStream(ws, d, 0, ch)
		if err != nil {
			return n, err
		}
		if _, err := ws.Seek(start, io.SeekStart); err != nil {
			return n, err
		}
		if _, err := ws.Write(wavPCM16Header(d.SampleRate(), ch, n-44)); err != nil {
			return n, err
		}
		_, err = ws.Seek(start+n, io.SeekStart)
		return n, err
	}
	var data []byte
	buf := make([]int16, 4096)
	for {
		n, err := d.ReadSamples(buf)
		for _, s := range buf[:n] {
			data = binary.LittleEndian.AppendUint16(data, uint16(s))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	n1, err := w.Write(wavPCM16Header(d.SampleRate(), ch, int64(len(data))))
	if err != nil {
		return int64(n1), err
	}
	n2, err := w.Write(data)
	return int64(n1 + n2), err
}

// writeWAVStream writes a header announcing size bytes, then the samples.
// A source shorter than announced is an error (the file would lie).
func writeWAVStream(w io.Writer, d *Decoder, size int64, ch int) (int64, error) {
	n, err := w.Write(wavPCM16Header(d.SampleRate(), ch, size))
	written := int64(n)
	if err != nil {
		return written, err
	}
	buf := make([]int16, 4096)
	out := make([]byte, 0, 8192)
	var data int64
	for {
		k, rerr := d.ReadSamples(buf)
		out = out[:0]
		for _, s := range buf[:k] {
			out = binary.LittleEndian.AppendUint16(out, uint16(s))
		}
		m, err := w.Write(out)
		written += int64(m)
		data += int64(m)
		if err != nil {
			return written, err
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return written, rerr
		}
	}
	if size > 0 && data != size {
		return written, fmt.Errorf("%w: audio ended after %d of %d bytes", ErrBadAudio, data, size)
	}
	return written, nil
}

// wavPCM16Header returns a 44-byte canonical WAV header.
func wavPCM16Header(rate, channels int, dataSize int64) []byte {
	b := make([]byte, 0, 44)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(36+dataSize))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, wavePCM)
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*channels*2))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels*2))
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(dataSize))
	return b
}

// G.711 expansion tables (ITU-T G.711), filled at init.
var muLawTable, aLawTable [256]int16

func init() {
	for i := range 256 {
		muLawTable[i] = decodeMuLaw(byte(i))
		aLawTable[i] = decodeALaw(byte(i))
	}
}

func decodeMuLaw(u byte) int16 {
	u = ^u
	t := (int(u&0x0f) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

func decodeALaw(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0f) << 4
	seg := int(a&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}
