package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Type is the type of a key's value. Every value is parsed to its type when
// its source is loaded, so a [Snapshot] only holds valid values.
type Type int

// The value types. The comment says what the text form must look like and
// what the typed getter on [Snapshot] returns.
const (
	TypeString   Type = iota + 1 // any text; Snapshot.String
	TypeSecret                   // any text, never printed; Snapshot.Secret
	TypeBool                     // true/false, 1/0, yes/no, on/off; Snapshot.Bool
	TypeInt                      // decimal integer; Snapshot.Int
	TypeDuration                 // Go duration ("5m") or whole seconds ("300"); Snapshot.Duration
	TypeList                     // comma-separated text, a YAML sequence or REG_MULTI_SZ; Snapshot.List
	TypeHostPort                 // host:port with a numeric port; Snapshot.String
	TypeURL                      // absolute http or https URL; Snapshot.String
	TypePath                     // file system path; Snapshot.String
	TypeEnum                     // one of Key.Allowed, case-insensitive; Snapshot.String
)

var typeNames = [...]string{
	TypeString: "string", TypeSecret: "secret", TypeBool: "bool", TypeInt: "int",
	TypeDuration: "duration", TypeList: "list", TypeHostPort: "hostport",
	TypeURL: "url", TypePath: "path", TypeEnum: "enum",
}

// String returns the type's name as used in the design note, such as
// "hostport".
func (t Type) String() string {
	if t > 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Key describes one configuration key.
type Key struct {
	Name    string   // canonical spelling, as in CSF admin data
	Type    Type     // how values are parsed and which getter returns them
	Default string   // text form of the default; empty means empty
	Allowed []string // the allowed values of a TypeEnum key, lower case
	Doc     string   // one line for help output
}

// The key names of the schema, in canonical spelling. Lookups accept any
// case; reports always use these spellings.
const (
	KeyLogLevel                = "LogLevel"
	KeyStopWhenLastAppDetaches = "StopWhenLastAppDetaches"
	KeyUserName                = "UserName"
	KeyPassword                = "Password"
	KeyDomain                  = "Domain"
	KeyTrustedCAFile           = "TrustedCAFile"
	KeyUseSystemTrustStore     = "UseSystemTrustStore"
	KeyPresenceServerAddress   = "PresenceServerAddress"
	KeyPresenceDomain          = "PresenceDomain"
	KeyXmppResource            = "XmppResource"
	KeyPresencePriority        = "PresencePriority"
	KeyEnableCalendarPresence  = "EnableCalendarPresence"
	KeyCalendarServerURL       = "CalendarServerURL"
	KeyCalendarUserName        = "CalendarUserName"
	KeyCalendarPassword        = "CalendarPassword"
	KeySipRegistrar            = "SipRegistrar"
	KeySipTransport            = "SipTransport"
	KeySipUserName             = "SipUserName"
	KeySipPassword             = "SipPassword"
	KeyVoicemailPrimaryServer  = "VoicemailPrimaryServer"
	KeyVoicemailTLS            = "VoicemailTLS"
	KeyVoicemailFolder         = "VoicemailFolder"
	KeyVoicemailUserName       = "VoicemailUserName"
	KeyVoicemailPassword       = "VoicemailPassword"
	KeyTftpServer1             = "TftpServer1"
	KeyTftpServer2             = "TftpServer2"
	KeyHttpFileServer          = "HttpFileServer"
	KeyDeviceName              = "DeviceName"
	KeyProvisionPollInterval   = "ProvisionPollInterval"
	KeyLdapServer              = "LdapServer"
	KeyLdapBaseDN              = "LdapBaseDN"
	KeyLdapBindDN              = "LdapBindDN"
	KeyLdapPassword            = "LdapPassword"
)

// schema is the table of design/foundation.md, in its order.
var schema = []Key{
	{KeyLogLevel, TypeEnum, "info", []string{"debug", "info", "warn", "error"}, "framework log level"},
	{KeyStopWhenLastAppDetaches, TypeBool, "false", nil, "CUPC 8 behaviour (true) or CUCIMOC (false)"},
	{KeyUserName, TypeString, "", nil, "account user (local part)"},
	{KeyPassword, TypeSecret, "", nil, "account password"},
	{KeyDomain, TypeString, "", nil, "account domain, e.g. example.test"},
	{KeyTrustedCAFile, TypePath, "", nil, "PEM bundle added to the trust store"},
	{KeyUseSystemTrustStore, TypeBool, "true", nil, "also trust the system roots"},
	{KeyPresenceServerAddress, TypeHostPort, "", nil, "XMPP server; empty means SRV lookup of PresenceDomain"},
	{KeyPresenceDomain, TypeString, "", nil, "XMPP domain; empty means Domain"},
	{KeyXmppResource, TypeString, "opencsf", nil, "XMPP resource"},
	{KeyPresencePriority, TypeList, "phone,calendar,availability", nil, "order of presence facets"},
	{KeyEnableCalendarPresence, TypeBool, "true", nil, `show "in a meeting" from the calendar`},
	{KeyCalendarServerURL, TypeURL, "", nil, "CalDAV collection"},
	{KeyCalendarUserName, TypeString, "", nil, "empty means UserName"},
	{KeyCalendarPassword, TypeSecret, "", nil, "empty means Password"},
	{KeySipRegistrar, TypeHostPort, "", nil, "registrar/proxy"},
	{KeySipTransport, TypeEnum, "tls", []string{"udp", "tcp", "tls"}, "SIP transport"},
	{KeySipUserName, TypeString, "", nil, "empty means UserName"},
	{KeySipPassword, TypeSecret, "", nil, "empty means Password"},
	{KeyVoicemailPrimaryServer, TypeHostPort, "", nil, "IMAP server"},
	{KeyVoicemailTLS, TypeEnum, "implicit", []string{"implicit", "starttls"}, "how IMAP gets TLS"},
	{KeyVoicemailFolder, TypeString, "INBOX", nil, "folder holding voice messages"},
	{KeyVoicemailUserName, TypeString, "", nil, "empty means UserName@Domain"},
	{KeyVoicemailPassword, TypeSecret, "", nil, "empty means Password"},
	{KeyTftpServer1, TypeHostPort, "", nil, "provisioning TFTP server"},
	{KeyTftpServer2, TypeHostPort, "", nil, "fallback TFTP server"},
	{KeyHttpFileServer, TypeURL, "", nil, "CUCM-style HTTP file service (port 6970)"},
	{KeyDeviceName, TypeString, "", nil, `CSF device name; empty means "CSF"+UserName`},
	{KeyProvisionPollInterval, TypeDuration, "5m", nil, "how often provisioned files are checked"},
	{KeyLdapServer, TypeHostPort, "", nil, "directory server"},
	{KeyLdapBaseDN, TypeString, "", nil, "search base"},
	{KeyLdapBindDN, TypeString, "", nil, "bind DN"},
	{KeyLdapPassword, TypeSecret, "", nil, "bind password"},
}

// byFold maps the lower-case key name to its index in schema.
var byFold = func() map[string]int {
	m := make(map[string]int, len(schema))
	for i, k := range schema {
		m[strings.ToLower(k.Name)] = i
	}
	return m
}()

// Keys returns the schema sorted by name. The slice is a copy.
func Keys() []Key {
	ks := make([]Key, len(schema))
	for i, k := range schema {
		k.Allowed = slices.Clone(k.Allowed)
		ks[i] = k
	}
	slices.SortFunc(ks, func(a, b Key) int { return strings.Compare(a.Name, b.Name) })
	return ks
}

// LookupKey finds a key by name, ignoring case as the Windows registry
// does. The returned Key has the canonical spelling.
func LookupKey(name string) (Key, bool) {
	i, ok := byFold[strings.ToLower(name)]
	if !ok {
		return Key{}, false
	}
	k := schema[i]
	k.Allowed = slices.Clone(k.Allowed)
	return k, true
}

// lookup is LookupKey without the copy.
func lookup(name string) (*Key, bool) {
	i, ok := byFold[strings.ToLower(name)]
	if !ok {
		return nil, false
	}
	return &schema[i], true
}

// parse turns the text form of a value into its typed form: string, Secret,
// bool, int, time.Duration or []string. Errors wrap ErrBadValue.
func (k *Key) parse(text string) (any, error) {
	switch k.Type {
	case TypeString:
		return text, nil
	case TypeSecret:
		return Secret(text), nil
	case TypePath:
		if strings.ContainsRune(text, 0) {
			return nil, badValuef("path contains a NUL byte")
		}
		return text, nil
	case TypeBool:
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "true", "1", "yes", "on":
			return true, nil
		case "false", "0", "no", "off":
			return false, nil
		}
		return nil, badValuef("%q is not a boolean (true or false)", text)
	case TypeInt:
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			return nil, badValuef("%q is not an integer", text)
		}
		return n, nil
	case TypeDuration:
		t := strings.TrimSpace(text)
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			return secondsDuration(n)
		}
		d, err := time.ParseDuration(t)
		if err != nil {
			return nil, badValuef("%q is not a duration (such as 5m, or 300 for seconds)", text)
		}
		if d < 0 {
			return nil, badValuef("%q is a negative duration", text)
		}
		return d, nil
	case TypeList:
		var items []string
		for it := range strings.SplitSeq(text, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		return items, nil
	case TypeHostPort:
		t := strings.TrimSpace(text)
		if t == "" {
			return "", nil
		}
		host, port, err := net.SplitHostPort(t)
		if err != nil || host == "" || strings.ContainsAny(host, " \t/\\@") {
			return nil, badValuef("%q is not host:port", text)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return nil, badValuef("%q has a bad port (want 1 to 65535)", text)
		}
		return t, nil
	case TypeURL:
		t := strings.TrimSpace(text)
		if t == "" {
			return "", nil
		}
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, badValuef("%q is not an absolute http or https URL", text)
		}
		return t, nil
	case TypeEnum:
		t := strings.TrimSpace(text)
		for _, a := range k.Allowed {
			if strings.EqualFold(a, t) {
				return a, nil
			}
		}
		return nil, badValuef("%q is not one of %s", text, strings.Join(k.Allowed, ", "))
	}
	return nil, badValuef("key has unknown type %v", k.Type)
}

func secondsDuration(n int64) (any, error) {
	if n < 0 || n > int64(1<<63-1)/int64(time.Second) {
		return nil, badValuef("%d seconds is out of range", n)
	}
	return time.Duration(n) * time.Second, nil
}

// convert accepts a value given in code: text (parsed as from a file) or a
// value of the key's Go type (bool, int, time.Duration, []string, Secret).
func (k *Key) convert(v any) (any, error) {
	switch v := v.(type) {
	case string:
		return k.parse(v)
	case Secret:
		return k.parse(string(v))
	case bool:
		if k.Type == TypeBool {
			return v, nil
		}
	case int:
		if k.Type == TypeInt {
			return v, nil
		}
	case time.Duration:
		if k.Type == TypeDuration {
			if v < 0 {
				return nil, badValuef("%v is a negative duration", v)
			}
			return v, nil
		}
	case []string:
		if k.Type == TypeList {
			return listValue(v)
		}
	}
	return nil, badValuef("a Go %T is not a valid %v value", v, k.Type)
}

// listValue validates list items from a YAML sequence, REG_MULTI_SZ or
// code: items are trimmed, empty items dropped, and an item may not contain
// a comma, so that every list has a faithful comma-separated text form.
func listValue(in []string) (any, error) {
	var items []string
	for _, it := range in {
		if strings.ContainsRune(it, ',') {
			return nil, badValuef("list item %q contains a comma", it)
		}
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	return items, nil
}

// format returns the text form of a typed value; parse(format(v)) == v.
// Secrets are revealed: callers that print must use display.
func format(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case Secret:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case time.Duration:
		return v.String()
	case []string:
		return strings.Join(v, ",")
	}
	return fmt.Sprint(v)
}

// display is format with secrets redacted. An empty secret shows as empty,
// so that explain output says whether a password is set at all.
func display(v any) string {
	if s, ok := v.(Secret); ok {
		if s == "" {
			return ""
		}
		return redacted
	}
	return format(v)
}

// defaults holds the parsed default of every key.
var defaults = func() []any {
	d := make([]any, len(schema))
	for i := range schema {
		v, err := schema[i].parse(schema[i].Default)
		if err != nil {
			panic("config: bad default for " + schema[i].Name + ": " + err.Error())
		}
		d[i] = v
	}
	return d
}()
