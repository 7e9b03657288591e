package im

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/opencsf/opencsf/im/internal/xmltok"
)

// newOfflineClient is a client that was never started: handle can be fed
// stanzas directly.
func newOfflineClient(t testing.TB) *Client {
	c, err := New(Config{JID: "alice@example.test", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// feed reads stream content (the stanzas, without the stream header) and
// handles each top-level element, as the session's reader does.
func feed(c *Client, data []byte) error {
	tr := xmltok.NewReader(bufio.NewReader(bytes.NewReader(data)), nsClient, map[string]string{"stream": nsStreams})
	tr.Budget = int64(c.cfg.MaxStanzaSize)
	return c.readStream(newStanzaReader(tr))
}

var seeds = []string{
	`<message from='bob@example.test/x' id='1' type='chat'><body>hi</body><request xmlns='urn:xmpp:receipts'/></message>`,
	`<message from='bob@example.test/x' id='2'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`,
	`<message from='alice@example.test'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@example.test/x' id='3'><body>c</body></message></forwarded></received></message>`,
	`<message from='mallory@evil.test'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' to='bob@example.test' id='4'><body>spoof</body></message></forwarded></sent></message>`,
	`<message><result xmlns='urn:xmpp:mam:2' queryid='q' id='a1'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00Z'/><message xmlns='jabber:client' from='bob@example.test'><body>x</body></message></forwarded></result></message>`,
	`<iq type='set' id='p1' from='mallory@evil.test'><query xmlns='jabber:iq:roster'><item jid='eve@evil.test'/></query></iq>`,
	`<iq type='set' id='p2'><query xmlns='jabber:iq:roster' ver='7'><item jid='bob@example.test' subscription='both'><group>G</group></item></query></iq>`,
	`<iq type='get' id='g1' from='example.test'><ping xmlns='urn:xmpp:ping'/></iq>`,
	`<iq type='get' id='g2' from='bob@example.test/x'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
	`<iq type='result' id='nobody' from='bob@example.test/x'/>`,
	`<presence from='bob@example.test/x'><show>dnd</show><status>busy</status><priority>999</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>`,
	`<presence from='bob@example.test' type='subscribe'/>`,
	`<presence from='room@conference.example.test/n'><x xmlns='http://jabber.org/protocol/muc#user'><item role='moderator'/><status code='110'/></x></presence>`,
	`<message xmlns='jabber:server' from='bob@example.test'><body>wrong namespace</body></message>`,
	`<message from='bob@example.test' type='error' id='9'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>gone</text></error></message>`,
	`<message from='bob@example.test'><x xmlns='jabber:x:conference' jid='room@conference.example.test' reason='come'/></message>`,
	`<r xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='x'/>`,
}

// FuzzHandle feeds arbitrary stanzas to the inbound path: whatever the
// input, handling returns (an error at worst) and never panics or blocks.
func FuzzHandle(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newOfflineClient(t)
		_ = feed(c, data)
	})
}

// sanitize is what the builder makes of text: characters XML cannot carry
// become U+FFFD.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || !xmlChar(r) {
			b.WriteRune(utf8.RuneError)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzMessageRoundTrip checks that any text and id we send decode back the
// same (after sanitizing) and never inject markup.
func FuzzMessageRoundTrip(f *testing.F) {
	f.Add("hello", "id1", "bob@example.test")
	f.Add("<body>x</body>&amp;'\"\r\n\t", "a'b\"c<", "bob@example.test/r")
	f.Add("\x00\x01\uFFFE\U0001F600", "", "x")
	f.Fuzz(func(t *testing.T, text, id, to string) {
		m := Message{To: to, ID: id, Type: "chat", Text: text, Thread: text}
		data := messageStanza(&m)
		d := xml.NewDecoder(bytes.NewReader(data))
		d.DefaultSpace = nsClient
		start, err := nextStart(d)
		if err != nil {
			t.Fatalf("not XML: %q: %v", data, err)
		}
		var w wireMessage
		if err := d.DecodeElement(&w, &start); err != nil {
			t.Fatalf("does not decode: %q: %v", data, err)
		}
		if _, err := d.Token(); err == nil {
			t.Fatalf("more than one element: %q", data)
		}
		body, ok := w.body()
		if text != "" && (!ok || body != sanitize(text)) {
			t.Fatalf("body %q, want %q", body, sanitize(text))
		}
		if w.ID != sanitize(id) || w.To != sanitize(to) {
			t.Fatalf("attributes changed: id %q to %q", w.ID, w.To)
		}
		if text != "" && w.Thread != sanitize(text) {
			t.Fatalf("thread %q", w.Thread)
		}
	})
}

func TestHostileInputIsDropped(t *testing.T) {
	c := newOfflineClient(t)
	for _, s := range seeds {
		_ = feed(c, []byte(s))
	}
	h := c.Health()
	// Spoofed carbon, spoofed roster push, unexpected iq result, wrong
	// namespace: each dropped and counted.
	if got := h.Counters["dropped"]; got < 4 {
		t.Fatalf("dropped %d hostile stanzas, want at least 4", got)
	}
}

// FuzzDecodeMessage is differential: the reflection-free message decoder
// (stanzaReader.readMessage) agrees with encoding/xml's DecodeElement on every message both accept.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range seeds {
		if strings.HasPrefix(s, "<message") {
			f.Add([]byte(s))
		}
	}
	f.Add([]byte(`<message><body xml:lang='en'>a<x>y</x>b</body><body>second</body><thread>t</thread><subject>s</subject></message>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		agreesWithEncodingXML(t, data, nameMessage, (*stanzaReader).readMessage)
	})
}

// FuzzDecodePresence is differential: stanzaReader.readPresence agrees
// with encoding/xml's DecodeElement on every presence both accept.
func FuzzDecodePresence(f *testing.F) {
	for _, s := range seeds {
		if strings.HasPrefix(s, "<presence") {
			f.Add([]byte(s))
		}
	}
	f.Add([]byte(`<presence type='unavailable'><status xml:lang='en'>a<b/>c</status><status>2</status><delay xmlns='urn:xmpp:delay' stamp='s'/><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		agreesWithEncodingXML(t, data, namePresence, (*stanzaReader).readPresence)
	})
}

// agreesWithEncodingXML decodes data as a stanza named name both with our
// reader (read) and with encoding/xml's DecodeElement, and fails when both
// accept it but disagree on the result.
func agreesWithEncodingXML[T any](t *testing.T, data []byte, name xml.Name, read func(*stanzaReader, *T) error) {
	t.Helper()
	fast := func() (*T, error) {
		var v T
		tr := xmltok.NewReader(bufio.NewReader(bytes.NewReader(data)), nsClient, nil)
		sr := newStanzaReader(tr)
		k, err := tr.Next()
		if err != nil {
			return nil, err
		}
		if k != xmltok.KindStart || tr.Name() != name {
			return nil, errors.New("not a " + name.Local)
		}
		return &v, read(sr, &v)
	}
	slow := func() (*T, error) {
		var v T
		d := xml.NewDecoder(bytes.NewReader(data))
		d.DefaultSpace = nsClient
		start, err := nextStart(d)
		if err != nil {
			return nil, err
		}
		if start.Name != name {
			return nil, errors.New("not a " + name.Local)
		}
		return &v, d.DecodeElement(&v, &start)
	}
	want, werr := slow()
	got, gerr := fast()
	if werr != nil || gerr != nil {
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("our reader %+v, DecodeElement %+v", got, want)
	}
}
