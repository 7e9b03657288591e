package voicemail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// audioPart locates a message's audio in its MIME structure.
type audioPart struct {
	path      []int
	mediaType string // lower case
	encoding  string
	size      int64
}

// fetched is one message of a listing, whichever reader produced it.
type fetched struct {
	uid           uint32
	seen, deleted bool
	haveFlags     bool // the response had FLAGS
	size          int64
	internalDate  time.Time
	// rawInternalDate is parsed only when the Date header is missing.
	rawInternalDate []byte
	modSeq          uint64
	header          []byte
	audio           audioPart
	hasAudio        bool // audio was found
	haveStructure   bool
	err             error // the message's response could not be read
}

// voicemail turns fetched data into a Voicemail; problems become its Err.
func (f *fetched) voicemail() Voicemail {
	var v Voicemail
	f.fill(&v, nil)
	return v
}

// appendTo appends f's Voicemail to msgs, built in its slot: a Voicemail
// is some 240 bytes, and a listing appends thousands. The strings it keeps
// are carved from the arena's text chunk.
func (f *fetched) appendTo(msgs []Voicemail, a *arena) []Voicemail {
	msgs = append(msgs, Voicemail{})
	f.fill(&msgs[len(msgs)-1], &a.kept)
	return msgs
}

// fill writes f into the zero Voicemail v; problems become its Err. The
// strings kept are copied into text (nil: a string of their own).
func (f *fetched) fill(v *Voicemail, text *textChunk) {
	v.ID, v.Size, v.modSeq, v.Heard, v.Deleted = ID(f.uid), f.size, f.modSeq, f.seen, f.deleted
	meta := metaOfBlock(f.header, text)
	v.CallerName, v.CallerNumber, v.Subject = meta.CallerName, meta.CallerNumber, meta.Subject
	v.Duration, v.Urgent, v.Private = meta.Duration, meta.Urgent, meta.Private
	v.Date = meta.Date
	if v.Date.IsZero() {
		v.Date = f.internalDate
		if len(f.rawInternalDate) > 0 {
			v.Date, _ = time.Parse("_2-Jan-2006 15:04:05 -0700", string(f.rawInternalDate))
		}
	}
	switch {
	case f.err != nil:
		v.Err = &MessageError{ID: v.ID, Err: f.err}
	case !f.haveStructure:
		v.Err = &MessageError{ID: v.ID, Err: errors.New("server sent no body structure")}
	case !f.hasAudio:
		v.Err = &MessageError{ID: v.ID, Err: ErrNoAudio}
	default:
		v.setAudio(&f.audio)
	}
}

// maxInterned bounds the strings a listing shares between messages: a
// hostile server sending a different type for every message gets fresh
// strings past it, not an ever-growing table.
const maxInterned = 64

// mediaType returns "type/subtype" in lower case, shared between the
// messages of a listing (they almost all say audio/wav).
func (a *arena) mediaType(typ, sub []byte) string {
	if r := a.lastMediaRaw; len(r) == len(typ)+1+len(sub) && bytes.HasPrefix(r, typ) && bytes.HasSuffix(r, sub) && r[len(typ)] == '/' {
		return a.lastMedia // as the previous message said it
	}
	defer func() { a.lastMediaRaw = append(append(append(a.lastMediaRaw[:0], typ...), '/'), sub...) }()
	key := append(append(append(a.scratch[:0], typ...), '/'), sub...)
	for i, c := range key {
		key[i] = lowerASCII(c)
	}
	a.scratch = key
	if s, ok := a.interned[string(key)]; ok {
		a.lastMedia = s
		return s
	}
	s := string(key)
	a.keep(s)
	a.lastMedia = s
	return s
}

func (a *arena) keep(s string) {
	if a.interned == nil {
		a.interned = map[string]string{}
	}
	if len(a.interned) < maxInterned {
		a.interned[s] = s
	}
}

// internPath returns a copy of path, shared with the previous message's
// when equal. Callers never modify a Voicemail's part path.
func (a *arena) internPath(path []int) []int {
	if slices.Equal(a.lastPath, path) && a.lastPath != nil {
		return a.lastPath
	}
	a.lastPath = slices.Clone(path)
	return a.lastPath
}

// rawConn is a minimal IMAP session for bulk listing: TLS or STARTTLS,
// AUTHENTICATE or LOGIN, EXAMINE, UID FETCH, LOGOUT. It runs in the
// caller's goroutine.
type rawConn struct {
	conn  net.Conn
	bulk  *bulkConn // under conn's TLS; nil when not over TCP
	r     *bufio.Reader
	tag   int
	buf   []byte
	arena arena
	mech  string // how it logged in (auth.go)
	// bulkCommands counts the commands read in bulk mode (tests).
	bulkCommands int
}

// errRawUnsupported sends the listing to go-imap: credentials or a folder
// name this reader does not quote.
var errRawUnsupported = errors.New("not for the raw reader")

func quoteIMAP(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return "", false
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, true
}

func dialRaw(ctx context.Context, cfg Config) (*rawConn, error) {
	host := cfg.TLS.ServerName
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("voicemail: connect %s: %w", cfg.Server, err)
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	rc := &rawConn{conn: raw}
	under := raw
	if tcp, ok := raw.(*net.TCPConn); ok {
		rc.bulk = newBulkConn(tcp)
		under = rc.bulk
	}
	rc.r = bufio.NewReaderSize(under, 64<<10)
	fail := func(err error) (*rawConn, error) {
		raw.Close()
		return nil, ctxErr(ctx, err)
	}
	if cfg.TLSMode == TLSStartTLS {
		if _, err := rc.greeting(); err != nil {
			return fail(err)
		}
		if err := rc.command("STARTTLS", nil); err != nil {
			return fail(fmt.Errorf("voicemail: connect %s: starttls: %w", cfg.Server, err))
		}
	}
	tc := tls.Client(under, cfg.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fail(fmt.Errorf("voicemail: connect %s: %w", cfg.Server, cfg.Trust.Classify(host, err)))
	}
	rc.conn, rc.r = tc, bufio.NewReaderSize(tc, 64<<10)
	var greeting string // under TLS; a STARTTLS greeting came before it
	if cfg.TLSMode == TLSImplicit {
		if greeting, err = rc.greeting(); err != nil {
			return fail(err)
		}
	}
	caps, ok := capabilityCode([]byte(greeting))
	if !ok {
		have, err := rc.capabilities()
		if err != nil {
			return fail(fmt.Errorf("voicemail: capability: %w", err))
		}
		for c := range have {
			caps = append(caps, c)
		}
	}
	// The go-imap session logged in with these credentials: a refused
	// login here (errRawUnsupported) sends the listing that way.
	if rc.mech, err = rc.authenticate(cfg, caps); err != nil {
		return fail(err)
	}
	return rc, nil
}

func (rc *rawConn) greeting() (string, error) {
	resp, err := readResponse(rc.r, rc.buf)
	rc.buf = resp
	if err != nil {
		return "", fmt.Errorf("voicemail: greeting: %w", err)
	}
	if !bytes.HasPrefix(resp, []byte("* OK")) {
		return "", fmt.Errorf("voicemail: greeting: %q", bytes.TrimSpace(resp))
	}
	return string(resp), nil
}

// command sends line and reads responses until its tagged answer, passing
// untagged ones to each (which may be nil). Only OK succeeds.
func (rc *rawConn) command(line string, each func(resp []byte)) error {
	rc.tag++
	tag := "v" + strconv.Itoa(rc.tag)
	if _, err := io.WriteString(rc.conn, tag+" "+line+"\r\n"); err != nil {
		return err
	}
	tagged := []byte(tag + " ")
	for {
		resp, used, err := nextResponse(rc.r, rc.buf)
		if used == 0 {
			rc.buf = resp // a copy: keep the grown buffer
		}
		if err != nil {
			return err
		}
		if bytes.HasPrefix(resp, tagged) {
			status := resp[len(tagged):]
			err := error(nil)
			if !bytes.HasPrefix(status, []byte("OK")) {
				err = fmt.Errorf("server said %q", bytes.TrimSpace(status))
			}
			_, _ = rc.r.Discard(used)
			return err
		}
		if each != nil {
			each(resp)
		}
		_, _ = rc.r.Discard(used)
	}
}

func (rc *rawConn) close() { rc.conn.Close() }

// logout says goodbye within a short time, then closes.
func (rc *rawConn) logout() {
	_ = rc.conn.SetDeadline(time.Now().Add(time.Second))
	_ = rc.command("LOGOUT", nil)
	rc.close()
}

// bulkCommand is command for a command whose response is large (a
// listing): reads are batched while it runs.
func (rc *rawConn) bulkCommand(line string, each func(resp []byte)) error {
	if rc.bulk != nil {
		rc.bulkCommands++
		rc.bulk.setBulk(true)
		defer rc.bulk.setBulk(false)
	}
	return rc.command(line, each)
}

// bulkMinMessages is how many messages a FETCH must be expected to return
// for its reads to be batched (some 120 KB of listing): batching saves
// wake-ups on a long response, but its wait for the low-water mark would
// only delay a short one, such as the new voicemail of a re-sync.
const bulkMinMessages = 200

// fetchCommand runs a FETCH expected to return about n messages,
// batched when they are many.
func (rc *rawConn) fetchCommand(n int, line string, each func(resp []byte)) error {
	if n >= bulkMinMessages {
		return rc.bulkCommand(line, each)
	}
	return rc.command(line, each)
}

// rawList lists the folder over a session of its own with the reader
// above, then logs out. A Conn lists over the session it keeps instead
// (Conn.listRaw); this is the one-off form.
func rawList(ctx context.Context, cfg Config, condstore bool) (*Snapshot, error) {
	if _, ok := quoteIMAP(cfg.Folder); !ok {
		return nil, errRawUnsupported
	}
	rc, err := dialRaw(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer rc.close()
	snap, err := rc.list(ctx, cfg.Folder, condstore)
	if err == nil {
		_ = rc.command("LOGOUT", nil)
	}
	return snap, err
}

// parseSelectCodes reads the UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ
// response codes of a SELECT or EXAMINE into snap.
func parseSelectCodes(resp []byte, snap *Snapshot) {
	for _, code := range []string{"UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ"} {
		i := bytes.Index(resp, []byte("["+code+" "))
		if i < 0 {
			continue
		}
		rest := resp[i+len(code)+2:]
		end := bytes.IndexByte(rest, ']')
		if end < 0 {
			continue
		}
		n, err := strconv.ParseUint(string(rest[:end]), 10, 64)
		if err != nil {
			continue
		}
		switch code {
		case "UIDVALIDITY":
			snap.UIDValidity = uint32(n)
		case "UIDNEXT":
			snap.UIDNext = uint32(n)
		case "HIGHESTMODSEQ":
			snap.HighestModSeq = n
		}
	}
}

// fetchAll lists every message of the selected folder with one UID FETCH.
func (rc *rawConn) fetchAll(condstore bool, sizeHint int) ([]Voicemail, error) {
	return rc.fetchSet("1:*", 1, condstore, sizeHint)
}

// setAudio records the audio part a listing found.
func (v *Voicemail) setAudio(a *audioPart) {
	v.HasAudio, v.Err = true, nil
	v.part, v.encoding, v.AudioSize, v.Format.MIMEType = a.path, a.encoding, a.size, a.mediaType
}

// listItems are the FETCH items of a listing. The body structure is asked
// for in its short form (BODY): it names every part's type, parameters,
// encoding and size, which find the audio, and leaves out the extension
// data (dispositions, languages, locations) that make up half of the
// response to BODYSTRUCTURE. Only a message whose audio BODY does not show
// needs the long form, for a .wav file name in its disposition; fetchSet
// asks for those few afterwards.
func listItems(condstore bool) string {
	items := "UID FLAGS RFC822.SIZE INTERNALDATE BODY BODY.PEEK[HEADER.FIELDS (" + strings.Join(listHeaders, " ") + ")]"
	if condstore {
		items += " MODSEQ"
	}
	return items
}

// fetchSet lists the messages in the UID set (IMAP syntax) whose UID is
// at least minUID: "n:*" also names the last message when n is past it.
func (rc *rawConn) fetchSet(set string, minUID uint32, condstore bool, sizeHint int) ([]Voicemail, error) {
	msgs := make([]Voicemail, 0, max(sizeHint, 16))
	err := rc.fetchCommand(sizeHint, "UID FETCH "+set+" ("+listItems(condstore)+")", func(resp []byte) {
		var f fetched // on the stack: no write barriers while a collection runs
		isFetch, _ := rc.arena.parseFetch(resp, &f)
		if isFetch && f.uid != 0 && f.uid >= minUID {
			msgs = f.appendTo(msgs, &rc.arena)
		}
	})
	sortByID(msgs)
	if err != nil {
		return msgs, err
	}
	return msgs, rc.findNamedAudio(msgs)
}

// findNamedAudio fetches the full body structure of the messages in which
// the short form showed no audio part, and looks again: an attachment
// named *.wav in its disposition only is audio too.
func (rc *rawConn) findNamedAudio(msgs []Voicemail) error {
	byID := map[ID]int{}
	var set strings.Builder
	for i := range msgs {
		if msgs[i].HasAudio || !errors.Is(msgs[i].Err, ErrNoAudio) {
			continue
		}
		if set.Len() > 0 {
			set.WriteByte(',')
		}
		set.WriteString(strconv.FormatUint(uint64(msgs[i].ID), 10))
		byID[msgs[i].ID] = i
	}
	if len(byID) == 0 {
		return nil
	}
	var f fetched
	return rc.command("UID FETCH "+set.String()+" (UID BODYSTRUCTURE)", func(resp []byte) {
		isFetch, _ := rc.arena.parseFetch(resp, &f)
		if i, ok := byID[ID(f.uid)]; isFetch && ok && f.err == nil && f.hasAudio {
			msgs[i].setAudio(&f.audio)
		}
	})
}

// probe reads each WAV part's MIME header and first bytes, one UID FETCH
// per part position, as probeAudio does over go-imap.
func (rc *rawConn) probe(msgs []Voicemail, a *arena) error {
	groups, order := probeGroups(msgs)
	for _, k := range order {
		idx := groups[k]
		byID := make(map[ID]int, len(idx))
		var set strings.Builder
		for n, i := range idx {
			if n > 0 {
				set.WriteByte(',')
			}
			set.WriteString(strconv.FormatUint(uint64(msgs[i].ID), 10))
			byID[msgs[i].ID] = i
		}
		mimeName := []byte("BODY[" + k + ".MIME]")
		bodyName := []byte("BODY[" + k + "]<0>")
		err := rc.fetchCommand(len(idx), "UID FETCH "+set.String()+" (UID BODY.PEEK["+k+".MIME] BODY.PEEK["+k+"]<0."+strconv.Itoa(probeSize)+">)", func(resp []byte) {
			a.reset(resp)
			sp := bytes.Index(resp, []byte(" FETCH ("))
			if !bytes.HasPrefix(resp, []byte("* ")) || sp < 0 {
				return
			}
			a.pos = sp + len(" FETCH ")
			list, err := a.parseList()
			if err != nil {
				return
			}
			var uid int64
			var mimeHeader, prefix []byte
			for c := a.nodes[list].first; c >= 0; {
				v := a.nodes[c].next
				if v < 0 {
					break
				}
				name := a.bytes(c)
				switch {
				case bytes.EqualFold(name, []byte("UID")):
					uid, _ = a.num(v)
				case bytes.EqualFold(name, mimeName):
					mimeHeader = a.bytes(v)
				case bytes.EqualFold(name, bodyName):
					prefix = a.bytes(v)
				}
				c = a.nodes[v].next
			}
			if i, ok := byID[ID(uid)]; ok {
				applyProbeInto(&a.scratch, &msgs[i], mimeHeader, prefix)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// probeGroups groups the WAV messages by audio part position.
func probeGroups(msgs []Voicemail) (map[string][]int, []string) {
	groups := map[string][]int{}
	var order []string
	for i := range msgs {
		v := &msgs[i]
		if !v.HasAudio || !v.isWAV() || v.Err != nil {
			continue
		}
		k := partString(v.part)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	return groups, order
}

// list is the fast path of a full listing on a logged-in session: EXAMINE
// the folder (whatever the session had selected before, a listing or a
// QRESYNC re-sync), one UID FETCH of every message, then the audio probe.
// Cancelling ctx closes the connection, so the session is unusable after
// an error other than ErrNoMailbox.
func (rc *rawConn) list(ctx context.Context, folder string, condstore bool) (*Snapshot, error) {
	quoted, ok := quoteIMAP(folder)
	if !ok {
		return nil, errRawUnsupported
	}
	stop := context.AfterFunc(ctx, func() { rc.conn.Close() })
	defer stop()
	snap := &Snapshot{}
	examine := "EXAMINE " + quoted
	if condstore {
		examine += " (CONDSTORE)"
	}
	err := rc.command(examine, func(resp []byte) { parseSelectCodes(resp, snap) })
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || ctx.Err() != nil {
			return nil, fmt.Errorf("voicemail: list: %w", ctxErr(ctx, err))
		}
		return nil, fmt.Errorf("voicemail: examine %s: %w (%v)", folder, ErrNoMailbox, err)
	}
	msgs, err := rc.fetchAll(condstore, int(snap.UIDNext))
	snap.Messages = msgs
	if err != nil {
		return snap, fmt.Errorf("voicemail: list: %w", ctxErr(ctx, err))
	}
	if err := rc.probe(msgs, &rc.arena); err != nil {
		return snap, fmt.Errorf("voicemail: list: audio headers: %w", ctxErr(ctx, err))
	}
	return snap, nil
}
