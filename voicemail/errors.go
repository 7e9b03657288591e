package voicemail

import (
	"errors"
	"fmt"
)

// Errors callers can match with errors.Is. They come wrapped with what was
// being done ("voicemail: fetch audio 7: message not found").
var (
	// ErrNoMailbox means the configured folder does not exist on the server.
	ErrNoMailbox = errors.New("folder not found")
	// ErrNotFound means no message has the given ID (it was deleted, or the
	// folder's UIDVALIDITY changed and the ID belongs to the old one).
	ErrNotFound = errors.New("message not found")
	// ErrNoAudio means a message carries no audio part the client can read.
	ErrNoAudio = errors.New("message has no audio")
	// ErrBadAudio means the audio part is not a WAV file the decoder accepts
	// (not RIFF/WAVE, an unsupported codec, or a truncated header).
	ErrBadAudio = errors.New("unreadable audio")
	// ErrNoTrash means Undelete was called but the server has no Trash folder.
	ErrNoTrash = errors.New("no Trash folder")
	// ErrNotStarted means a Mailbox method that needs the server was called
	// before Start or after Close.
	ErrNotStarted = errors.New("not started")
)

// MessageError is a problem with one message; the others are unaffected.
// It is what [Voicemail.Err] holds. It matches ErrNoAudio and ErrBadAudio
// through Unwrap.
type MessageError struct {
	ID  ID
	Err error
}

func (e *MessageError) Error() string { return fmt.Sprintf("voicemail: message %d: %v", e.ID, e.Err) }

// Unwrap returns the cause.
func (e *MessageError) Unwrap() error { return e.Err }

// AuthError is a login refused by the server.
type AuthError struct {
	User string
	Err  error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("voicemail: login as %s refused: %v", e.User, e.Err)
}

// Unwrap returns the server's answer.
func (e *AuthError) Unwrap() error { return e.Err }
