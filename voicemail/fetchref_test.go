package voicemail

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The listing's first reader parsed each FETCH response into a tree of
// nodes (arena) and then walked it. It is kept here as the reference that
// fetchScanner, the single-pass reader, must agree with. Item names are
// compared as ASCII in both (bytes.EqualFold also folded "ſ" to "s").

// refParseFetch reads "* n FETCH (...)" into f. It returns false for another
// response. A syntax error leaves what was read so far in f, with f.err
// set when the UID is known.
func (a *arena) refParseFetch(resp []byte, f *fetched) (bool, error) {
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
		case eqFold(name, "UID"):
			n, _ := a.num(v)
			f.uid = uint32(n)
		case eqFold(name, "FLAGS"):
			f.haveFlags = true
			for c := a.child(v, 0); c >= 0; c = a.nodes[c].next {
				fl := a.bytes(c)
				f.seen = f.seen || bytes.EqualFold(fl, []byte(`\Seen`))
				f.deleted = f.deleted || bytes.EqualFold(fl, []byte(`\Deleted`))
			}
		case eqFold(name, "RFC822.SIZE"):
			f.size, _ = a.num(v)
		case eqFold(name, "INTERNALDATE"):
			f.rawInternalDate = a.bytes(v)
		case eqFold(name, "MODSEQ"):
			n, _ := a.num(a.child(v, 0))
			f.modSeq = uint64(n)
		case eqFold(name, "BODYSTRUCTURE") || eqFold(name, "BODY"):
			f.haveStructure = a.isList(v)
			f.hasAudio = false
			if p := a.refWireAudio(v); p != nil {
				f.audio, f.hasAudio = *p, true
			}
		case len(name) > 18 && eqFold(name[:18], "BODY[HEADER.FIELDS"):
			f.header = a.bytes(v)
		}
		k = a.nodes[v].next
	}
	return true, nil
}

// refWireAudio finds the audio part in a BODYSTRUCTURE list (RFC 3501
// section 7.4.2), by the rules of findAudio. It walks with one path stack
// and allocates only for the part it returns: a listing runs it once per
// message.
func (a *arena) refWireAudio(bs int32) *audioPart {
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
			return a.refPart(n, stack, typ, sub)
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
			name := a.refParamValue(a.child(n, 2), "name")
			if dsp := a.child(n, ext+1); a.isList(dsp) {
				if fn := a.refParamValue(a.child(dsp, 1), "filename"); fn != "" {
					name = fn
				}
			}
			if isWAVName(decodeWords(name)) {
				fallback = a.refPart(n, stack, typ, sub)
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

// refPart makes the audioPart of single part n at path.
func (a *arena) refPart(n int32, path []int, typ, sub []byte) *audioPart {
	size, _ := a.num(a.child(n, 6))
	mt := a.mediaType(typ, sub)
	return &audioPart{path: a.internPath(path), mediaType: mt, encoding: a.refInternStr(a.child(n, 5)), size: size}
}

// refInternStr is str for values many messages repeat (transfer encodings).
func (a *arena) refInternStr(i int32) string {
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

// refParamValue looks key up in a body parameter list ("k" "v" "k" "v").
func (a *arena) refParamValue(list int32, key string) string {
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

// FuzzFetchScanner holds the single-pass reader to the tree reader: for
// any response, the same verdict, the same error and the same fetched data.
func FuzzFetchScanner(f *testing.F) {
	f.Add([]byte(goodFetch))
	f.Add(listingResponse(1))
	for _, bs := range []string{
		// A forwarded voicemail: the audio inside an attached message.
		`(("text" "plain" NIL NIL NIL "7bit" 10 1 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 900 ` +
			`(NIL "fwd" NIL NIL NIL NIL NIL NIL NIL NIL) ("audio" "wav" NIL NIL NIL "base64" 800 NIL NIL NIL NIL) 12 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)`,
		// Only a .wav attachment typed application/octet-stream.
		`(("text" "plain" NIL NIL NIL "7bit" 10 1 NIL NIL NIL NIL)("application" "octet-stream" ("name" "vm.WAV") NIL NIL "base64" 500 NIL ("attachment" ("filename" "x.wav")) NIL NIL) "mixed" NIL NIL NIL NIL)`,
		// Escapes, a literal and atoms where strings belong.
		`("AUDIO" "x-\"wav\"" ("name" {5}` + "\r\n" + `a.wav) NIL NIL base64 12 NIL NIL NIL NIL)`,
		`NIL`, `()`, `((()))`,
		// Past the audio part: nested past the limit, an atom run into a
		// list, a tab, a line break.
		`("audio" "wav" NIL NIL NIL "base64" 5 NIL (` + strings.Repeat("(", 70) + strings.Repeat(")", 71),
		`(("audio" "wav" NIL NIL NIL "base64" 5)("text" "plain" ("a" b(c)) NIL NIL "7bit" 1 1) "mixed")`,
		"((\"audio\" \"wav\" NIL NIL NIL \"base64\" 5 x\ty NIL)(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1\r\n1) \"mixed\")",
	} {
		f.Add([]byte("* 1 FETCH (UID 3 MODSEQ (77) FLAGS (\\Deleted) BODYSTRUCTURE " + bs + " RFC822.SIZE 9)\r\n"))
		f.Add([]byte("* 2 FETCH (UID 4 BODY " + bs + ")\r\n"))
	}
	f.Fuzz(func(t *testing.T, resp []byte) {
		var ref, got fetched
		var ra, ga arena
		refOK, refErr := ra.refParseFetch(resp, &ref)
		ok, err := ga.parseFetch(resp, &got)
		if ok != refOK || (err == nil) != (refErr == nil) || (err != nil && err.Error() != refErr.Error()) {
			t.Fatalf("verdict: got %v %v, reference %v %v", ok, err, refOK, refErr)
		}
		if fmt.Sprint(got.err) != fmt.Sprint(ref.err) {
			t.Fatalf("message error: got %v, reference %v", got.err, ref.err)
		}
		got.err, ref.err = nil, nil
		if !reflect.DeepEqual(got, ref) {
			t.Fatalf("got %+v\nreference %+v", got, ref)
		}
	})
}
