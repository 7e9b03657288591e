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
	audio           *audioPart
	haveStructure   bool
	err             error // the message's response could not be read
}

// voicemail turns fetched data into a Voicemail; problems become its Err.
func (f *fetched) voicemail() Voicemail { return f.voicemailInto(nil) }

// voicemailInto is voicemail parsing the header block into *fields,
// reused from one message of a listing to the next.
func (f *fetched) voicemailInto(fields *headerFields) Voicemail {
	v := Voicemail{ID: ID(f.uid), Size: f.size, modSeq: f.modSeq, Heard: f.seen, Deleted: f.deleted}
	var h headerFields
	if fields != nil {
		h = parseHeaderBlockInto(*fields, f.header)
		*fields = h
	} else {
		h = parseHeaderBlock(f.header)
	}
	meta := parseMeta(h)
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
	case f.audio == nil:
		v.Err = &MessageError{ID: v.ID, Err: ErrNoAudio}
	default:
		v.HasAudio = true
		v.part = f.audio.path
		v.encoding = f.audio.encoding
		v.AudioSize = f.audio.size
		v.Format.MIMEType = f.audio.mediaType
	}
	return v
}

// wireAudio finds the audio part in a BODYSTRUCTURE list (RFC 3501
// section 7.4.2), by the rules of findAudio. It walks with one path stack
// and allocates only for the part it returns: a listing runs it once per
// message.
func (a *arena) wireAudio(bs int32) *audioPart {
	var fallback *audioPart
	stack := a.path[:0]
	var walk func(n int32, depth int) *audioPart
	walk = func(n int32, depth int) *audioPart {
		if !a.isList(n) || depth > 20 {
			return nil
		}
		// Every path that returns nil leaves the stack as it found it.
		mark := len(stack)
		defer func() { stack = stack[:mark] }()
		first := a.child(n, 0)
		if a.isList(first) { // multipart: bodies, then the subtype
			i := 1
			for c := first; c >= 0 && a.isList(c); c = a.nodes[c].next {
				stack = append(stack[:mark], i)
				if found := walk(c, depth+1); found != nil {
					return found
				}
				i++
			}
			return nil
		}
		if len(stack) == 0 {
			stack = append(stack, 1)
		}
		typ, sub := a.text(first), a.text(a.child(n, 1))
		if eqFold(typ, "audio") {
			return a.part(n, stack, typ, sub)
		}
		if eqFold(typ, "message") && eqFold(sub, "rfc822") {
			inner := a.child(n, 8)
			if a.isList(inner) && !a.isList(a.child(inner, 0)) {
				stack = append(stack, 1)
			}
			return walk(inner, depth+1)
		}
		if fallback == nil {
			// Extension data: md5, then disposition, after the basic fields
			// (and lines for text/*).
			ext := 7
			if eqFold(typ, "text") {
				ext = 8
			}
			name := a.paramValue(a.child(n, 2), "name")
			if dsp := a.child(n, ext+1); a.isList(dsp) {
				if fn := a.paramValue(a.child(dsp, 1), "filename"); fn != "" {
					name = fn
				}
			}
			if isWAVName(decodeWords(name)) {
				fallback = a.part(n, stack, typ, sub)
			}
		}
		return nil
	}
	found := walk(bs, 0)
	a.path = stack[:0]
	if found != nil {
		return found
	}
	return fallback
}

// part makes the audioPart of single part n at path.
func (a *arena) part(n int32, path []int, typ, sub []byte) *audioPart {
	size, _ := a.num(a.child(n, 6))
	mt := a.mediaType(typ, sub)
	return &audioPart{path: a.internPath(path), mediaType: mt, encoding: a.internStr(a.child(n, 5)), size: size}
}

// maxInterned bounds the strings a listing shares between messages: a
// hostile server sending a different type for every message gets fresh
// strings past it, not an ever-growing table.
const maxInterned = 64

// mediaType returns "type/subtype" in lower case, shared between the
// messages of a listing (they almost all say audio/wav).
func (a *arena) mediaType(typ, sub []byte) string {
	key := append(append(append(a.scratch[:0], typ...), '/'), sub...)
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			key[i] = c + 'a' - 'A'
		}
	}
	a.scratch = key
	if s, ok := a.interned[string(key)]; ok {
		return s
	}
	s := string(key)
	a.keep(s)
	return s
}

// internStr is str for values many messages repeat (transfer encodings).
func (a *arena) internStr(i int32) string {
	if i < 0 || a.nodes[i].kind == nNil || a.nodes[i].kind == nList || a.nodes[i].escaped {
		return a.str(i)
	}
	if s, ok := a.interned[string(a.bytes(i))]; ok {
		return s
	}
	s := a.str(i)
	a.keep(s)
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

// paramValue looks key up in a body parameter list ("k" "v" "k" "v").
func (a *arena) paramValue(list int32, key string) string {
	if !a.isList(list) {
		return ""
	}
	for k := a.nodes[list].first; k >= 0; {
		v := a.nodes[k].next
		if v < 0 {
			return ""
		}
		if eqFold(a.text(k), key) {
			return a.str(v)
		}
		k = a.nodes[v].next
	}
	return ""
}

// parseFetch reads "* n FETCH (...)" into f. It returns false for another
// response. A syntax error leaves what was read so far in f, with f.err
// set when the UID is known.
func (a *arena) parseFetch(resp []byte, f *fetched) (bool, error) {
	*f = fetched{}
	if !bytes.HasPrefix(resp, []byte("* ")) {
		return false, nil
	}
	rest := resp[2:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 || !bytes.HasPrefix(rest[sp:], []byte(" FETCH (")) {
		return false, nil
	}
	a.reset(resp)
	a.pos = 2 + sp + len(" FETCH ")
	list, err := a.parseList()
	if err != nil {
		// Salvage the UID so the error can name the message.
		if i := bytes.Index(resp, []byte("UID ")); i >= 0 {
			end := i + 4
			for end < len(resp) && resp[end] >= '0' && resp[end] <= '9' {
				end++
			}
			if n, perr := strconv.ParseUint(string(resp[i+4:end]), 10, 32); perr == nil {
				f.uid = uint32(n)
				f.err = err
			}
		}
		return true, err
	}
	for k := a.nodes[list].first; k >= 0; {
		v := a.nodes[k].next
		if v < 0 {
			break
		}
		name := a.bytes(k)
		switch {
		case bytes.EqualFold(name, []byte("UID")):
			n, _ := a.num(v)
			f.uid = uint32(n)
		case bytes.EqualFold(name, []byte("FLAGS")):
			f.haveFlags = true
			for c := a.child(v, 0); c >= 0; c = a.nodes[c].next {
				fl := a.bytes(c)
				f.seen = f.seen || bytes.EqualFold(fl, []byte(`\Seen`))
				f.deleted = f.deleted || bytes.EqualFold(fl, []byte(`\Deleted`))
			}
		case bytes.EqualFold(name, []byte("RFC822.SIZE")):
			f.size, _ = a.num(v)
		case bytes.EqualFold(name, []byte("INTERNALDATE")):
			f.rawInternalDate = a.bytes(v)
		case bytes.EqualFold(name, []byte("MODSEQ")):
			n, _ := a.num(a.child(v, 0))
			f.modSeq = uint64(n)
		case bytes.EqualFold(name, []byte("BODYSTRUCTURE")):
			f.haveStructure = a.isList(v)
			f.audio = a.wireAudio(v)
		case len(name) > 18 && bytes.EqualFold(name[:18], []byte("BODY[HEADER.FIELDS")):
			f.header = a.bytes(v)
		}
		k = a.nodes[v].next
	}
	return true, nil
}

// rawConn is a minimal IMAP session for bulk listing: TLS or STARTTLS,
// LOGIN, EXAMINE, UID FETCH, LOGOUT. It runs in the caller's goroutine.
type rawConn struct {
	conn  net.Conn
	bulk  *bulkConn // under conn's TLS; nil when not over TCP
	r     *bufio.Reader
	tag   int
	buf   []byte
	arena arena
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
	user, ok1 := quoteIMAP(cfg.UserName)
	pass, ok2 := quoteIMAP(cfg.Password.Reveal())
	if !ok1 || !ok2 {
		return nil, errRawUnsupported
	}
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
	if cfg.TLSMode == TLSImplicit {
		if _, err := rc.greeting(); err != nil {
			return fail(err)
		}
	}
	if err := rc.command("LOGIN "+user+" "+pass, nil); err != nil {
		// The go-imap session logged in with these credentials (SASL where
		// offered): a refused LOGIN means this server wants AUTHENTICATE,
		// so the listing goes that way.
		raw.Close()
		return nil, fmt.Errorf("%w: login: %v", errRawUnsupported, err)
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
	for {
		resp, err := readResponse(rc.r, rc.buf)
		rc.buf = resp
		if err != nil {
			return err
		}
		if bytes.HasPrefix(resp, []byte(tag+" ")) {
			status := resp[len(tag)+1:]
			if bytes.HasPrefix(status, []byte("OK")) {
				return nil
			}
			return fmt.Errorf("server said %q", bytes.TrimSpace(status))
		}
		if each != nil {
			each(resp)
		}
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
		rc.bulk.setBulk(true)
		defer rc.bulk.setBulk(false)
	}
	return rc.command(line, each)
}

// rawList lists the folder over its own session with the reader above:
// the fast path of a full listing. The audio probe runs on the same
// session.
func rawList(ctx context.Context, cfg Config, condstore bool) (*Snapshot, error) {
	folder, ok := quoteIMAP(cfg.Folder)
	if !ok {
		return nil, errRawUnsupported
	}
	rc, err := dialRaw(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer rc.close()
	stop := context.AfterFunc(ctx, func() { rc.conn.Close() })
	defer stop()
	snap := &Snapshot{}
	examine := "EXAMINE " + folder
	if condstore {
		examine += " (CONDSTORE)"
	}
	err = rc.command(examine, func(resp []byte) { parseSelectCodes(resp, snap) })
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("voicemail: list: %w", ctxErr(ctx, err))
		}
		return nil, fmt.Errorf("voicemail: examine %s: %w (%v)", cfg.Folder, ErrNoMailbox, err)
	}
	msgs, err := rc.fetchAll(condstore, int(snap.UIDNext))
	snap.Messages = msgs
	if err != nil {
		return snap, fmt.Errorf("voicemail: list: %w", ctxErr(ctx, err))
	}
	if err := rc.probe(msgs, &rc.arena); err != nil {
		return snap, fmt.Errorf("voicemail: list: audio headers: %w", ctxErr(ctx, err))
	}
	_ = rc.command("LOGOUT", nil)
	return snap, nil
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

// fetchSet lists the messages in the UID set (IMAP syntax) whose UID is
// at least minUID: "n:*" also names the last message when n is past it.
func (rc *rawConn) fetchSet(set string, minUID uint32, condstore bool, sizeHint int) ([]Voicemail, error) {
	items := "UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (" + strings.Join(listHeaders, " ") + ")]"
	if condstore {
		items += " MODSEQ"
	}
	var f fetched
	msgs := make([]Voicemail, 0, max(sizeHint, 16))
	err := rc.bulkCommand("UID FETCH "+set+" ("+items+")", func(resp []byte) {
		isFetch, _ := rc.arena.parseFetch(resp, &f)
		if isFetch && f.uid != 0 && f.uid >= minUID {
			msgs = append(msgs, f.voicemailInto(&rc.arena.fields))
		}
	})
	sortByID(msgs)
	return msgs, err
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
		err := rc.bulkCommand("UID FETCH "+set.String()+" (UID BODY.PEEK["+k+".MIME] BODY.PEEK["+k+"]<0."+strconv.Itoa(probeSize)+">)", func(resp []byte) {
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
