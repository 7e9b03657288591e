package im

import (
	"encoding/xml"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Namespaces we read and write.
const (
	nsClient     = "jabber:client"
	nsStanzas    = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsRoster     = "jabber:iq:roster"
	nsPing       = "urn:xmpp:ping"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsCaps       = "http://jabber.org/protocol/caps"
	nsReceipts   = "urn:xmpp:receipts"
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsCarbons    = "urn:xmpp:carbons:2"
	nsForward    = "urn:xmpp:forward:0"
	nsMAM        = "urn:xmpp:mam:2"
	nsRSM        = "http://jabber.org/protocol/rsm"
	nsDataForm   = "jabber:x:data"
	nsStanzaID   = "urn:xmpp:sid:0"
	nsDelay      = "urn:xmpp:delay"
	nsMUC        = "http://jabber.org/protocol/muc"
	nsMUCUser    = "http://jabber.org/protocol/muc#user"
	nsMUCOwner   = "http://jabber.org/protocol/muc#owner"
	nsConference = "jabber:x:conference"
	nsBind       = "urn:ietf:params:xml:ns:xmpp-bind"
	nsHints      = "urn:xmpp:hints"
)

// The structs below are what we decode inbound stanzas into. They are
// deliberately flat: only the elements we act on, everything else is
// skipped by encoding/xml.

type wireError struct {
	Type      string
	Condition string
	Text      string
}

func (e *wireError) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for _, a := range start.Attr {
		if a.Name.Local == "type" {
			e.Type = a.Value
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == nsStanzas {
				if t.Name.Local == "text" {
					var s string
					if err := d.DecodeElement(&s, &t); err != nil {
						return err
					}
					e.Text = s
					continue
				}
				if e.Condition == "" {
					e.Condition = t.Name.Local
				}
			}
			if err := d.Skip(); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

func (e *wireError) err() *StanzaError {
	if e == nil {
		return &StanzaError{Type: "cancel", Condition: "undefined-condition"}
	}
	cond := e.Condition
	if cond == "" {
		cond = "undefined-condition"
	}
	return &StanzaError{Type: e.Type, Condition: cond, Text: e.Text}
}

type present struct{}

type wireDelay struct {
	Stamp string `xml:"stamp,attr"`
}

type wireStanzaID struct {
	ID string `xml:"id,attr"`
	By string `xml:"by,attr"`
}

type wireForwarded struct {
	Delay   *wireDelay   `xml:"urn:xmpp:delay delay"`
	Message *wireMessage `xml:"jabber:client message"`
}

type wireCarbon struct {
	Forwarded *wireForwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

type wireMAMResult struct {
	QueryID   string         `xml:"queryid,attr"`
	ID        string         `xml:"id,attr"`
	Forwarded *wireForwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

type wireMUCItem struct {
	Affiliation string `xml:"affiliation,attr"`
	Role        string `xml:"role,attr"`
	JID         string `xml:"jid,attr"`
	Nick        string `xml:"nick,attr"`
}

type wireMUCStatus struct {
	Code int `xml:"code,attr"`
}

type wireMUCInvite struct {
	From   string `xml:"from,attr"`
	Reason string `xml:"http://jabber.org/protocol/muc#user reason"`
}

type wireMUCUser struct {
	Item     *wireMUCItem    `xml:"http://jabber.org/protocol/muc#user item"`
	Statuses []wireMUCStatus `xml:"http://jabber.org/protocol/muc#user status"`
	Invite   *wireMUCInvite  `xml:"http://jabber.org/protocol/muc#user invite"`
	Password string          `xml:"http://jabber.org/protocol/muc#user password"`
}

func (u *wireMUCUser) has(code int) bool {
	if u == nil {
		return false
	}
	for _, s := range u.Statuses {
		if s.Code == code {
			return true
		}
	}
	return false
}

type wireDirectInvite struct {
	JID      string `xml:"jid,attr"`
	Reason   string `xml:"reason,attr"`
	Password string `xml:"password,attr"`
}

type wireText struct {
	Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Text string `xml:",chardata"`
}

type wireMessage struct {
	ID       string     `xml:"id,attr"`
	Type     string     `xml:"type,attr"`
	From     string     `xml:"from,attr"`
	To       string     `xml:"to,attr"`
	Bodies   []wireText `xml:"jabber:client body"`
	Subject  *wireText  `xml:"jabber:client subject"`
	Thread   string     `xml:"jabber:client thread"`
	Error    *wireError `xml:"jabber:client error"`
	Request  *present   `xml:"urn:xmpp:receipts request"`
	Received *struct {
		ID string `xml:"id,attr"`
	} `xml:"urn:xmpp:receipts received"`
	Active       *present          `xml:"http://jabber.org/protocol/chatstates active"`
	Composing    *present          `xml:"http://jabber.org/protocol/chatstates composing"`
	Paused       *present          `xml:"http://jabber.org/protocol/chatstates paused"`
	Inactive     *present          `xml:"http://jabber.org/protocol/chatstates inactive"`
	Gone         *present          `xml:"http://jabber.org/protocol/chatstates gone"`
	CarbonRecv   *wireCarbon       `xml:"urn:xmpp:carbons:2 received"`
	CarbonSent   *wireCarbon       `xml:"urn:xmpp:carbons:2 sent"`
	MAMResult    *wireMAMResult    `xml:"urn:xmpp:mam:2 result"`
	StanzaIDs    []wireStanzaID    `xml:"urn:xmpp:sid:0 stanza-id"`
	Delay        *wireDelay        `xml:"urn:xmpp:delay delay"`
	MUCUser      *wireMUCUser      `xml:"http://jabber.org/protocol/muc#user x"`
	DirectInvite *wireDirectInvite `xml:"jabber:x:conference x"`
}

func (m *wireMessage) body() (string, bool) {
	if len(m.Bodies) == 0 {
		return "", false
	}
	return m.Bodies[0].Text, true
}

func (m *wireMessage) chatState() ChatState {
	switch {
	case m.Composing != nil:
		return ChatComposing
	case m.Paused != nil:
		return ChatPaused
	case m.Inactive != nil:
		return ChatInactive
	case m.Gone != nil:
		return ChatGone
	case m.Active != nil:
		return ChatActive
	}
	return ChatNone
}

type wireCaps struct {
	Hash string `xml:"hash,attr"`
	Node string `xml:"node,attr"`
	Ver  string `xml:"ver,attr"`
}

type wirePresence struct {
	ID       string       `xml:"id,attr"`
	Type     string       `xml:"type,attr"`
	From     string       `xml:"from,attr"`
	To       string       `xml:"to,attr"`
	Show     string       `xml:"jabber:client show"`
	Statuses []wireText   `xml:"jabber:client status"`
	Priority string       `xml:"jabber:client priority"`
	Caps     *wireCaps    `xml:"http://jabber.org/protocol/caps c"`
	MUCUser  *wireMUCUser `xml:"http://jabber.org/protocol/muc#user x"`
	Delay    *wireDelay   `xml:"urn:xmpp:delay delay"`
	Error    *wireError   `xml:"jabber:client error"`
}

type wireRosterItem struct {
	JID          string   `xml:"jid,attr"`
	Name         string   `xml:"name,attr"`
	Subscription string   `xml:"subscription,attr"`
	Ask          string   `xml:"ask,attr"`
	Approved     string   `xml:"approved,attr"`
	Groups       []string `xml:"jabber:iq:roster group"`
}

type wireRoster struct {
	Ver   *string          `xml:"ver,attr"`
	Items []wireRosterItem `xml:"jabber:iq:roster item"`
}

type wireIdentity struct {
	Category string `xml:"category,attr"`
	Type     string `xml:"type,attr"`
	Name     string `xml:"name,attr"`
}

type wireFeature struct {
	Var string `xml:"var,attr"`
}

type wireDiscoInfo struct {
	Node       string         `xml:"node,attr"`
	Identities []wireIdentity `xml:"http://jabber.org/protocol/disco#info identity"`
	Features   []wireFeature  `xml:"http://jabber.org/protocol/disco#info feature"`
}

type wireDiscoItem struct {
	JID  string `xml:"jid,attr"`
	Node string `xml:"node,attr"`
	Name string `xml:"name,attr"`
}

type wireDiscoItems struct {
	Items []wireDiscoItem `xml:"http://jabber.org/protocol/disco#items item"`
}

type wireRSM struct {
	First string `xml:"http://jabber.org/protocol/rsm first"`
	Last  string `xml:"http://jabber.org/protocol/rsm last"`
	Count *int   `xml:"http://jabber.org/protocol/rsm count"`
}

type wireMAMFin struct {
	Complete string   `xml:"complete,attr"`
	Set      *wireRSM `xml:"http://jabber.org/protocol/rsm set"`
}

type wireIQ struct {
	ID         string          `xml:"id,attr"`
	Type       string          `xml:"type,attr"`
	From       string          `xml:"from,attr"`
	To         string          `xml:"to,attr"`
	Roster     *wireRoster     `xml:"jabber:iq:roster query"`
	Ping       *present        `xml:"urn:xmpp:ping ping"`
	DiscoInfo  *wireDiscoInfo  `xml:"http://jabber.org/protocol/disco#info query"`
	DiscoItems *wireDiscoItems `xml:"http://jabber.org/protocol/disco#items query"`
	MAMFin     *wireMAMFin     `xml:"urn:xmpp:mam:2 fin"`
	Error      *wireError      `xml:"jabber:client error"`
	// Other counts payload elements we do not understand, so that a get or
	// set we cannot answer gets service-unavailable.
	Other []present `xml:",any"`
}

func (iq *wireIQ) known() bool {
	return iq.Roster != nil || iq.Ping != nil || iq.DiscoInfo != nil || iq.DiscoItems != nil
}

// builder writes stanzas as bytes. It escapes every attribute value and
// text it is given and drops characters XML 1.0 cannot carry, so that
// nothing a user types can inject markup (the smuggling bugs of other
// clients came from the opposite).
type builder struct{ b []byte }

func (w *builder) open(name string, attrs ...string) *builder {
	w.b = append(w.b, '<')
	w.b = append(w.b, name...)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		w.b = append(w.b, ' ')
		w.b = append(w.b, attrs[i]...)
		w.b = append(w.b, '=', '\'')
		w.b = appendEscaped(w.b, attrs[i+1])
		w.b = append(w.b, '\'')
	}
	w.b = append(w.b, '>')
	return w
}

// empty writes <name attrs…/>.
func (w *builder) empty(name string, attrs ...string) *builder {
	w.open(name, attrs...)
	w.b[len(w.b)-1] = '/'
	w.b = append(w.b, '>')
	return w
}

func (w *builder) text(s string) *builder {
	w.b = appendEscaped(w.b, s)
	return w
}

func (w *builder) close(name string) *builder {
	w.b = append(w.b, '<', '/')
	w.b = append(w.b, name...)
	w.b = append(w.b, '>')
	return w
}

// elem writes <name>text</name>.
func (w *builder) elem(name, text string, attrs ...string) *builder {
	return w.open(name, attrs...).text(text).close(name)
}

func (w *builder) bytes() []byte { return w.b }

// plainASCII marks the bytes appendEscaped copies as they are.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '<' && c != '>' && c != '&' && c != '\'' && c != '"'
	}
	t['\n'], t['\t'] = true, true
	return t
}()

func appendEscaped(b []byte, s string) []byte {
	// Most text and every address is plain ASCII: copy the plain prefix
	// at once.
	i := 0
	for i < len(s) && plainASCII[s[i]] {
		i++
	}
	b = append(b, s[:i]...)
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '<':
				b = append(b, "&lt;"...)
			case c == '>':
				b = append(b, "&gt;"...)
			case c == '&':
				b = append(b, "&amp;"...)
			case c == '\'':
				b = append(b, "&apos;"...)
			case c == '"':
				b = append(b, "&quot;"...)
			case c == '\r':
				b = append(b, "&#xD;"...)
			case c == '\n' || c == '\t' || c >= 0x20:
				b = append(b, c)
			default: // C0 controls: not allowed in XML 1.0
				b = append(b, "\uFFFD"...)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !xmlChar(r) {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return b
}

// xmlChar reports whether r is allowed in XML 1.0 (the Char production).
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// parsePriority reads a presence priority (RFC 6121 section 4.7.2.3),
// clamping to the int8 range; bad input means 0.
func parsePriority(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return max(-128, min(127, n))
}
