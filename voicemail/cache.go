package voicemail

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The cache file is a compact binary record of the list, not JSON: a
// restart reads it before anything else, and encoding/json took 35 ms for
// 10,000 messages on a quiet machine (75–85 ms on a busy one), against a
// 50 ms budget. The format:
//
//	magic "OCSFVMC\n", version uvarint, the server, user and folder as
//	strings, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and the message count as
//	uvarints; then per message the fields below in order; last, the
//	CRC-32 (IEEE) of everything before it, 4 bytes little-endian.
//
// A string is its length (uvarint) and bytes. The strings of a loaded
// list are carved from one copy of the file, so loading allocates a few
// large blocks rather than several objects per message.

// cacheMagic starts every cache file.
const cacheMagic = "OCSFVMC\n"

// cacheVersion changes when the file's meaning changes; other versions
// (and JSON files of version 1) are ignored, and the list is read afresh.
const cacheVersion = 2

// The flags byte of a cached message.
const (
	cacheUrgent = 1 << iota
	cachePrivate
	cacheHeard
	cacheDeleted
	cacheHasAudio
	cacheNoAudio  // Err wraps ErrNoAudio
	cacheBadAudio // Err wraps ErrBadAudio
	cacheHasErr
)

// Bounds that keep a corrupt or hostile file from asking for absurd
// allocations: the count is also bounded by the file's size.
const (
	maxCachePath = 64 // MIME part path depth
)

// cachedError restores a message error from the cache, keeping its
// sentinel so errors.Is still works.
type cachedError struct {
	msg  string
	kind error
}

func (e *cachedError) Error() string { return e.msg }
func (e *cachedError) Unwrap() error { return e.kind }

// saveCache writes the snapshot atomically (temporary file, then rename),
// readable by the user only: it names callers.
func saveCache(path string, cfg Config, s *Snapshot) error {
	data := encodeCache(cfg, s)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("voicemail: save cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".voicemail-cache-*")
	if err != nil {
		return fmt.Errorf("voicemail: save cache: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("voicemail: save cache: %w", werr)
	}
	return nil
}

// loadCache reads a snapshot saved for the same server, user and folder.
// A missing file, or one of another version or account, gives nil, nil; a
// corrupt one an error naming where (the caller then lists afresh).
func loadCache(path string, cfg Config) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("voicemail: load cache: %w", err)
	}
	s, err := decodeCache(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("voicemail: load cache %s: %w", path, err)
	}
	return s, nil
}

// encodeCache is the file's bytes for s.
func encodeCache(cfg Config, s *Snapshot) []byte {
	b := make([]byte, 0, 64+len(s.Messages)*96)
	b = append(b, cacheMagic...)
	b = binary.AppendUvarint(b, cacheVersion)
	b = appendString(b, cfg.Server)
	b = appendString(b, cfg.UserName)
	b = appendString(b, cfg.Folder)
	b = binary.AppendUvarint(b, uint64(s.UIDValidity))
	b = binary.AppendUvarint(b, uint64(s.UIDNext))
	b = binary.AppendUvarint(b, s.HighestModSeq)
	b = binary.AppendUvarint(b, uint64(len(s.Messages)))
	for i := range s.Messages {
		b = appendCached(b, &s.Messages[i])
	}
	return encodeSealed(b)
}

// encodeSealed appends b's checksum.
func encodeSealed(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// appendCached appends one message: ID, flags, the three strings, the
// date (Unix seconds, nanoseconds, zone offset in seconds), duration,
// size, audio size, the format (MIME type, encoding, rate, channels, bits,
// codec), the MIME part path, the transfer encoding, the error text when
// the flags say there is one, and the modification sequence.
func appendCached(b []byte, v *Voicemail) []byte {
	b = binary.AppendUvarint(b, uint64(v.ID))
	var flags byte
	for _, f := range [...]struct {
		on  bool
		bit byte
	}{{v.Urgent, cacheUrgent}, {v.Private, cachePrivate}, {v.Heard, cacheHeard}, {v.Deleted, cacheDeleted},
		{v.HasAudio, cacheHasAudio}, {v.Err != nil, cacheHasErr},
		{errors.Is(v.Err, ErrNoAudio), cacheNoAudio}, {errors.Is(v.Err, ErrBadAudio), cacheBadAudio}} {
		if f.on {
			flags |= f.bit
		}
	}
	b = append(b, flags)
	b = appendString(b, v.CallerName)
	b = appendString(b, v.CallerNumber)
	b = appendString(b, v.Subject)
	_, offset := v.Date.Zone()
	b = binary.AppendVarint(b, v.Date.Unix())
	b = binary.AppendUvarint(b, uint64(v.Date.Nanosecond()))
	b = binary.AppendVarint(b, int64(offset))
	b = binary.AppendVarint(b, int64(v.Duration))
	b = binary.AppendVarint(b, v.Size)
	b = binary.AppendVarint(b, v.AudioSize)
	f := &v.Format
	b = appendString(b, f.MIMEType)
	b = binary.AppendVarint(b, int64(f.Encoding))
	b = binary.AppendVarint(b, int64(f.SampleRate))
	b = binary.AppendVarint(b, int64(f.Channels))
	b = binary.AppendVarint(b, int64(f.BitsPerSample))
	b = binary.AppendUvarint(b, uint64(f.Codec))
	b = binary.AppendUvarint(b, uint64(len(v.part)))
	for _, p := range v.part {
		b = binary.AppendVarint(b, int64(p))
	}
	b = appendString(b, v.encoding)
	if v.Err != nil {
		b = appendString(b, v.Err.Error())
	}
	return binary.AppendUvarint(b, v.modSeq)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errCacheCorrupt is wrapped by the errors of a cache file that cannot be
// read.
var errCacheCorrupt = errors.New("corrupt cache file")

// decodeCache reads data as encodeCache wrote it for cfg's account; nil,
// nil for another version or account.
func decodeCache(data []byte, cfg Config) (*Snapshot, error) {
	if len(data) < len(cacheMagic) || string(data[:len(cacheMagic)]) != cacheMagic {
		return nil, nil // not ours, or the JSON of version 1
	}
	if len(data) < len(cacheMagic)+4 {
		return nil, fmt.Errorf("%w: %d bytes", errCacheCorrupt, len(data))
	}
	body := data[:len(data)-4]
	if got, want := crc32.ChecksumIEEE(body), binary.LittleEndian.Uint32(data[len(body):]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, file says %08x", errCacheCorrupt, got, want)
	}
	// One string holds every string of the list (see the format above).
	r := cacheReader{data: body, text: string(body), pos: len(cacheMagic)}
	if v := r.uvarint(); r.err != nil || v != cacheVersion {
		return nil, r.err
	}
	if r.str() != cfg.Server || r.str() != cfg.UserName || r.str() != cfg.Folder || r.err != nil {
		return nil, r.err
	}
	s := &Snapshot{UIDValidity: r.uint32(), UIDNext: r.uint32(), HighestModSeq: r.uvarint()}
	n := r.uvarint()
	// Each message takes at least 20 bytes: a count beyond that is a lie.
	if r.err == nil && n > uint64(len(r.text)-r.pos)/20 {
		r.fail("%d messages in %d bytes", n, len(r.text)-r.pos)
	}
	if r.err != nil {
		return nil, r.err
	}
	s.Messages = make([]Voicemail, n)
	for i := range s.Messages {
		r.message(&s.Messages[i])
		if r.err != nil {
			return nil, fmt.Errorf("message %d of %d: %w", i+1, n, r.err)
		}
	}
	if r.pos != len(r.text) {
		return nil, fmt.Errorf("%w: %d bytes after the last message", errCacheCorrupt, len(r.text)-r.pos)
	}
	sortByID(s.Messages)
	return s, nil
}

// cacheReader reads the fields of a cache file; the first error sticks
// and names the offset.
type cacheReader struct {
	data     []byte // the file's body, for numbers
	text     string // the same bytes, for the strings the list keeps
	pos      int
	err      error
	lastPart []int // the last MIME part path read: a list repeats it
}

func (r *cacheReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at byte %d: %s", errCacheCorrupt, r.pos, fmt.Sprintf(format, args...))
	}
}

func (r *cacheReader) uvarint() uint64 { return readNumber(r, binary.Uvarint) }
func (r *cacheReader) varint() int64   { return readNumber(r, binary.Varint) }

// readNumber reads one number at pos with read (binary.Uvarint or
// binary.Varint).
func readNumber[T uint64 | int64](r *cacheReader, read func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := read(r.data[r.pos:])
	if n <= 0 {
		r.fail("bad number")
		return 0
	}
	r.pos += n
	return v
}

// int reads a varint that must fit an int32 (sizes, rates, counts).
func (r *cacheReader) int() int {
	v := r.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.fail("number %d out of range", v)
		return 0
	}
	return int(v)
}

func (r *cacheReader) uint32() uint32 {
	v := r.uvarint()
	if v > math.MaxUint32 {
		r.fail("number %d out of range", v)
		return 0
	}
	return uint32(v)
}

func (r *cacheReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.text)-r.pos) {
		r.fail("string of %d bytes, %d left", n, len(r.text)-r.pos)
		return ""
	}
	s := r.text[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

func (r *cacheReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.text) {
		r.fail("truncated")
		return 0
	}
	r.pos++
	return r.text[r.pos-1]
}

// message reads one message as appendCached wrote it.
func (r *cacheReader) message(v *Voicemail) {
	v.ID = ID(r.uint32())
	flags := r.byte()
	v.Urgent, v.Private = flags&cacheUrgent != 0, flags&cachePrivate != 0
	v.Heard, v.Deleted = flags&cacheHeard != 0, flags&cacheDeleted != 0
	v.HasAudio = flags&cacheHasAudio != 0
	v.CallerName, v.CallerNumber, v.Subject = r.str(), r.str(), r.str()
	sec, nsec, offset := r.varint(), r.uvarint(), r.varint()
	if nsec >= 1e9 || offset <= -86400 || offset >= 86400 {
		r.fail("bad date")
		return
	}
	v.Date = inZone(time.Unix(sec, int64(nsec)), int(offset))
	v.Duration = time.Duration(r.varint())
	v.Size, v.AudioSize = r.varint(), r.varint()
	f := &v.Format
	f.MIMEType = r.str()
	f.Encoding = Encoding(r.int())
	f.SampleRate, f.Channels, f.BitsPerSample = r.int(), r.int(), r.int()
	codec := r.uvarint()
	if codec > math.MaxUint16 {
		r.fail("codec %d out of range", codec)
	}
	f.Codec = uint16(codec)
	depth := r.uvarint()
	if depth > maxCachePath {
		r.fail("MIME part path of %d levels", depth)
		return
	}
	var buf [maxCachePath]int // on the stack: only a new path is copied out
	read := buf[:0]
	for range depth {
		read = append(read, r.int())
	}
	switch {
	case len(read) == 0:
	case slices.Equal(read, r.lastPart):
		v.part = r.lastPart // shared, as a listing shares it
	default:
		v.part = slices.Clone(read)
		r.lastPart = v.part
	}
	v.encoding = r.str()
	if flags&cacheHasErr != 0 {
		e := &cachedError{msg: r.str()}
		switch {
		case flags&cacheNoAudio != 0:
			e.kind = ErrNoAudio
		case flags&cacheBadAudio != 0:
			e.kind = ErrBadAudio
		}
		v.Err = e
	}
	v.modSeq = r.uvarint()
}
