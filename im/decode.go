package im

import "encoding/xml"

// decodeMessage decodes a message stanza like d.DecodeElement(m, &start)
// would, without reflection for the elements of everyday chat (body,
// thread, receipts, chat states, stanza-id, delay); rarer children
// (carbons, archive results, MUC, errors) still go through DecodeElement.
// A plain chat message is most of what a client receives, and reflection
// was half of the cost of receiving one.
func decodeMessage(d *xml.Decoder, start xml.StartElement, m *wireMessage) error {
	for _, a := range start.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "id":
			m.ID = a.Value
		case "type":
			m.Type = a.Value
		case "from":
			m.From = a.Value
		case "to":
			m.To = a.Value
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if err := m.decodeChild(d, t); err != nil {
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

func (m *wireMessage) decodeChild(d *xml.Decoder, t xml.StartElement) error {
	switch t.Name {
	case nameBody:
		s, err := readText(d)
		m.Bodies = append(m.Bodies, wireText{Lang: xmlLang(t), Text: s})
		return err
	case nameThread:
		s, err := readText(d)
		m.Thread = s
		return err
	case nameSubject:
		s, err := readText(d)
		m.Subject = &wireText{Lang: xmlLang(t), Text: s}
		return err
	case nameRequest:
		m.Request = &present{}
	case nameReceived:
		m.Received = &struct {
			ID string `xml:"id,attr"`
		}{ID: attrValue(t, "id")}
	case nameStanzaID:
		m.StanzaIDs = append(m.StanzaIDs, wireStanzaID{ID: attrValue(t, "id"), By: attrValue(t, "by")})
	case nameDelay:
		m.Delay = &wireDelay{Stamp: attrValue(t, "stamp")}
	case nameError:
		m.Error = &wireError{}
		return d.DecodeElement(m.Error, &t)
	case nameCarbRecv:
		m.CarbonRecv = &wireCarbon{}
		return d.DecodeElement(m.CarbonRecv, &t)
	case nameCarbSent:
		m.CarbonSent = &wireCarbon{}
		return d.DecodeElement(m.CarbonSent, &t)
	case nameMAM:
		m.MAMResult = &wireMAMResult{}
		return d.DecodeElement(m.MAMResult, &t)
	case nameMUCUser:
		m.MUCUser = &wireMUCUser{}
		return d.DecodeElement(m.MUCUser, &t)
	case nameConfX:
		m.DirectInvite = &wireDirectInvite{}
		return d.DecodeElement(m.DirectInvite, &t)
	default:
		if t.Name.Space == nsChatStates {
			switch t.Name.Local {
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
	return d.Skip()
}

// readText returns the character data directly inside the current element
// and consumes it up to its end; text of nested elements is skipped, as
// encoding/xml's ",chardata" does.
func readText(d *xml.Decoder) (string, error) {
	// CharData is valid only until the next Token call: copy at once. One
	// piece (the usual case) costs one string.
	var first string
	var buf []byte
	n := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			switch n {
			case 0:
				first = string(t)
			case 1:
				buf = append(append(buf, first...), t...)
			default:
				buf = append(buf, t...)
			}
			n++
		case xml.StartElement:
			if err := d.Skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			if n <= 1 {
				return first, nil
			}
			return string(buf), nil
		}
	}
}

func xmlLang(t xml.StartElement) string {
	for _, a := range t.Attr {
		if a.Name.Local == "lang" && a.Name.Space == "http://www.w3.org/XML/1998/namespace" {
			return a.Value
		}
	}
	return ""
}
