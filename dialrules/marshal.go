package dialrules

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
)

// WriteTo writes the rules in canonical form: a DialRules root element with
// one self-closing DialRule element a line, in the order the rules apply,
// using the attribute names of the public files (BeginsWith, NumDigits,
// DigitsToRemove, PrefixWith, priority) and omitting absent ones. Parsing
// the output gives the same rules, Line aside.
func (rs *Rules) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	if rs.Len() == 0 {
		b.WriteString("<DialRules/>\n")
	} else {
		b.WriteString("<DialRules>\n")
		for _, r := range rs.rules {
			b.WriteString("  <DialRule")
			r.appendAttrs(&b)
			b.WriteString("/>\n")
		}
		b.WriteString("</DialRules>\n")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// MarshalXML encodes the rules like [Rules.WriteTo], for use with
// encoding/xml. The element is named DialRules whatever start says.
func (rs *Rules) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	root := xml.StartElement{Name: xml.Name{Local: "DialRules"}}
	if err := e.EncodeToken(root); err != nil {
		return err
	}
	if rs != nil {
		for _, r := range rs.rules {
			el := xml.StartElement{Name: xml.Name{Local: "DialRule"}}
			add := func(name, value string) {
				el.Attr = append(el.Attr, xml.Attr{Name: xml.Name{Local: name}, Value: value})
			}
			if r.BeginsWith != "" {
				add(attrBeginsWith, r.BeginsWith)
			}
			if r.NumDigits != 0 {
				add(attrNumDigits, strconv.Itoa(r.NumDigits))
			}
			if r.DigitsToRemove != 0 {
				add(attrDigitsToRemove, strconv.Itoa(r.DigitsToRemove))
			}
			if r.PrefixWith != "" {
				add(attrPrefixWith, r.PrefixWith)
			}
			if r.HasPriority {
				add(attrPriority, strconv.Itoa(r.Priority))
			}
			if err := e.EncodeToken(el); err != nil {
				return err
			}
			if err := e.EncodeToken(el.End()); err != nil {
				return err
			}
		}
	}
	return e.EncodeToken(root.End())
}
