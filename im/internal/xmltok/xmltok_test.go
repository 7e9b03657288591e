package xmltok

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const streamNS = "http://etherx.jabber.org/streams"

const header = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

func newTestReader(s string) *Reader {
	return NewReader(bufio.NewReader(strings.NewReader(s)), "jabber:client", map[string]string{"stream": streamNS})
}

// stdTokens returns encoding/xml's tokens for data inside a stream, up to
// its first error or the stream's end.
func stdTokens(data []byte) ([]xml.Token, error) {
	d := xml.NewDecoder(io.MultiReader(strings.NewReader(header), bytes.NewReader(data)))
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	var out []xml.Token
	for {
		tok, err := d.Token()
		if err != nil {
			return out, err
		}
		if e, ok := tok.(xml.EndElement); ok && e.Name.Space == streamNS && e.Name.Local == "stream" {
			return out, io.EOF
		}
		out = append(out, xml.CopyToken(tok))
	}
}

func ourTokens(data []byte) ([]xml.Token, error) {
	r := newTestReader(string(data))
	var out []xml.Token
	for {
		tok, err := r.Token()
		if err != nil {
			return out, err
		}
		out = append(out, tok)
	}
}

func TestTokensMatchEncodingXML(t *testing.T) {
	for _, s := range []string{
		`<message to='a@b/c' id="x&amp;y"><body>hi &lt;b&gt; &#x1F600; &#65;</body></message>`,
		`<iq type='get'><q:query xmlns:q='urn:x' q:attr='v'><q:item/></q:query></iq>`,
		`<presence><x xmlns='http://jabber.org/protocol/muc#user'><item role='moderator'/></x></presence>`,
		`<message xml:lang='en'><body><![CDATA[<not markup>]]></body></message>`,
		"<message>\r\n<body>a\rb</body></message>",
		` <r xmlns='urn:xmpp:sm:3'/> `,
		`</stream:stream>`,
	} {
		want, werr := stdTokens([]byte(s))
		got, gerr := ourTokens([]byte(s))
		assert.Equal(t, norm(want), norm(got), s)
		assert.Equal(t, werr == io.EOF, gerr == io.EOF, "%s: %v / %v", s, werr, gerr)
	}
}

func TestRestrictedXML(t *testing.T) {
	for _, s := range []string{
		`<!-- comment --><message/>`,
		`<?pi x?><message/>`,
		`<!DOCTYPE x><message/>`,
		`<message>&custom;</message>`,
	} {
		_, err := ourTokens([]byte(s))
		assert.ErrorIs(t, err, ErrRestricted, s)
	}
}

func TestMalformed(t *testing.T) {
	for _, s := range []string{
		`<message></body>`,
		`<message a='1' a='2'/>`,
		`<message a=1/>`,
		`<message><body>x`,
		`<message a='<'/>`,
		"<message>\xff</message>",
	} {
		_, err := ourTokens([]byte(s))
		assert.Error(t, err, s)
		assert.NotErrorIs(t, err, io.EOF, s)
	}
}

func TestDepthLimit(t *testing.T) {
	_, err := ourTokens([]byte(strings.Repeat("<a>", 300)))
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Contains(t, se.Msg, "too deep")
}

func TestDecodeElementThroughTokenDecoder(t *testing.T) {
	r := newTestReader(`<message from='b@x/y' id='1'><body>hello</body><thread>t</thread></message>`)
	d := xml.NewTokenDecoder(r)
	tok, err := d.Token()
	require.NoError(t, err)
	start := tok.(xml.StartElement)
	var m struct {
		From string `xml:"from,attr"`
		Body string `xml:"jabber:client body"`
	}
	require.NoError(t, d.DecodeElement(&m, &start))
	assert.Equal(t, "b@x/y", m.From)
	assert.Equal(t, "hello", m.Body)
}

// norm makes empty attribute lists nil, for comparison.
func norm(toks []xml.Token) []xml.Token {
	out := make([]xml.Token, len(toks))
	for i, tok := range toks {
		if se, ok := tok.(xml.StartElement); ok && len(se.Attr) == 0 {
			se.Attr = nil
			tok = se
		}
		out[i] = tok
	}
	return out
}

// FuzzTokens is differential: wherever encoding/xml reads a token, we
// read the same one, except that we refuse what RFC 6120 forbids.
func FuzzTokens(f *testing.F) {
	for _, s := range []string{
		`<message to='a@b/c'><body>x &amp; y</body></message>`,
		`<p:a xmlns:p='u'><p:b p:c='d'/></p:a>`,
		`<a xmlns='n'><b xmlns=''/></a>`,
		`<a><![CDATA[]]]]><![CDATA[>]]></a>`,
		`<a b="&#10;&#x9;"/>`,
		`<a>&#0;</a>`,
		`</stream:stream>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := stdTokens(data)
		got, gerr := ourTokens(data)
		n := min(len(want), len(got))
		for i := range n {
			if !reflect.DeepEqual(norm(want[i:i+1]), norm(got[i:i+1])) {
				t.Fatalf("token %d: encoding/xml %#v, xmltok %#v", i, want[i], got[i])
			}
		}
		if len(got) < len(want) {
			// We stopped early: only for what the RFC forbids, or names
			// and references encoding/xml is laxer about.
			if gerr == nil || errors.Is(gerr, io.EOF) {
				t.Fatalf("xmltok ended after %d tokens without error, encoding/xml read %d", len(got), len(want))
			}
		}
		if len(got) == len(want) && (werr == io.EOF) != (gerr == io.EOF) {
			t.Fatalf("stream end: encoding/xml %v, xmltok %v", werr, gerr)
		}
	})
}

func TestBudgetDropsBigElementAndGoesOn(t *testing.T) {
	big := `<message id='big'><body>` + strings.Repeat("x&amp;", 100000) + `</body><x a='` + strings.Repeat("y", 5000) + `'/></message>`
	r := newTestReader(big + `<message id='next'><body>ok</body></message>`)
	r.Budget = 4096
	var err error
	for err == nil {
		_, err = r.Token()
	}
	var tb *TooBigError
	require.ErrorAs(t, err, &tb)
	assert.Equal(t, "message", tb.Name.Local)
	assert.Greater(t, tb.Size, int64(500000))
	assert.Less(t, cap(r.buf), 64<<10, "the dropped text was not kept")
	tok, err := r.Token()
	require.NoError(t, err)
	se := tok.(xml.StartElement)
	assert.Equal(t, "next", se.Attr[0].Value)
	assert.Equal(t, 1, r.Depth())
}

func TestNameTooLong(t *testing.T) {
	_, err := ourTokens([]byte("<" + strings.Repeat("a", 5000) + "/>"))
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
}

func TestNextViewsAndSkip(t *testing.T) {
	r := newTestReader(`<message from='a@b/c' xmlns:x='urn:x' x:y='1'><x:q><deep>t</deep></x:q><body>a&amp;b</body></message>`)
	k, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, KindStart, k)
	assert.Equal(t, xml.Name{Space: "jabber:client", Local: "message"}, r.Name())
	assert.Equal(t, "a@b/c", string(r.Attr("from")))
	assert.Nil(t, r.Attr("y"), "a namespaced attribute is not Attr's")
	assert.Equal(t, "urn:x", r.StartElement().Attr[2].Name.Space)

	k, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, KindStart, k)
	assert.Equal(t, xml.Name{Space: "urn:x", Local: "q"}, r.Name())
	require.NoError(t, r.Skip())

	k, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, KindStart, k)
	assert.Equal(t, "body", r.Name().Local)
	k, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, KindText, k)
	assert.Equal(t, "a&b", string(r.Text()))
	for _, want := range []string{"body", "message"} {
		k, err = r.Next()
		require.NoError(t, err)
		require.Equal(t, KindEnd, k)
		assert.Equal(t, want, r.Name().Local)
	}
	assert.Equal(t, 0, r.Depth())
}
