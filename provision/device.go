package provision

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/opencsf/opencsf/config"
)

// MaxFileSize is the largest provisioned file accepted, in bytes.
const MaxFileSize = 1 << 20

// Transport is a SIP transport named by a device configuration.
type Transport string

// Transports. A device configuration's transportLayerProtocol holds a
// number; public configurations use 1 for TCP, 2 for UDP and 4 for "TCP
// preferred", and CUCM's security profile adds TLS (3, or an encrypted
// deviceSecurityMode).
const (
	TransportUDP  Transport = "udp"
	TransportTCP  Transport = "tcp"
	TransportTLS  Transport = "tls"
	TransportAuto Transport = "auto" // TCP preferred, UDP allowed
)

// Device is a CSF device configuration, CSF<USER>.cnf.xml: where to
// register and which lines to register. It is immutable once parsed.
type Device struct {
	Name     string // the file's device name, e.g. CSFALICE; empty if unknown
	Protocol string // deviceProtocol, "SIP" for a CSF device
	// CallManagers is the device pool's call-manager group, in priority
	// order (lowest value first, then file order): the registrars to try.
	CallManagers []CallManager
	// Transport is the SIP transport to use: from transportLayerProtocol,
	// TLS when the security mode is encrypted, empty if the file says
	// nothing.
	Transport Transport
	// SecurityMode is deviceSecurityMode: 1 non-secure, 2 authenticated,
	// 3 encrypted; 0 when absent.
	SecurityMode int
	// Lines are the SIP lines, in button order.
	Lines []Line
}

// CallManager is one member of the device's call-manager group.
type CallManager struct {
	Name          string // the server's name in CUCM; may be empty
	Host          string // processNodeName: host name or address; required
	Priority      int    // the member's priority; lower comes first
	SIPPort       int    // sipPort; 0 means 5060
	SecureSIPPort int    // securedSipPort; 0 means 5061
}

// Addr returns host:port of the server for transport t: the secure SIP
// port for TLS, the SIP port otherwise.
func (c CallManager) Addr(t Transport) string {
	if t == TransportTLS {
		return net.JoinHostPort(c.Host, strconv.Itoa(cmp0(c.SecureSIPPort, 5061)))
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(cmp0(c.SIPPort, 5060)))
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Line is one SIP line of a device.
type Line struct {
	Button      int           // button attribute, from 1
	DN          string        // directory number: the line's name (user part); required
	DisplayName string        // caller name shown to others; may be empty
	Label       string        // featureLabel shown on the client; may be empty
	AuthName    string        // digest user name; empty means DN
	Password    config.Secret // authPassword; usually empty (digest credentials come from the user)
	Proxy       string        // "USECALLMANAGER" or a host; empty means the call managers
	Port        int           // proxy port; 0 means the call manager's
	Contact     string        // contact user part; empty means DN
}

// Registrar returns host:port of the first call manager for the device's
// transport, or "" when the device has none.
func (d *Device) Registrar() string {
	if len(d.CallManagers) == 0 {
		return ""
	}
	return d.CallManagers[0].Addr(d.Transport)
}

// The wire form. Only what a soft phone needs is read; the rest of a CUCM
// configuration (date, time zone, services URLs, …) is ignored.
type wireDevice struct {
	XMLName      xml.Name     `xml:"device"`
	Protocol     string       `xml:"deviceProtocol,omitempty"`
	Members      []wireMember `xml:"devicePool>callManagerGroup>members>member"`
	SecurityMode string       `xml:"deviceSecurityMode,omitempty"`
	Transport    string       `xml:"transportLayerProtocol,omitempty"`
	SIPTransport string       `xml:"sipProfile>transportLayerProtocol,omitempty"`
	Lines        []wireLine   `xml:"sipProfile>sipLines>line"`
}

type wireMember struct {
	Priority      string `xml:"priority,attr"`
	Name          string `xml:"callManager>name,omitempty"`
	SIPPort       string `xml:"callManager>ports>sipPort,omitempty"`
	SecureSIPPort string `xml:"callManager>ports>securedSipPort,omitempty"`
	Host          string `xml:"callManager>processNodeName"`
}

type wireLine struct {
	Button      string `xml:"button,attr,omitempty"`
	Label       string `xml:"featureLabel,omitempty"`
	Proxy       string `xml:"proxy,omitempty"`
	Port        string `xml:"port,omitempty"`
	Name        string `xml:"name"`
	DisplayName string `xml:"displayName,omitempty"`
	Contact     string `xml:"contact,omitempty"`
	AuthName    string `xml:"authName,omitempty"`
	Password    string `xml:"authPassword,omitempty"`
}

// ParseDevice reads a device configuration, naming it name in errors. It
// reads at most [MaxFileSize] bytes. The file must have a device root,
// at least one call manager with a processNodeName and valid ports, lines
// with a name (the directory number) and a known transport. Errors are
// [*FileError] matching [ErrInvalid].
func ParseDevice(name string, r io.Reader) (*Device, error) {
	data, err := readLimited(r)
	if err != nil {
		return nil, invalid(name, "", err)
	}
	var w wireDevice
	if err := decodeStrict(data, &w); err != nil {
		return nil, invalid(name, "", err)
	}
	return w.device(name)
}

func (w *wireDevice) device(name string) (*Device, error) {
	d := &Device{Name: deviceName(name), Protocol: strings.TrimSpace(w.Protocol)}
	if d.Protocol != "" && !strings.EqualFold(d.Protocol, "SIP") {
		return nil, invalid(name, "deviceProtocol", fmt.Errorf("%q: only SIP devices are supported", d.Protocol))
	}
	var err error
	if d.SecurityMode, err = atoiField(w.SecurityMode, 0, 3); err != nil {
		return nil, invalid(name, "deviceSecurityMode", err)
	}
	tl := strings.TrimSpace(w.SIPTransport)
	field := "sipProfile/transportLayerProtocol"
	if tl == "" {
		tl, field = strings.TrimSpace(w.Transport), "transportLayerProtocol"
	}
	if d.Transport, err = parseTransport(tl); err != nil {
		return nil, invalid(name, field, err)
	}
	if d.SecurityMode == 3 {
		d.Transport = TransportTLS
	}
	if len(w.Members) == 0 {
		return nil, invalid(name, "devicePool/callManagerGroup/members", fmt.Errorf("no call manager"))
	}
	for i, m := range w.Members {
		at := fmt.Sprintf("devicePool/callManagerGroup/members/member[%d]", i+1)
		cm := CallManager{Name: strings.TrimSpace(m.Name), Host: strings.TrimSpace(m.Host)}
		if cm.Host == "" || strings.ContainsAny(cm.Host, " \t/@") {
			return nil, invalid(name, at+"/callManager/processNodeName", fmt.Errorf("%q is not a host", m.Host))
		}
		if cm.Priority, err = atoiField(m.Priority, 0, 1<<20); err != nil {
			return nil, invalid(name, at+"@priority", err)
		}
		if cm.SIPPort, err = atoiField(m.SIPPort, 1, 65535); err != nil {
			return nil, invalid(name, at+"/callManager/ports/sipPort", err)
		}
		if cm.SecureSIPPort, err = atoiField(m.SecureSIPPort, 1, 65535); err != nil {
			return nil, invalid(name, at+"/callManager/ports/securedSipPort", err)
		}
		d.CallManagers = append(d.CallManagers, cm)
	}
	slices.SortStableFunc(d.CallManagers, func(a, b CallManager) int { return a.Priority - b.Priority })
	for i, l := range w.Lines {
		at := fmt.Sprintf("sipProfile/sipLines/line[%d]", i+1)
		ln := Line{
			DN:          strings.TrimSpace(l.Name),
			DisplayName: strings.TrimSpace(l.DisplayName),
			Label:       strings.TrimSpace(l.Label),
			AuthName:    strings.TrimSpace(l.AuthName),
			Password:    config.Secret(l.Password),
			Proxy:       strings.TrimSpace(l.Proxy),
			Contact:     strings.TrimSpace(l.Contact),
		}
		if ln.DN == "" || strings.ContainsAny(ln.DN, " \t@:;<>\"") {
			return nil, invalid(name, at+"/name", fmt.Errorf("%q is not a directory number", l.Name))
		}
		if ln.Button, err = atoiField(l.Button, 1, 1000); err != nil {
			return nil, invalid(name, at+"@button", err)
		}
		if ln.Button == 0 {
			ln.Button = i + 1
		}
		if ln.Port, err = atoiField(l.Port, 1, 65535); err != nil {
			return nil, invalid(name, at+"/port", err)
		}
		d.Lines = append(d.Lines, ln)
	}
	slices.SortStableFunc(d.Lines, func(a, b Line) int { return a.Button - b.Button })
	return d, nil
}

// deviceName turns "CSFALICE.cnf.xml" into "CSFALICE".
func deviceName(file string) string {
	if i := strings.LastIndexByte(file, '/'); i >= 0 {
		file = file[i+1:]
	}
	if n, ok := strings.CutSuffix(file, ".cnf.xml"); ok {
		return n
	}
	return ""
}

func parseTransport(s string) (Transport, error) {
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case "1", "tcp":
		return TransportTCP, nil
	case "2", "udp":
		return TransportUDP, nil
	case "3", "tls":
		return TransportTLS, nil
	case "4", "auto":
		return TransportAuto, nil
	}
	return "", fmt.Errorf("unknown transport %q (want 1 TCP, 2 UDP, 3 TLS or 4 TCP preferred)", s)
}

// atoiField parses an optional decimal field: empty is 0.
func atoiField(s string, lo, hi int) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not a number from %d to %d", s, lo, hi)
	}
	return n, nil
}

// MarshalXML writes the device in the CUCM shape ParseDevice reads, with
// only the fields it keeps; the password is written, so keep the output
// private.
func (d *Device) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	w := wireDevice{Protocol: d.Protocol, Transport: transportNumber(d.Transport)}
	if d.SecurityMode != 0 {
		w.SecurityMode = strconv.Itoa(d.SecurityMode)
	}
	for _, c := range d.CallManagers {
		w.Members = append(w.Members, wireMember{
			Priority: strconv.Itoa(c.Priority), Name: c.Name, Host: c.Host,
			SIPPort: itoa0(c.SIPPort), SecureSIPPort: itoa0(c.SecureSIPPort),
		})
	}
	for _, l := range d.Lines {
		w.Lines = append(w.Lines, wireLine{
			Button: itoa0(l.Button), Label: l.Label, Proxy: l.Proxy, Port: itoa0(l.Port),
			Name: l.DN, DisplayName: l.DisplayName, Contact: l.Contact, AuthName: l.AuthName,
			Password: l.Password.Reveal(),
		})
	}
	return e.Encode(w)
}

func itoa0(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func transportNumber(t Transport) string {
	switch t {
	case TransportTCP:
		return "1"
	case TransportUDP:
		return "2"
	case TransportTLS:
		return "3"
	case TransportAuto:
		return "4"
	}
	return ""
}

// readLimited reads r up to MaxFileSize bytes, failing beyond.
func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	return data, nil
}

// decodeStrict unmarshals one XML document into v and rejects anything
// but comments and white space after its root element, so that a
// truncated or concatenated file is not mistaken for a good one.
func decodeStrict(data []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charsetReader
	if err := d.Decode(v); err != nil {
		if err == io.EOF {
			return fmt.Errorf("no root element (empty, or not XML)")
		}
		return err
	}
	return trailing(d)
}

// charsetReader accepts the encodings besides UTF-8 that CUCM files
// declare and that are UTF-8 already: US-ASCII.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf8", "us-ascii", "ascii":
		return r, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}
