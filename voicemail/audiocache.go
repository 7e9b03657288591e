package voicemail

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// audioCachePath names the cached audio of message id of the folder
// numbering validity.
func audioCachePath(dir string, validity uint32, id ID) string {
	return filepath.Join(dir, fmt.Sprintf("%d-%d.audio", validity, id))
}

// openCachedAudio returns the cached audio of a message, or nil.
func openCachedAudio(dir string, validity uint32, v *Voicemail) *Audio {
	f, err := os.Open(audioCachePath(dir, validity, v.ID))
	if err != nil {
		return nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil
	}
	return &Audio{Format: AudioFormat{MIMEType: v.Format.MIMEType}, Size: st.Size(), r: f, closeFn: f.Close, fromCache: true}
}

// teeToCache makes a fetched Audio write itself into the cache as it is
// read; the file is kept only when the audio was read to its end.
func teeToCache(a *Audio, dir string, validity uint32, id ID) *Audio {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return a
	}
	tmp, err := os.CreateTemp(dir, ".audio-*")
	if err != nil {
		return a
	}
	t := &eofReader{r: io.TeeReader(a.r, tmp)}
	inner := a.closeFn
	a.r = t
	a.closeFn = func() error {
		// A decoder stops at the end of the samples, maybe before the end
		// of the file; the session reads the rest anyway, so keep it.
		_, derr := io.Copy(io.Discard, t)
		err := inner()
		if err == nil {
			err = derr
		}
		cerr := tmp.Close()
		if err == nil && cerr == nil && t.eof {
			if os.Rename(tmp.Name(), audioCachePath(dir, validity, id)) == nil {
				return nil
			}
		}
		os.Remove(tmp.Name())
		return err
	}
	return a
}

type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

// pruneAudioCache removes cached audio of removed messages, and of every
// message of another folder numbering.
func pruneAudioCache(dir string, validity uint32, removed []ID, renumbered bool) {
	for _, id := range removed {
		os.Remove(audioCachePath(dir, validity, id))
	}
	if !renumbered {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	keep := fmt.Sprintf("%d-", validity)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".audio") && !strings.HasPrefix(e.Name(), keep) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
