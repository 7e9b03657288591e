package voicemail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Snapshot is the voicemail folder's state at one moment: what a re-sync
// starts from.
type Snapshot struct {
	// UIDValidity identifies the folder's UID numbering (RFC 3501 section
	// 2.3.1.1); when it changes every ID is void.
	UIDValidity uint32
	// UIDNext is the UID the next message will get.
	UIDNext uint32
	// HighestModSeq is the folder's CONDSTORE modification sequence
	// (RFC 7162), 0 when the server lacks CONDSTORE.
	HighestModSeq uint64
	// Messages are in ID order, oldest first.
	Messages []Voicemail
}

// Find returns the message with id.
func (s *Snapshot) Find(id ID) (*Voicemail, bool) {
	if s == nil {
		return nil, false
	}
	i, ok := slices.BinarySearchFunc(s.Messages, id, func(v Voicemail, id ID) int { return int(int64(v.ID) - int64(id)) })
	if !ok {
		return nil, false
	}
	return &s.Messages[i], true
}

// probeSize is how many encoded bytes of each audio part the list reads
// to learn its codec and length: 1024 base64 characters hold 768 bytes,
// room for the RIFF, fmt and data chunk headers and a small LIST chunk.
const probeSize = 1024

// List returns every message in the folder with its metadata. Messages
// that could not be read fully are in the list with Err set. An error is
// returned only when the server could not be asked (then the messages
// read before the failure are returned with it).
func (vc *Conn) List(ctx context.Context) ([]Voicemail, error) {
	s, err := vc.Sync(ctx, nil)
	if s == nil {
		return nil, err
	}
	return s.Messages, err
}

// Sync brings prev up to date and returns the new state; prev nil or of
// another UIDVALIDITY means a full listing. Otherwise only new messages
// are fetched, expunged ones dropped, and flags refreshed. Where the
// server offers QRESYNC (RFC 7162) one SELECT reports the expunged
// messages and the changed flags since prev (qresync.go); else, with
// CONDSTORE, flags changed since prev.HighestModSeq are fetched
// (CHANGEDSINCE) and expunges found by UID SEARCH. The Messages of prev
// are not modified. Cancelling ctx while a full listing or a QRESYNC
// re-sync runs ends only the session of our own they run on (qresync.go),
// not the Conn; cancelling it during a go-imap command ends the Conn.
func (vc *Conn) Sync(ctx context.Context, prev *Snapshot) (*Snapshot, error) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.closed.Load() {
		return nil, fmt.Errorf("voicemail: %w", net.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// go-imap's commands take no context: while one runs, a cancelled ctx
	// closes its session (as begin does). The raw session's work has a
	// guard of its own and leaves the go-imap session alone.
	c := vc.c
	unguard := func() bool { return false }
	guard := func() { unguard = context.AfterFunc(ctx, func() { c.Close() }) }
	defer func() { unguard() }()
	if prev != nil && prev.HighestModSeq > 0 && vc.canQResync && !vc.noRaw && !vc.noQResync.Load() {
		snap, err := vc.qresync(ctx, prev)
		switch {
		case err == nil:
			return snap, nil
		case ctx.Err() != nil:
			return nil, ctxErr(ctx, err)
		case errors.Is(err, errRawUnsupported):
			vc.noQResync.Store(true)
		default:
			// The go-imap session may still work: sync through it.
			vc.log.Warn("voicemail QRESYNC re-sync failed", "error", err)
		}
	}
	guard()
	vc.selected = "" // re-select to learn UIDNEXT and HIGHESTMODSEQ afresh
	if err := vc.selectLocked(vc.cfg.Folder); err != nil {
		return nil, ctxErr(ctx, err)
	}
	next := &Snapshot{UIDValidity: vc.sel.UIDValidity, UIDNext: vc.sel.UIDNext, HighestModSeq: vc.sel.HighestModSeq}
	if prev == nil || prev.UIDValidity != next.UIDValidity {
		if prev != nil {
			vc.log.Info("voicemail folder renumbered", "old_uidvalidity", prev.UIDValidity, "uidvalidity", next.UIDValidity)
		}
		if !vc.noRaw {
			unguard()
			snap, err := vc.listRaw(ctx)
			if !errors.Is(err, errRawUnsupported) {
				return snap, err
			}
			guard()
		}
		var set imap.UIDSet
		set.AddRange(1, 0)
		var err error
		next.Messages, err = vc.fetchMeta(set)
		return next, ctxErr(ctx, err)
	}
	// Which messages exist now?
	opts := &imap.SearchOptions{}
	if vc.c.Caps().Has(imap.CapESearch) {
		opts.ReturnAll = true
	}
	sd, err := vc.c.UIDSearch(&imap.SearchCriteria{}, opts).Wait()
	if err != nil {
		return nil, fmt.Errorf("voicemail: sync: search: %w", ctxErr(ctx, err))
	}
	present := map[ID]bool{}
	for _, uid := range sd.AllUIDs() {
		present[ID(uid)] = true
	}
	have := map[ID]bool{}
	msgs := make([]Voicemail, 0, len(present))
	for _, m := range prev.Messages {
		if present[m.ID] {
			msgs = append(msgs, m)
			have[m.ID] = true
		}
	}
	var fresh imap.UIDSet
	for id := range present {
		if !have[id] {
			fresh.AddNum(imap.UID(id))
		}
	}
	// Flags: only what changed since prev with CONDSTORE, else all.
	if len(msgs) > 0 && (!vc.condstore || prev.HighestModSeq == 0 || next.HighestModSeq != prev.HighestModSeq) {
		var all imap.UIDSet
		all.AddRange(1, 0)
		fo := &imap.FetchOptions{UID: true, Flags: true}
		if vc.condstore && prev.HighestModSeq > 0 {
			fo.ModSeq = true
			fo.ChangedSince = prev.HighestModSeq
		}
		bufs, err := vc.c.Fetch(all, fo).Collect()
		if err != nil {
			return nil, fmt.Errorf("voicemail: sync: flags: %w", ctxErr(ctx, err))
		}
		flags := make(map[ID][]imap.Flag, len(bufs))
		for _, b := range bufs {
			flags[ID(b.UID)] = b.Flags
		}
		for i := range msgs {
			if f, ok := flags[msgs[i].ID]; ok {
				msgs[i].setFlags(f)
			}
		}
	}
	if len(fresh) > 0 {
		added, err := vc.fetchMeta(fresh)
		msgs = append(msgs, added...)
		if err != nil {
			sortByID(msgs)
			next.Messages = msgs
			return next, ctxErr(ctx, err)
		}
	}
	sortByID(msgs)
	next.Messages = msgs
	return next, nil
}

// listRaw is the fast path of a full listing (rawConn.list) on the
// session the Conn keeps for listings and re-syncs (withSession), so that
// a listing after the first pays no login. Called with mu held.
func (vc *Conn) listRaw(ctx context.Context) (*Snapshot, error) {
	if _, ok := quoteIMAP(vc.cfg.Folder); !ok {
		return nil, errRawUnsupported
	}
	var snap *Snapshot
	err := vc.withSession(ctx, func(rc *rawConn) error {
		var err error
		snap, err = rc.list(ctx, vc.cfg.Folder, vc.condstore)
		return err
	})
	return snap, err
}

func sortByID(m []Voicemail) {
	// Servers answer UID FETCH in UID order, and SortFunc's comparisons
	// copy two 240-byte Voicemails each: a pass over the IDs comes first.
	sorted := true
	for i := 1; i < len(m) && sorted; i++ {
		sorted = m[i-1].ID <= m[i].ID
	}
	if sorted {
		return
	}
	slices.SortFunc(m, func(a, b Voicemail) int { return int(int64(a.ID) - int64(b.ID)) })
}

func (v *Voicemail) setFlags(flags []imap.Flag) {
	v.Heard, v.Deleted = false, false
	for _, f := range flags {
		switch {
		case strings.EqualFold(string(f), string(imap.FlagSeen)):
			v.Heard = true
		case strings.EqualFold(string(f), string(imap.FlagDeleted)):
			v.Deleted = true
		}
	}
}

// fetchMeta lists the messages in set: one UID FETCH for flags, size,
// structure and header fields, then one per audio part position for the
// start of each audio part. Called with mu held.
func (vc *Conn) fetchMeta(set imap.UIDSet) ([]Voicemail, error) {
	return vc.fetchMetaOpts(set, true)
}

// withLock runs f with the session locked and bounded by ctx (for tests
// and benchmarks of the steps of a listing).
func (vc *Conn) withLock(ctx context.Context, f func() error) error {
	end, err := vc.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := vc.selectLocked(vc.cfg.Folder); err != nil {
		return err
	}
	return f()
}

func (vc *Conn) fetchMetaOpts(set imap.UIDSet, probe bool) ([]Voicemail, error) {
	headerSection := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: listHeaders, Peek: true}
	opts := &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true, InternalDate: true, ModSeq: vc.condstore,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{headerSection},
	}
	cmd := vc.c.Fetch(set, opts)
	var out []Voicemail
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf, err := msg.Collect()
		if err != nil || buf.UID == 0 {
			continue // the command's error below says what went wrong
		}
		out = append(out, buildVoicemail(buf, buf.FindBodySection(headerSection)))
	}
	if err := cmd.Close(); err != nil {
		sortByID(out)
		return out, fmt.Errorf("voicemail: list: %w", err)
	}
	sortByID(out)
	if !probe {
		return out, nil
	}
	return out, vc.probeAudio(out)
}

// buildVoicemail turns go-imap's fetch data into a Voicemail.
func buildVoicemail(buf *imapclient.FetchMessageBuffer, header []byte) Voicemail {
	f := fetched{uid: uint32(buf.UID), size: buf.RFC822Size, internalDate: buf.InternalDate, modSeq: buf.ModSeq, header: header}
	for _, fl := range buf.Flags {
		f.seen = f.seen || strings.EqualFold(string(fl), string(imap.FlagSeen))
		f.deleted = f.deleted || strings.EqualFold(string(fl), string(imap.FlagDeleted))
	}
	if buf.BodyStructure != nil {
		f.haveStructure = true
		if path, part := findAudio(buf.BodyStructure, nil); part != nil {
			f.audio, f.hasAudio = audioPart{path: path, mediaType: part.MediaType(), encoding: part.Encoding, size: int64(part.Size)}, true
		}
	}
	return f.voicemail()
}

// findAudio returns the IMAP part path of the first audio part, looking
// into nested multiparts and attached messages (a forwarded voicemail).
func findAudio(bs imap.BodyStructure, prefix []int) ([]int, *imap.BodyStructureSinglePart) {
	var fallback []int
	var fallbackPart *imap.BodyStructureSinglePart
	var walk func(bs imap.BodyStructure, path []int, depth int) ([]int, *imap.BodyStructureSinglePart)
	walk = func(bs imap.BodyStructure, path []int, depth int) ([]int, *imap.BodyStructureSinglePart) {
		if depth > 20 {
			return nil, nil
		}
		switch bs := bs.(type) {
		case *imap.BodyStructureMultiPart:
			for i, child := range bs.Children {
				if p, part := walk(child, append(slices.Clone(path), i+1), depth+1); part != nil {
					return p, part
				}
			}
		case *imap.BodyStructureSinglePart:
			if len(path) == 0 {
				path = []int{1}
			}
			switch {
			case strings.EqualFold(bs.Type, "audio"):
				return path, bs
			case isWAVName(bs.Filename()) && fallbackPart == nil:
				fallback, fallbackPart = path, bs
			case bs.MessageRFC822 != nil && bs.MessageRFC822.BodyStructure != nil:
				inner := bs.MessageRFC822.BodyStructure
				if _, single := inner.(*imap.BodyStructureSinglePart); single {
					return walk(inner, append(slices.Clone(path), 1), depth+1)
				}
				return walk(inner, path, depth+1)
			}
		}
		return nil, nil
	}
	if p, part := walk(bs, prefix, 0); part != nil {
		return p, part
	}
	return fallback, fallbackPart
}

func isWAVName(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".wav") || strings.HasSuffix(n, ".wave")
}

// isWAV reports whether the part should hold a WAV file.
func (v *Voicemail) isWAV() bool {
	switch v.Format.MIMEType {
	case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/vnd.wav", "audio/x-pn-wav":
		return true
	}
	return !strings.HasPrefix(v.Format.MIMEType, "audio/") // a .wav attachment typed as something else
}

func partString(p []int) string {
	s := make([]string, len(p))
	for i, n := range p {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}

// probeAudio reads the start of every WAV part: one UID FETCH per part
// position (almost always one in all). Called with mu held.
func (vc *Conn) probeAudio(msgs []Voicemail) error {
	groups, order := probeGroups(msgs)
	for _, k := range order {
		idx := groups[k]
		part := msgs[idx[0]].part
		mimeSection := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierMIME, Part: part, Peek: true}
		bodySection := &imap.FetchItemBodySection{Part: part, Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: probeSize}}
		var set imap.UIDSet
		byID := make(map[ID]int, len(idx))
		for _, i := range idx {
			set.AddNum(imap.UID(msgs[i].ID))
			byID[msgs[i].ID] = i
		}
		cmd := vc.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{mimeSection, bodySection}})
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			buf, err := msg.Collect()
			if err != nil {
				continue
			}
			i, ok := byID[ID(buf.UID)]
			if !ok {
				continue
			}
			applyProbe(&msgs[i], buf.FindBodySection(mimeSection), buf.FindBodySection(bodySection))
		}
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("voicemail: list: audio headers: %w", err)
		}
	}
	return nil
}

// applyProbe fills in format and duration from the audio part's MIME
// header and first bytes.
func applyProbe(v *Voicemail, mimeHeader, prefix []byte) {
	applyProbeInto(nil, v, mimeHeader, prefix)
}

// applyProbeInto is applyProbe decoding in scratch (see decodePrefixInto).
func applyProbeInto(scratch *[]byte, v *Voicemail, mimeHeader, prefix []byte) {
	if len(mimeHeader) > 0 && v.Duration == 0 {
		h := parseHeaderBlock(mimeHeader)
		for _, k := range []string{"Content-Duration", "X-Content-Duration"} {
			if d, ok := parseDurationHeader(h.Get(k)); ok {
				v.Duration = d
				break
			}
		}
	}
	data := decodePrefixInto(scratch, prefix, v.encoding)
	h, err := parseWAVHeader(data)
	switch {
	case err == nil || (errors.Is(err, errShortWAV) && h.format.Encoding != EncodingUnknown):
		mt := v.Format.MIMEType
		v.Format = h.format
		v.Format.MIMEType = mt
		if v.Duration == 0 {
			size := h.dataSize
			if size < 0 || err != nil {
				size = estimateDecoded(v.AudioSize, prefix, v.encoding) - h.dataOffset
			}
			v.Duration = h.duration(size)
		}
	case errors.Is(err, errShortWAV):
		if len(prefix) < probeSize && int64(len(prefix)) >= v.AudioSize {
			v.Err = &MessageError{ID: v.ID, Err: fmt.Errorf("%w: truncated header", ErrBadAudio)}
		}
	default:
		v.Err = &MessageError{ID: v.ID, Err: err}
	}
}

// estimateDecoded estimates the decoded size of an encoded part of size
// bytes from the ratio of data characters in its first bytes.
func estimateDecoded(size int64, prefix []byte, encoding string) int64 {
	if !strings.EqualFold(strings.TrimSpace(encoding), "base64") || len(prefix) == 0 {
		return size
	}
	n := 0
	for _, c := range prefix {
		if isB64(c) && c != '=' {
			n++
		}
	}
	return size * int64(n) / int64(len(prefix)) * 3 / 4
}
