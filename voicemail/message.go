package voicemail

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
)

// MaxAudioSize bounds the audio ParseMessage keeps in memory: an absurd
// size is an error for that message, not an exhausted process.
const MaxAudioSize = 64 << 20

// maxDepth bounds MIME nesting.
const maxDepth = 16

// ParseMessage reads a whole message as a voicemail system writes it
// (RFC 5322 with MIME parts: .eml files, a message saved from a server)
// and returns its metadata and the audio file, transfer encoding undone.
// It applies the same rules as [Conn.List]. A message without audio gives
// the metadata, nil audio and an error matching ErrNoAudio; malformed
// MIME gives the metadata read so far and an error saying where. Unlike a
// listed message's, the Err set here is not a *MessageError (there is no
// ID); it matches ErrBadAudio when the audio is unreadable.
func ParseMessage(r io.Reader) (Voicemail, []byte, error) {
	var v Voicemail
	msg, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return v, nil, fmt.Errorf("voicemail: parse message: %w", err)
	}
	h := textproto.MIMEHeader(msg.Header)
	meta := metaOf(h)
	v.CallerName, v.CallerNumber, v.Subject = meta.CallerName, meta.CallerNumber, meta.Subject
	v.Date, v.Duration, v.Urgent, v.Private = meta.Date, meta.Duration, meta.Urgent, meta.Private
	p := &partFinder{}
	if err := p.walk(h, msg.Body, nil, 0); err != nil && p.audio == nil {
		return v, nil, fmt.Errorf("voicemail: parse message: %w", err)
	}
	if p.audio == nil {
		v.Err = ErrNoAudio
		return v, nil, fmt.Errorf("voicemail: parse message: %w", ErrNoAudio)
	}
	v.HasAudio = true
	v.part = p.path
	v.encoding = p.encoding
	v.Format.MIMEType = p.mediaType
	v.AudioSize = int64(len(p.audio))
	if v.Duration == 0 {
		if d, ok := parseDurationHeader(p.header.Get("Content-Duration")); ok {
			v.Duration = d
		}
	}
	if v.isWAV() {
		wh, err := parseWAVHeader(p.audio)
		switch {
		case err == nil:
			mt := v.Format.MIMEType
			v.Format = wh.format
			v.Format.MIMEType = mt
			if v.Duration == 0 {
				size := wh.dataSize
				if size < 0 || wh.dataOffset+size > int64(len(p.audio)) {
					size = int64(len(p.audio)) - wh.dataOffset
				}
				v.Duration = wh.duration(size)
			}
		case errors.Is(err, errShortWAV):
			v.Err = fmt.Errorf("%w: truncated header", ErrBadAudio)
		default:
			v.Err = err
		}
	}
	if v.Err != nil {
		return v, p.audio, fmt.Errorf("voicemail: parse message: %w", v.Err)
	}
	return v, p.audio, nil
}

type partFinder struct {
	audio     []byte
	path      []int
	header    textproto.MIMEHeader
	encoding  string
	mediaType string
	fallback  bool // audio holds a .wav attachment not typed audio/*
}

// walk visits a part; it stops at the first audio/* part, remembering a
// .wav attachment typed otherwise as a fallback.
func (p *partFinder) walk(h textproto.MIMEHeader, body io.Reader, path []int, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("part %s: nested deeper than %d", partString(path), maxDepth)
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		// RFC 2045 section 5.2: a bad Content-Type means text/plain.
		mt, params = "text/plain", nil
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("part %s: multipart without boundary", partString(path))
		}
		mr := multipart.NewReader(body, boundary)
		for i := 1; ; i++ {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("part %s: %w", partString(append(path, i)), err)
			}
			err = p.walk(part.Header, part, append(append([]int(nil), path...), i), depth+1)
			if p.audio != nil && !p.fallback {
				return nil
			}
			if err != nil {
				return err
			}
		}
	case mt == "message/rfc822":
		inner, err := mail.ReadMessage(bufio.NewReader(body))
		if err != nil {
			return fmt.Errorf("part %s: %w", partString(path), err)
		}
		ih := textproto.MIMEHeader(inner.Header)
		if !strings.HasPrefix(strings.ToLower(ih.Get("Content-Type")), "multipart/") {
			path = append(append([]int(nil), path...), 1)
		}
		return p.walk(ih, inner.Body, path, depth+1)
	}
	isAudio := strings.HasPrefix(mt, "audio/")
	_, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if !isAudio && (!isWAVName(name) || p.audio != nil) {
		return nil
	}
	if len(path) == 0 {
		path = []int{1}
	}
	enc := h.Get("Content-Transfer-Encoding")
	data, err := io.ReadAll(io.LimitReader(decodeTransfer(body, enc), MaxAudioSize+1))
	if err != nil {
		return fmt.Errorf("part %s: %w", partString(path), err)
	}
	if len(data) > MaxAudioSize {
		return fmt.Errorf("part %s: audio larger than %d bytes", partString(path), MaxAudioSize)
	}
	p.audio, p.path, p.header, p.encoding, p.mediaType, p.fallback = data, path, h, enc, mt, !isAudio
	return nil
}
