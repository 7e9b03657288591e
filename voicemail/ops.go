package voicemail

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Audio is a message's audio part being streamed from the server, with
// its transfer encoding undone: the bytes of the file the voicemail system
// attached (a WAV file, usually). Pass it to [NewDecoder] for PCM samples.
// The session is busy until Close: other calls on the same Conn wait.
type Audio struct {
	// Format is what the message structure says; the codec fields are
	// filled in by a Decoder.
	Format AudioFormat
	// Size is the encoded size the server announced.
	Size int64

	r         io.Reader
	closeFn   func() error
	once      sync.Once
	closeErr  error
	fromCache bool // served from Config.AudioCacheDir
}

// Read reads decoded audio bytes.
func (a *Audio) Read(p []byte) (int, error) { return a.r.Read(p) }

// Close reads what is left of the part so the session can go on, and
// releases the session.
func (a *Audio) Close() error {
	a.once.Do(func() { a.closeErr = a.closeFn() })
	return a.closeErr
}

// Audio starts streaming the audio of message id. The caller must Close
// it. Errors match ErrNotFound or ErrNoAudio.
func (vc *Conn) Audio(ctx context.Context, id ID) (*Audio, error) {
	end, err := vc.begin(ctx)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			end()
		}
	}()
	if err := vc.selectLocked(vc.cfg.Folder); err != nil {
		return nil, ctxErr(ctx, err)
	}
	set := imap.UIDSetNum(imap.UID(id))
	bufs, err := vc.c.Fetch(set, &imap.FetchOptions{UID: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("voicemail: fetch audio %d: %w", id, ctxErr(ctx, err))
	}
	if len(bufs) == 0 || bufs[0].BodyStructure == nil {
		return nil, fmt.Errorf("voicemail: fetch audio %d: %w", id, ErrNotFound)
	}
	path, part := findAudio(bufs[0].BodyStructure, nil)
	if part == nil {
		return nil, &MessageError{ID: id, Err: ErrNoAudio}
	}
	section := &imap.FetchItemBodySection{Part: path, Peek: true}
	cmd := vc.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	a := &Audio{Format: AudioFormat{MIMEType: part.MediaType()}, Size: int64(part.Size)}
	msg := cmd.Next()
	if msg == nil {
		err := cmd.Close()
		if err == nil {
			err = ErrNotFound
		}
		return nil, fmt.Errorf("voicemail: fetch audio %d: %w", id, ctxErr(ctx, err))
	}
	var lit io.Reader
	for item := msg.Next(); item != nil; item = msg.Next() {
		if bs, isBody := item.(imapclient.FetchItemDataBodySection); isBody && bs.Literal != nil {
			lit = bs.Literal
			break
		}
	}
	if lit == nil {
		cmd.Close()
		return nil, fmt.Errorf("voicemail: fetch audio %d: server sent no body", id)
	}
	a.r = decodeTransfer(lit, part.Encoding)
	a.closeFn = func() error {
		// Read what is left of the part so the session can go on.
		_, err := io.Copy(io.Discard, lit)
		if cerr := cmd.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("voicemail: fetch audio: %w", cerr)
		}
		end()
		return err
	}
	ok = true
	return a, nil
}

// Export writes the audio of message id to w as a 16-bit PCM WAV file and
// returns its decoded stats.
func (vc *Conn) Export(ctx context.Context, id ID, w io.Writer) (int64, error) {
	a, err := vc.Audio(ctx, id)
	if err != nil {
		return 0, err
	}
	defer a.Close()
	d, err := newDecoder(a)
	if err != nil {
		return 0, &MessageError{ID: id, Err: err}
	}
	n, err := WriteWAV(w, d)
	if err != nil {
		return n, fmt.Errorf("voicemail: export %d: %w", id, ctxErr(ctx, err))
	}
	return n, a.Close()
}

// SetHeard marks message id heard (\Seen) or unheard. An unknown id gives
// an error matching ErrNotFound.
func (vc *Conn) SetHeard(ctx context.Context, id ID, heard bool) error {
	end, err := vc.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := vc.selectLocked(vc.cfg.Folder); err != nil {
		return ctxErr(ctx, err)
	}
	op := imap.StoreFlagsAdd
	if !heard {
		op = imap.StoreFlagsDel
	}
	bufs, err := vc.c.Store(imap.UIDSetNum(imap.UID(id)), &imap.StoreFlags{Op: op, Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect()
	if err != nil {
		return fmt.Errorf("voicemail: mark %d: %w", id, ctxErr(ctx, err))
	}
	if len(bufs) == 0 {
		return fmt.Errorf("voicemail: mark %d: %w", id, ErrNotFound)
	}
	return nil
}

// trashLocked finds the Trash folder: Config.TrashFolder, else the one the
// server marks \Trash (RFC 6154), else one named Trash. "" means none.
func (vc *Conn) trashLocked() (string, error) {
	if vc.trash != nil {
		return *vc.trash, nil
	}
	name := vc.cfg.TrashFolder
	if name == "" {
		opts := &imap.ListOptions{}
		if vc.c.Caps().Has(imap.CapSpecialUse) {
			opts.ReturnSpecialUse = true
		}
		list, err := vc.c.List("", "*", opts).Collect()
		if err != nil {
			return "", fmt.Errorf("voicemail: find trash: %w", err)
		}
		for _, l := range list {
			for _, a := range l.Attrs {
				if a == imap.MailboxAttrTrash && name == "" {
					name = l.Mailbox
				}
			}
		}
		if name == "" {
			for _, l := range list {
				switch strings.ToLower(l.Mailbox) {
				case "trash", "deleted messages", "deleted items":
					if name == "" {
						name = l.Mailbox
					}
				}
			}
		}
	}
	vc.trash = &name
	return name, nil
}

// Delete removes message id from the folder: it moves it to Trash when the
// server has one and returns its ID there (for [Conn.Undelete]); else it
// flags it \Deleted and expunges it, returning 0.
func (vc *Conn) Delete(ctx context.Context, id ID) (ID, error) {
	end, err := vc.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer end()
	if err := vc.selectLocked(vc.cfg.Folder); err != nil {
		return 0, ctxErr(ctx, err)
	}
	trash, err := vc.trashLocked()
	if err != nil {
		return 0, ctxErr(ctx, err)
	}
	set := imap.UIDSetNum(imap.UID(id))
	if trash != "" && trash != vc.cfg.Folder {
		return vc.moveLocked(ctx, set, trash, "delete", id)
	}
	bufs, err := vc.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect()
	if err != nil {
		return 0, fmt.Errorf("voicemail: delete %d: %w", id, ctxErr(ctx, err))
	}
	if len(bufs) == 0 {
		return 0, fmt.Errorf("voicemail: delete %d: %w", id, ErrNotFound)
	}
	// UID EXPUNGE (UIDPLUS) removes only this message, not others another
	// client flagged.
	var ex *imapclient.ExpungeCommand
	if vc.c.Caps().Has(imap.CapUIDPlus) {
		ex = vc.c.UIDExpunge(set)
	} else {
		ex = vc.c.Expunge()
	}
	if err := ex.Close(); err != nil {
		return 0, fmt.Errorf("voicemail: delete %d: expunge: %w", id, ctxErr(ctx, err))
	}
	return 0, nil
}

func (vc *Conn) moveLocked(ctx context.Context, set imap.UIDSet, dest, op string, id ID) (ID, error) {
	data, err := vc.c.Move(set, dest).Wait()
	if err != nil {
		return 0, fmt.Errorf("voicemail: %s %d: move to %s: %w", op, id, dest, ctxErr(ctx, err))
	}
	if data == nil || data.DestUIDs == nil {
		return 0, fmt.Errorf("voicemail: %s %d: %w", op, id, ErrNotFound)
	}
	if uids, ok := data.DestUIDs.(imap.UIDSet); ok {
		if nums, ok := uids.Nums(); ok && len(nums) == 1 {
			return ID(nums[0]), nil
		}
	}
	return 0, nil
}

// ListTrash lists the voice messages in the Trash folder; their IDs are
// what [Conn.Undelete] takes. Without a Trash folder the error matches
// ErrNoTrash.
func (vc *Conn) ListTrash(ctx context.Context) ([]Voicemail, error) {
	end, err := vc.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	trash, err := vc.trashLocked()
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	if trash == "" {
		return nil, fmt.Errorf("voicemail: list trash: %w", ErrNoTrash)
	}
	if err := vc.selectLocked(trash); err != nil {
		return nil, ctxErr(ctx, err)
	}
	var set imap.UIDSet
	set.AddRange(1, 0)
	msgs, err := vc.fetchMeta(set)
	return msgs, ctxErr(ctx, err)
}

// Undelete moves message trashID from Trash back to the voicemail folder
// and returns its new ID there.
func (vc *Conn) Undelete(ctx context.Context, trashID ID) (ID, error) {
	end, err := vc.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer end()
	trash, err := vc.trashLocked()
	if err != nil {
		return 0, ctxErr(ctx, err)
	}
	if trash == "" {
		return 0, fmt.Errorf("voicemail: undelete %d: %w", trashID, ErrNoTrash)
	}
	if err := vc.selectLocked(trash); err != nil {
		return 0, ctxErr(ctx, err)
	}
	id, err := vc.moveLocked(ctx, imap.UIDSetNum(imap.UID(trashID)), vc.cfg.Folder, "undelete", trashID)
	if err != nil {
		return 0, err
	}
	if err := vc.selectLocked(vc.cfg.Folder); err != nil {
		return id, ctxErr(ctx, err)
	}
	return id, nil
}
