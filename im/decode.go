package im

import (
	"encoding/xml"

	"github.com/opencsf/opencsf/im/internal/xmltok"
)

// stanzaReader reads the stanzas of one stream. Chat messages, most of
// what a client receives, are decoded straight from the tokenizer's
// buffers (xmltok.Reader.Next) into a reused wireMessage: the only memory
// a plain chat message costs is the strings the event keeps. Everything
// else (presence, IQs, and the rarer children of a message: carbons,
// archive results, MUC, errors) goes through encoding/xml's struct
// mapping, fed from the same tokenizer.
type stanzaReader struct {
	tr *xmltok.Reader
	rp replay
	d  *xml.Decoder

	msg    wireMessage // reused for every message
	bodies [1]wireText // backing for msg.Bodies in the usual case
	sids   [2]wireStanzaID
	text   []byte
	addrs  recentStrings
}

func newStanzaReader(tr *xmltok.Reader) *stanzaReader {
	sr := &stanzaReader{tr: tr}
	sr.rp.tr = tr
	sr.d = xml.NewTokenDecoder(&sr.rp)
	return sr
}

// reset forgets the decoder's state after an error inside an element
// (an oversized stanza): the old decoder saw a start without its end.
func (sr *stanzaReader) reset() { sr.d = xml.NewTokenDecoder(&sr.rp) }

// replay gives encoding/xml the start tag the tokenizer has just read,
// then the tokens after it.
type replay struct {
	tr   *xmltok.Reader
	next *xml.StartElement
}

func (r *replay) Token() (xml.Token, error) {
	if r.next != nil {
		t := *r.next
		r.next = nil
		return t, nil
	}
	return r.tr.Token()
}

// begin hands the start tag just read to the decoder and returns it, for
// decoding the element with d.DecodeElement(v, &start).
func (sr *stanzaReader) begin() (xml.StartElement, error) {
	start := sr.tr.StartElement()
	sr.rp.next = &start
	tok, err := sr.d.Token()
	if err != nil {
		return start, err
	}
	return tok.(xml.StartElement), nil
}

// decode maps the element whose start tag was just read onto v with
// encoding/xml.
func (sr *stanzaReader) decode(v any) error {
	start := sr.tr.StartElement()
	sr.rp.next = &start
	return sr.d.DecodeElement(v, nil)
}

var (
	nameMessage  = xml.Name{Space: nsClient, Local: "message"}
	namePresence = xml.Name{Space: nsClient, Local: "presence"}
)

// readMessage decodes the message whose start tag was just read into m,
// as d.DecodeElement(m, &start) would.
func (sr *stanzaReader) readMessage(m *wireMessage) error {
	for _, a := range sr.tr.Attrs() {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "id":
			m.ID = string(a.Value)
		case "type":
			m.Type = stanzaType(a.Value)
		case "from":
			m.From = sr.addrs.get(a.Value)
		case "to":
			m.To = sr.addrs.get(a.Value)
		}
	}
	for {
		k, err := sr.tr.Next()
		if err != nil {
			return err
		}
		switch k {
		case xmltok.KindEnd:
			return nil
		case xmltok.KindStart:
			if err := sr.messageChild(m); err != nil {
				return err
			}
		}
	}
}

var (
	nameBody     = xml.Name{Space: nsClient, Local: "body"}
	nameThread   = xml.Name{Space: nsClient, Local: "thread"}
	nameSubject  = xml.Name{Space: nsClient, Local: "subject"}
	nameError    = xml.Name{Space: nsClient, Local: "error"}
	nameRequest  = xml.Name{Space: nsReceipts, Local: "request"}
	nameReceived = xml.Name{Space: nsReceipts, Local: "received"}
	nameStanzaID = xml.Name{Space: nsStanzaID, Local: "stanza-id"}
	nameDelay    = xml.Name{Space: nsDelay, Local: "delay"}
	nameCarbRecv = xml.Name{Space: nsCarbons, Local: "received"}
	nameCarbSent = xml.Name{Space: nsCarbons, Local: "sent"}
	nameMAM      = xml.Name{Space: nsMAM, Local: "result"}
	nameMUCUser  = xml.Name{Space: nsMUCUser, Local: "x"}
	nameConfX    = xml.Name{Space: nsConference, Local: "x"}
)

func (sr *stanzaReader) messageChild(m *wireMessage) error {
	tr := sr.tr
	switch tr.Name() {
	case nameBody:
		lang := sr.lang()
		s, err := sr.readText()
		if m.Bodies == nil {
			m.Bodies = sr.bodies[:0]
		}
		m.Bodies = append(m.Bodies, wireText{Lang: lang, Text: s})
		return err
	case nameThread:
		s, err := sr.readText()
		m.Thread = s
		return err
	case nameSubject:
		lang := sr.lang()
		s, err := sr.readText()
		m.Subject = &wireText{Lang: lang, Text: s}
		return err
	case nameRequest:
		m.Request = &present{}
	case nameReceived:
		m.Received = &struct {
			ID string `xml:"id,attr"`
		}{ID: string(tr.Attr("id"))}
	case nameStanzaID:
		if m.StanzaIDs == nil {
			m.StanzaIDs = sr.sids[:0]
		}
		m.StanzaIDs = append(m.StanzaIDs, wireStanzaID{ID: string(tr.Attr("id")), By: sr.addrs.get(tr.Attr("by"))})
	case nameDelay:
		m.Delay = &wireDelay{Stamp: string(tr.Attr("stamp"))}
	case nameError:
		m.Error = &wireError{}
		return sr.decode(m.Error)
	case nameCarbRecv:
		m.CarbonRecv = &wireCarbon{}
		return sr.decode(m.CarbonRecv)
	case nameCarbSent:
		m.CarbonSent = &wireCarbon{}
		return sr.decode(m.CarbonSent)
	case nameMAM:
		m.MAMResult = &wireMAMResult{}
		return sr.decode(m.MAMResult)
	case nameMUCUser:
		m.MUCUser = &wireMUCUser{}
		return sr.decode(m.MUCUser)
	case nameConfX:
		m.DirectInvite = &wireDirectInvite{}
		return sr.decode(m.DirectInvite)
	default:
		if n := tr.Name(); n.Space == nsChatStates {
			switch n.Local {
			case "active":
				m.Active = &present{}
			case "composing":
				m.Composing = &present{}
			case "paused":
				m.Paused = &present{}
			case "inactive":
				m.Inactive = &present{}
			case "gone":
				m.Gone = &present{}
			}
		}
	}
	return tr.Skip()
}

// readText returns the character data directly inside the current element
// and consumes it up to its end; text of nested elements is skipped, as
// encoding/xml's ",chardata" does.
func (sr *stanzaReader) readText() (string, error) {
	sr.text = sr.text[:0]
	for {
		k, err := sr.tr.Next()
		if err != nil {
			return "", err
		}
		switch k {
		case xmltok.KindText:
			sr.text = append(sr.text, sr.tr.Text()...)
		case xmltok.KindStart:
			if err := sr.tr.Skip(); err != nil {
				return "", err
			}
		case xmltok.KindEnd:
			return string(sr.text), nil
		}
	}
}

// lang is the current start tag's xml:lang.
func (sr *stanzaReader) lang() string {
	for _, a := range sr.tr.Attrs() {
		if a.Name.Local == "lang" && a.Name.Space == "http://www.w3.org/XML/1998/namespace" {
			return sr.addrs.get(a.Value)
		}
	}
	return ""
}

// stanzaType returns a stanza's type attribute, without a new string for
// the types RFC 6120 defines.
func stanzaType(b []byte) string {
	for _, t := range [...]string{"chat", "normal", "groupchat", "headline", "error"} {
		if string(b) == t {
			return t
		}
	}
	return string(b)
}

// recentStrings returns a string for bytes, the same one as last time
// when the bytes were seen lately: the addresses of a conversation repeat
// on every message.
type recentStrings struct {
	s    [8]string
	next int
}

func (r *recentStrings) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for _, s := range r.s {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	r.s[r.next] = s
	r.next = (r.next + 1) % len(r.s)
	return s
}

var (
	nameShow     = xml.Name{Space: nsClient, Local: "show"}
	nameStatus   = xml.Name{Space: nsClient, Local: "status"}
	namePriority = xml.Name{Space: nsClient, Local: "priority"}
	nameCaps     = xml.Name{Space: nsCaps, Local: "c"}
)

// readPresence decodes the presence whose start tag was just read into p,
// as d.DecodeElement(p, &start) would: a login brings the presence of
// every contact at once.
func (sr *stanzaReader) readPresence(p *wirePresence) error {
	for _, a := range sr.tr.Attrs() {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "id":
			p.ID = string(a.Value)
		case "type":
			p.Type = sr.addrs.get(a.Value)
		case "from":
			p.From = string(a.Value)
		case "to":
			p.To = sr.addrs.get(a.Value)
		}
	}
	for {
		k, err := sr.tr.Next()
		if err != nil {
			return err
		}
		switch k {
		case xmltok.KindEnd:
			return nil
		case xmltok.KindStart:
			if err := sr.presenceChild(p); err != nil {
				return err
			}
		}
	}
}

func (sr *stanzaReader) presenceChild(p *wirePresence) error {
	tr := sr.tr
	switch tr.Name() {
	case nameShow:
		s, err := sr.readText()
		p.Show = s
		return err
	case nameStatus:
		lang := sr.lang()
		s, err := sr.readText()
		p.Statuses = append(p.Statuses, wireText{Lang: lang, Text: s})
		return err
	case namePriority:
		s, err := sr.readText()
		p.Priority = s
		return err
	case nameCaps:
		p.Caps = &wireCaps{Hash: sr.addrs.get(tr.Attr("hash")), Node: sr.addrs.get(tr.Attr("node")), Ver: sr.addrs.get(tr.Attr("ver"))}
	case nameDelay:
		p.Delay = &wireDelay{Stamp: string(tr.Attr("stamp"))}
	case nameMUCUser:
		p.MUCUser = &wireMUCUser{}
		return sr.decode(p.MUCUser)
	case nameError:
		p.Error = &wireError{}
		return sr.decode(p.Error)
	}
	return tr.Skip()
}
