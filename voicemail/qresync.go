package voicemail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// QRESYNC (RFC 7162 section 3.2) lets one SELECT say what changed since a
// known state: the server answers "* VANISHED (EARLIER) uids" for the
// messages expunged since then and a FETCH with FLAGS and MODSEQ for each
// message whose flags changed, so a re-sync needs neither a UID SEARCH of
// the whole folder nor a FETCH of every message's flags. go-imap v2
// (beta.8) cannot send SELECT with QRESYNC, so the re-sync runs on a
// session of our own wire code, kept open between syncs (the go-imap
// session stays in IDLE), and also fetches the new messages there: the
// same lean reader as a full listing.

// errNoQResync sends a re-sync the go-imap way: the server lacks QRESYNC,
// or cannot use it for this folder (NOMODSEQ), or the credentials or the
// folder name need go-imap.
var errNoQResync = fmt.Errorf("%w: no QRESYNC", errRawUnsupported)

// resyncState is what the QRESYNC EXAMINE reported.
type resyncState struct {
	snap     Snapshot
	exists   int
	noModSeq bool
	vanished uidRanges
	flags    map[ID]fetched // flag changes since the known modseq, by UID
}

// uidRanges is a UID set as sorted, non-overlapping ranges.
type uidRanges [][2]uint32

// parseUIDSet reads an IMAP sequence set of UIDs ("1:4,7,9:12"); "*" is
// not valid in what servers send here.
func parseUIDSet(s []byte) (uidRanges, error) {
	var r uidRanges
	for part := range bytes.SplitSeq(s, []byte(",")) {
		lo, hi, isRange := bytes.Cut(part, []byte(":"))
		a, err := strconv.ParseUint(string(lo), 10, 32)
		if err != nil || a == 0 {
			return nil, fmt.Errorf("%w: UID set %q", errSyntax, s)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(string(hi), 10, 32); err != nil || b == 0 {
				return nil, fmt.Errorf("%w: UID set %q", errSyntax, s)
			}
		}
		if a > b {
			a, b = b, a
		}
		r = append(r, [2]uint32{uint32(a), uint32(b)})
	}
	return r.normalize(), nil
}

// normalize sorts the ranges and merges those that overlap or touch, so
// that both their starts and their ends ascend (has searches by end).
func (r uidRanges) normalize() uidRanges {
	sort.Slice(r, func(i, j int) bool { return r[i][0] < r[j][0] })
	out := r[:0]
	for _, x := range r {
		if n := len(out); n > 0 && uint64(x[0]) <= uint64(out[n-1][1])+1 {
			out[n-1][1] = max(out[n-1][1], x[1])
			continue
		}
		out = append(out, x)
	}
	return out
}

func (r uidRanges) has(uid uint32) bool {
	i := sort.Search(len(r), func(i int) bool { return r[i][1] >= uid })
	return i < len(r) && r[i][0] <= uid
}

// uidSetString writes sorted IDs as a compact IMAP UID set.
func uidSetString(ids []ID) string {
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(ids[i]), 10))
		if j > i {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(ids[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}

// capabilities asks the server what it offers.
func (rc *rawConn) capabilities() (map[string]bool, error) {
	caps := map[string]bool{}
	err := rc.command("CAPABILITY", func(resp []byte) {
		if rest, ok := bytes.CutPrefix(resp, []byte("* CAPABILITY ")); ok {
			for _, c := range bytes.Fields(rest) {
				caps[strings.ToUpper(string(c))] = true
			}
		}
	})
	return caps, err
}

// enableQResync turns QRESYNC on for the session (RFC 5161 ENABLE). The
// server's "* ENABLED" line names what it turned on, so no CAPABILITY round
// trip is needed first: a server without QRESYNC leaves it out (or refuses
// ENABLE), which gives errNoQResync and leaves the session usable for
// listings.
func (rc *rawConn) enableQResync(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { rc.conn.Close() })
	defer stop()
	enabled := false
	err := rc.command("ENABLE QRESYNC", func(resp []byte) {
		if rest, ok := bytes.CutPrefix(resp, []byte("* ENABLED")); ok {
			for _, c := range bytes.Fields(rest) {
				enabled = enabled || strings.EqualFold(string(c), "QRESYNC")
			}
		}
	})
	var ne net.Error
	switch {
	case ctx.Err() != nil || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("voicemail: enable: %w", ctxErr(ctx, err))
	case err != nil:
		return fmt.Errorf("%w: enable: %v", errNoQResync, err)
	case !enabled:
		return errNoQResync
	}
	return nil
}

// examineQResync selects folder read-only with what prev knows.
func (rc *rawConn) examineQResync(folder string, prev *Snapshot) (*resyncState, error) {
	st := &resyncState{flags: map[ID]fetched{}}
	ids := make([]ID, len(prev.Messages))
	for i := range prev.Messages {
		ids[i] = prev.Messages[i].ID
	}
	params := fmt.Sprintf("%d %d", prev.UIDValidity, prev.HighestModSeq)
	if len(ids) > 0 {
		params += " " + uidSetString(ids)
	}
	var perr error
	var f fetched
	err := rc.command("EXAMINE "+folder+" (QRESYNC ("+params+"))", func(resp []byte) {
		switch {
		case bytes.HasPrefix(resp, []byte("* OK [CLOSED]")):
			// The previous selection ends here; what follows is this one.
			*st = resyncState{flags: map[ID]fetched{}}
		case bytes.HasPrefix(resp, []byte("* OK [NOMODSEQ]")):
			st.noModSeq = true
		case bytes.HasPrefix(resp, []byte("* OK [")):
			parseSelectCodes(resp, &st.snap)
		case bytes.HasPrefix(resp, []byte("* VANISHED ")):
			set := bytes.TrimSpace(bytes.TrimPrefix(resp[len("* VANISHED "):], []byte("(EARLIER) ")))
			r, err := parseUIDSet(set)
			if err != nil {
				perr = err
				return
			}
			st.vanished = append(st.vanished, r...)
		case bytes.HasSuffix(bytes.TrimSpace(resp), []byte(" EXISTS")):
			fields := bytes.Fields(resp)
			if len(fields) == 3 {
				n, err := strconv.Atoi(string(fields[1]))
				if err == nil {
					st.exists = n
				}
			}
		default:
			if ok, err := rc.arena.parseFetch(resp, &f); ok && err == nil && f.uid != 0 {
				st.flags[ID(f.uid)] = f
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	st.vanished = st.vanished.normalize()
	return st, nil
}

// resync brings prev up to date on this session. The folder must have the
// same UIDVALIDITY as prev, else it is listed afresh.
func (rc *rawConn) resync(folder string, prev *Snapshot) (*Snapshot, error) {
	st, err := rc.examineQResync(folder, prev)
	if err != nil {
		return nil, err
	}
	next := &Snapshot{UIDValidity: st.snap.UIDValidity, UIDNext: st.snap.UIDNext, HighestModSeq: st.snap.HighestModSeq}
	if st.noModSeq || next.HighestModSeq == 0 {
		return nil, errNoQResync
	}
	if next.UIDValidity != prev.UIDValidity {
		// Renumbered: nothing of prev holds.
		msgs, err := rc.fetchAll(true, st.exists)
		next.Messages = msgs
		if err == nil {
			err = rc.probe(msgs, &rc.arena)
		}
		return next, err
	}
	msgs := make([]Voicemail, 0, max(st.exists, len(prev.Messages)))
	for _, v := range prev.Messages {
		if st.vanished.has(uint32(v.ID)) {
			continue
		}
		if f, ok := st.flags[v.ID]; ok {
			if f.haveFlags {
				v.Heard, v.Deleted = f.seen, f.deleted
			}
			if f.modSeq != 0 {
				v.modSeq = f.modSeq
			}
		}
		msgs = append(msgs, v)
	}
	var added []Voicemail
	if next.UIDNext > prev.UIDNext || len(msgs) < st.exists {
		added, err = rc.fetchSet(strconv.FormatUint(uint64(max(prev.UIDNext, 1)), 10)+":*", prev.UIDNext, true, st.exists-len(msgs))
		if err != nil {
			return nil, err
		}
	}
	msgs = append(msgs, added...)
	if len(msgs) != st.exists {
		// What QRESYNC said does not add up (a message below the old
		// UIDNEXT we never had, say): reconcile with the list of UIDs.
		var missing []Voicemail
		msgs, missing, err = rc.reconcile(msgs)
		if err != nil {
			return nil, err
		}
		added = append(added, missing...)
		msgs = append(msgs, missing...)
	}
	if err := rc.probe(added, &rc.arena); err != nil {
		return nil, err
	}
	// probe filled in added's copies; put them in msgs.
	byID := make(map[ID]int, len(added))
	for i := range added {
		byID[added[i].ID] = i
	}
	for i := range msgs {
		if j, ok := byID[msgs[i].ID]; ok {
			msgs[i] = added[j]
		}
	}
	sortByID(msgs)
	next.Messages = msgs
	return next, nil
}

// reconcile drops from msgs what the folder no longer holds and fetches
// what it holds that msgs lacks, with UID SEARCH ALL.
func (rc *rawConn) reconcile(msgs []Voicemail) (kept, missing []Voicemail, err error) {
	var present []uint32
	err = rc.command("UID SEARCH ALL", func(resp []byte) {
		rest, ok := bytes.CutPrefix(resp, []byte("* SEARCH"))
		if !ok {
			return
		}
		for _, f := range bytes.Fields(rest) {
			if n, err := strconv.ParseUint(string(f), 10, 32); err == nil {
				present = append(present, uint32(n))
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(present)
	have := make(map[ID]bool, len(msgs))
	for _, v := range msgs {
		if _, ok := slices.BinarySearch(present, uint32(v.ID)); ok {
			kept = append(kept, v)
			have[v.ID] = true
		}
	}
	var lack []ID
	for _, uid := range present {
		if !have[ID(uid)] {
			lack = append(lack, ID(uid))
		}
	}
	if len(lack) > 0 {
		missing, err = rc.fetchSet(uidSetString(lack), 1, true, len(lack))
	}
	return kept, missing, err
}

// The Conn keeps one session of our own wire code (vc.raw) for both full
// listings and QRESYNC re-syncs, so that neither pays a TLS handshake and
// a SCRAM login (PBKDF2 and three round trips) each time. Where the server
// offers QRESYNC the session has it enabled; where it does not, the
// session is a plain one for listings. Each use EXAMINEs the folder
// afresh, which suits both: a QRESYNC EXAMINE after a listing's ends that
// selection ("* OK [CLOSED]"), and so does a listing's after a re-sync.
// Uses run with mu held, one at a time; Close may close the session under
// a use, which then fails.

// dialSession dials a session for the Conn to keep: logged in, QRESYNC
// enabled when the server offers it and it has not failed before.
func (vc *Conn) dialSession(ctx context.Context) (*rawConn, error) {
	vc.rawDials.Add(1)
	rc, err := dialRaw(ctx, vc.cfg)
	if err != nil {
		return nil, err
	}
	if !vc.canQResync || vc.noQResync.Load() {
		return rc, nil
	}
	if err := rc.enableQResync(ctx); err != nil {
		if !errors.Is(err, errNoQResync) {
			rc.close()
			return nil, err
		}
		// Listings can still use it; re-syncs go the go-imap way.
		vc.noQResync.Store(true)
	}
	return rc, nil
}

// keep makes rc the kept session. A session kept meanwhile by
// prepareQResync, which does not hold mu, is not in use: it is closed.
func (vc *Conn) keep(rc *rawConn) error {
	if old := vc.raw.Swap(rc); old != nil && old != rc {
		old.close()
	}
	if vc.closed.Load() {
		// Close ran before the Swap and did not see rc.
		vc.raw.CompareAndSwap(rc, nil)
		rc.close()
		return fmt.Errorf("voicemail: %w", net.ErrClosed)
	}
	return nil
}

// drop closes rc and forgets it if it is still the kept session.
func (vc *Conn) drop(rc *rawConn) {
	vc.raw.CompareAndSwap(rc, nil)
	rc.close()
}

// withSession runs op on the kept session, dialling and keeping one when
// there is none. A session that fails is dropped; one that was kept from
// an earlier use is redialled once, since the server may have ended it
// meanwhile (an idle timeout, a restart). Errors of a fresh session, and
// errRawUnsupported, are returned as they are. Called with mu held.
func (vc *Conn) withSession(ctx context.Context, op func(rc *rawConn) error) error {
	for attempt := 0; ; attempt++ {
		rc := vc.raw.Load()
		kept := rc != nil
		if !kept {
			var err error
			if rc, err = vc.dialSession(ctx); err != nil {
				return err
			}
			if err := vc.keep(rc); err != nil {
				return err
			}
		}
		err := op(rc)
		if err == nil {
			return nil
		}
		vc.drop(rc)
		if !kept || attempt > 0 || ctx.Err() != nil || vc.closed.Load() || errors.Is(err, errRawUnsupported) {
			return err
		}
		vc.log.Debug("voicemail: kept session failed, redialling", "error", err)
	}
}

// prepareQResync dials the QRESYNC session ahead of the first re-sync
// that would use it, so that the first new voicemail after a connect does
// not wait for a login (some 50 ms against Cyrus). Failing is harmless: the
// re-sync dials again, or lists. A listing has usually kept the session
// already.
func (vc *Conn) prepareQResync(ctx context.Context) {
	if !vc.canQResync || vc.noRaw || vc.noQResync.Load() || vc.raw.Load() != nil {
		return
	}
	rc, err := vc.dialSession(ctx)
	if err != nil {
		vc.log.Debug("voicemail: QRESYNC session not ready", "error", err)
		return
	}
	if !vc.raw.CompareAndSwap(nil, rc) || vc.closed.Load() {
		vc.drop(rc)
	}
}

// qresync re-syncs prev over the Conn's kept session (withSession).
// Called with mu held.
func (vc *Conn) qresync(ctx context.Context, prev *Snapshot) (*Snapshot, error) {
	folder, ok := quoteIMAP(vc.cfg.Folder)
	if !ok {
		return nil, errNoQResync
	}
	var snap *Snapshot
	err := vc.withSession(ctx, func(rc *rawConn) error {
		if vc.noQResync.Load() {
			// The session dialled just now could not enable QRESYNC (a
			// rare server, once per Conn): the next listing dials a plain
			// one.
			return errNoQResync
		}
		stop := context.AfterFunc(ctx, func() { rc.conn.Close() })
		defer stop()
		var err error
		snap, err = rc.resync(folder, prev)
		if err != nil && !errors.Is(err, errRawUnsupported) {
			err = fmt.Errorf("voicemail: sync: %w", ctxErr(ctx, err))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	vc.qresyncs.Add(1)
	return snap, nil
}
