package voicemail

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// cacheVersion changes when the file's meaning changes; other versions are
// ignored.
const cacheVersion = 1

type cacheFile struct {
	Version       int          `json:"version"`
	Server        string       `json:"server"`
	User          string       `json:"user"`
	Folder        string       `json:"folder"`
	UIDValidity   uint32       `json:"uidvalidity"`
	UIDNext       uint32       `json:"uidnext"`
	HighestModSeq uint64       `json:"highestmodseq,omitempty"`
	Messages      []cacheEntry `json:"messages"`
}

type cacheEntry struct {
	ID           ID            `json:"id"`
	CallerName   string        `json:"caller_name,omitempty"`
	CallerNumber string        `json:"caller_number,omitempty"`
	Subject      string        `json:"subject,omitempty"`
	Date         time.Time     `json:"date"`
	Duration     time.Duration `json:"duration,omitempty"`
	Urgent       bool          `json:"urgent,omitempty"`
	Private      bool          `json:"private,omitempty"`
	Heard        bool          `json:"heard,omitempty"`
	Deleted      bool          `json:"deleted,omitempty"`
	Size         int64         `json:"size"`
	HasAudio     bool          `json:"has_audio,omitempty"`
	Format       AudioFormat   `json:"format"`
	AudioSize    int64         `json:"audio_size,omitempty"`
	Err          string        `json:"error,omitempty"`
	NoAudio      bool          `json:"no_audio,omitempty"`
	BadAudio     bool          `json:"bad_audio,omitempty"`
	Part         []int         `json:"part,omitempty"`
	Encoding     string        `json:"encoding,omitempty"`
}

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
	f := cacheFile{Version: cacheVersion, Server: cfg.Server, User: cfg.UserName, Folder: cfg.Folder,
		UIDValidity: s.UIDValidity, UIDNext: s.UIDNext, HighestModSeq: s.HighestModSeq,
		Messages: make([]cacheEntry, len(s.Messages))}
	for i, v := range s.Messages {
		e := cacheEntry{ID: v.ID, CallerName: v.CallerName, CallerNumber: v.CallerNumber, Subject: v.Subject,
			Date: v.Date, Duration: v.Duration, Urgent: v.Urgent, Private: v.Private, Heard: v.Heard,
			Deleted: v.Deleted, Size: v.Size, HasAudio: v.HasAudio, Format: v.Format, AudioSize: v.AudioSize,
			Part: v.part, Encoding: v.encoding}
		if v.Err != nil {
			e.Err = v.Err.Error()
			e.NoAudio = errors.Is(v.Err, ErrNoAudio)
			e.BadAudio = errors.Is(v.Err, ErrBadAudio)
		}
		f.Messages[i] = e
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("voicemail: save cache: %w", err)
	}
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
// A missing file gives nil, nil; a corrupt one an error (the caller then
// lists afresh).
func loadCache(path string, cfg Config) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("voicemail: load cache: %w", err)
	}
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("voicemail: load cache %s: %w", path, err)
	}
	if f.Version != cacheVersion || f.Server != cfg.Server || f.User != cfg.UserName || f.Folder != cfg.Folder {
		return nil, nil
	}
	s := &Snapshot{UIDValidity: f.UIDValidity, UIDNext: f.UIDNext, HighestModSeq: f.HighestModSeq,
		Messages: make([]Voicemail, len(f.Messages))}
	for i, e := range f.Messages {
		v := Voicemail{ID: e.ID, CallerName: e.CallerName, CallerNumber: e.CallerNumber, Subject: e.Subject,
			Date: e.Date, Duration: e.Duration, Urgent: e.Urgent, Private: e.Private, Heard: e.Heard,
			Deleted: e.Deleted, Size: e.Size, HasAudio: e.HasAudio, Format: e.Format, AudioSize: e.AudioSize,
			part: e.Part, encoding: e.Encoding}
		if e.Err != "" {
			var kind error
			switch {
			case e.NoAudio:
				kind = ErrNoAudio
			case e.BadAudio:
				kind = ErrBadAudio
			}
			v.Err = &cachedError{msg: e.Err, kind: kind}
		}
		s.Messages[i] = v
	}
	sortByID(s.Messages)
	return s, nil
}
