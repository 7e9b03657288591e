package provision

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/opencsf/opencsf/config"
)

// JabberGroups are the groups of jabber-config.xml, as documented for
// Cisco Jabber.
var JabberGroups = []string{"Client", "Directory", "Options", "Phone", "Policies", "Presence", "Voicemail"}

// JabberConfig is a parsed jabber-config.xml: the client configuration
// that an administrator publishes next to the device configurations. It
// is immutable once parsed.
type JabberConfig struct {
	Version string // the root's version attribute
	// Entries are the values in file order. A key with nested elements
	// (such as a custom tab definition) holds its inner XML as written.
	Entries []JabberEntry
}

// JabberEntry is one value of jabber-config.xml.
type JabberEntry struct {
	Group string // e.g. "Phone"; in the file's spelling
	Key   string // e.g. "TftpServer1"
	Value string // text with surrounding white space removed
	Line  int    // line of the key's start tag
}

// Get returns the value of key in group (both matched ignoring case).
func (j *JabberConfig) Get(group, key string) (string, bool) {
	for _, e := range j.Entries {
		if strings.EqualFold(e.Group, group) && strings.EqualFold(e.Key, key) {
			return e.Value, true
		}
	}
	return "", false
}

// ParseJabberConfig reads jabber-config.xml, naming it name in errors. The
// root must be config; its children are groups and theirs are keys. Groups
// outside [JabberGroups] are kept. Errors are [*FileError] matching
// [ErrInvalid].
func ParseJabberConfig(name string, r io.Reader) (*JabberConfig, error) {
	data, err := readLimited(r)
	if err != nil {
		return nil, invalid(name, "", err)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charsetReader
	j := &JabberConfig{}
	root, err := nextStart(d)
	if err != nil {
		return nil, invalid(name, "", err)
	}
	if root.Name.Local != "config" {
		return nil, invalid(name, "", fmt.Errorf("root element is <%s>, want <config>", root.Name.Local))
	}
	for _, a := range root.Attr {
		if a.Name.Local == "version" {
			j.Version = a.Value
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, invalid(name, "config", fmt.Errorf("unexpected end: %w", err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := j.parseGroup(d, t); err != nil {
				return nil, invalid(name, "config/"+t.Name.Local, err)
			}
		case xml.EndElement:
			// decodeStrict-like check of what follows the root.
			if err := trailing(d); err != nil {
				return nil, invalid(name, "", err)
			}
			return j, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, invalid(name, "config", fmt.Errorf("text %q between groups", bytes.TrimSpace(t)))
			}
		}
	}
}

func (j *JabberConfig) parseGroup(d *xml.Decoder, g xml.StartElement) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			line, _ := d.InputPos() // the line where the start tag ends
			var v struct {
				Text  string `xml:",chardata"`
				Inner string `xml:",innerxml"`
			}
			if err := d.DecodeElement(&v, &t); err != nil {
				return err
			}
			val := strings.TrimSpace(v.Text)
			if strings.Contains(v.Inner, "<") && strings.Contains(strings.TrimSpace(v.Inner), "</") {
				val = strings.TrimSpace(v.Inner)
			}
			j.Entries = append(j.Entries, JabberEntry{Group: g.Name.Local, Key: t.Name.Local, Value: val, Line: line})
		case xml.EndElement:
			return nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return fmt.Errorf("text %q between keys", bytes.TrimSpace(t))
			}
		}
	}
}

func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return xml.StartElement{}, fmt.Errorf("no root element")
		}
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, fmt.Errorf("text before the root element")
			}
		}
	}
}

func trailing(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.Comment, xml.ProcInst:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return fmt.Errorf("text after the root element")
			}
		default:
			return fmt.Errorf("content after the root element")
		}
	}
}

// jabberAliases maps jabber-config.xml keys whose OpenCSF key has another
// name, and says which port to add to a host without one.
var jabberAliases = map[string]struct {
	key  string
	port string
}{
	"tftpserver1":            {config.KeyTftpServer1, "69"},
	"tftpserver2":            {config.KeyTftpServer2, "69"},
	"primaryservername":      {config.KeyLdapServer, "389"},
	"ldap_primaryservername": {config.KeyLdapServer, "389"},
	"searchbase1":            {config.KeyLdapBaseDN, ""},
	"connectionusername":     {config.KeyLdapBindDN, ""},
	"connectionpassword":     {config.KeyLdapPassword, ""},
	"voicemailprimaryserver": {config.KeyVoicemailPrimaryServer, "993"},
}

// Sources turns the configuration into layered settings: the entries of
// the Policies group into policy (for the policy layer, source name
// name+"#Policies"), every other group into server (the server layer,
// source name name). Only keys of the OpenCSF schema are taken, by the
// same name or a Jabber alias (TftpServer1, PrimaryServerName,
// SearchBase1, ConnectionUsername, ConnectionPassword); a host without a
// port gets the service's usual one. The rest of the file stays readable
// with [JabberConfig.Get]; ignored lists the entries not taken, each with
// the reason.
//
// Precedence, lowest first: schema defaults < server layer (this file's
// groups other than Policies, and the device configuration) < the user's
// own settings (config file, user registry, environment) < policy layer
// (this file's Policies, Policies registry keys) < code. So a user can
// override what the server proposes but not what the administrator
// imposes as policy.
func (j *JabberConfig) Sources(name string) (server, policy *config.Source, ignored []string) {
	server = config.NewSource(name)
	policy = config.NewSource(name + "#Policies")
	for _, e := range j.Entries {
		key, value := e.Key, e.Value
		if a, ok := jabberAliases[strings.ToLower(key)]; ok {
			key = a.key
			if a.port != "" && value != "" {
				if _, _, err := net.SplitHostPort(value); err != nil {
					value = net.JoinHostPort(value, a.port)
				}
			}
		}
		if _, ok := config.LookupKey(key); !ok {
			ignored = append(ignored, fmt.Sprintf("%s:%d: %s/%s: not an OpenCSF setting", name, e.Line, e.Group, e.Key))
			continue
		}
		dst := server
		if strings.EqualFold(e.Group, "Policies") {
			dst = policy
		}
		if err := dst.Set(key, value); err != nil {
			ignored = append(ignored, fmt.Sprintf("%s:%d: %s/%s: %v", name, e.Line, e.Group, e.Key, err))
		}
	}
	return server, policy, ignored
}
