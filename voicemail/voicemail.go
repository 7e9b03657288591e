package voicemail

import (
	"fmt"
	"strconv"
	"time"
)

// ID names a voice message within one folder: its IMAP UID. IDs stay valid
// across sessions until the folder's UIDVALIDITY changes (see
// [Snapshot.UIDValidity]).
type ID uint32

// String returns the decimal UID.
func (id ID) String() string { return strconv.FormatUint(uint64(id), 10) }

// ParseID parses the decimal form [ID.String] returns.
func ParseID(s string) (ID, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("voicemail: bad message id %q", s)
	}
	return ID(n), nil
}

// Encoding is how audio samples are stored.
type Encoding int

// Audio encodings found in voicemail WAV files.
const (
	EncodingUnknown Encoding = iota // not (yet) known: header not read, or not a WAV
	EncodingPCM                     // linear PCM, 8 or 16 bits (WAVE_FORMAT_PCM)
	EncodingMuLaw                   // G.711 µ-law (WAVE_FORMAT_MULAW, 7)
	EncodingALaw                    // G.711 A-law (WAVE_FORMAT_ALAW, 6)
	EncodingOther                   // a WAV codec the decoder does not handle (GSM 6.10, G.729…)
)

var encodingNames = [...]string{"unknown", "pcm", "ulaw", "alaw", "other"}

func (e Encoding) String() string {
	if int(e) < len(encodingNames) {
		return encodingNames[e]
	}
	return "unknown"
}

// AudioFormat describes a message's audio part. Fields not known are zero:
// the header-derived ones (Encoding, SampleRate, Channels, BitsPerSample)
// are filled in once the start of the audio has been read.
type AudioFormat struct {
	MIMEType      string // as sent, lower case: "audio/wav", "audio/x-wav"…
	Encoding      Encoding
	SampleRate    int // samples per second per channel
	Channels      int
	BitsPerSample int // bits per stored sample: 16 for PCM16, 8 for G.711
	Codec         uint16
}

// String gives a short form such as "audio/wav ulaw 8000Hz mono", or "" when
// nothing is known.
func (f AudioFormat) String() string {
	if f.MIMEType == "" && f.Encoding == EncodingUnknown {
		return ""
	}
	s := f.MIMEType
	if f.Encoding != EncodingUnknown {
		enc := f.Encoding.String()
		if f.Encoding == EncodingPCM {
			enc = "pcm" + strconv.Itoa(f.BitsPerSample)
		}
		if f.Encoding == EncodingOther {
			enc = fmt.Sprintf("codec-0x%04x", f.Codec)
		}
		s += " " + enc
		if f.SampleRate > 0 {
			s += " " + strconv.Itoa(f.SampleRate) + "Hz"
		}
		switch f.Channels {
		case 0:
		case 1:
			s += " mono"
		case 2:
			s += " stereo"
		default:
			s += " " + strconv.Itoa(f.Channels) + "ch"
		}
	}
	if s != "" && s[0] == ' ' {
		s = s[1:]
	}
	return s
}

// Voicemail is one voice message as listed: what a visual voicemail screen
// shows. A message that could not be read still appears, with Err set.
type Voicemail struct {
	ID ID
	// CallerName and CallerNumber come from caller-ID headers
	// (X-CallerID, X-Asterisk-CallerID…) or else the From header's display
	// name and address; either may be empty.
	CallerName   string
	CallerNumber string
	Subject      string
	// Date is the Date header, or the server's arrival time when the header
	// is missing or bad.
	Date time.Time
	// Duration comes from a Content-Duration (RFC 3803) or similar header,
	// else from the WAV header; 0 when unknown.
	Duration time.Duration
	Urgent   bool // Importance: high, Priority: urgent, X-Priority 1 or 2
	Private  bool // Sensitivity: private
	Heard    bool // \Seen (OMTP visual voicemail maps heard to \Seen)
	Deleted  bool // \Deleted set but not yet expunged
	Size     int64
	// HasAudio is false for a message without an audio part; such a message
	// is listed (with Err matching ErrNoAudio), never dropped.
	HasAudio bool
	Format   AudioFormat
	// AudioSize is the encoded size of the audio part in bytes.
	AudioSize int64
	// Err is a problem with this message only, a *MessageError; nil when
	// it was read completely.
	Err error

	part     []int  // MIME part path of the audio, IMAP numbering
	encoding string // the audio part's Content-Transfer-Encoding
	modSeq   uint64
}

// Unheard counts the messages not yet heard, ignoring ones flagged deleted.
func Unheard(list []Voicemail) int {
	n := 0
	for i := range list {
		if !list[i].Heard && !list[i].Deleted {
			n++
		}
	}
	return n
}
