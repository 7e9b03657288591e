package provision

import (
	"bytes"
	"encoding/xml"
	"os"
	"strings"
	"testing"

	"github.com/opencsf/opencsf/config"
)

// FuzzParseDevice checks that a device configuration that parses writes
// back to one that parses to the same Device.
func FuzzParseDevice(f *testing.F) {
	for _, name := range []string{"testdata/CSFALICE.cnf.xml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<device><devicePool><callManagerGroup><members><member><callManager><processNodeName>h</processNodeName></callManager></member></members></callManagerGroup></devicePool></device>`))
	f.Add([]byte(`<device><deviceSecurityMode>3</deviceSecurityMode></device>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDevice("CSFX.cnf.xml", bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(d.CallManagers) == 0 || d.Registrar() == "" {
			t.Fatalf("parsed a device without a registrar: %+v", d)
		}
		for _, l := range d.Lines {
			if l.DN == "" {
				t.Fatalf("parsed a line without a DN: %+v", l)
			}
		}
		out, err := xml.Marshal(d)
		if err != nil {
			t.Fatalf("marshal %+v: %v", d, err)
		}
		d2, err := ParseDevice("CSFX.cnf.xml", bytes.NewReader(out))
		if err != nil {
			t.Fatalf("written device does not parse: %v\n%s", err, out)
		}
		a, _ := xml.Marshal(d2)
		if !bytes.Equal(a, out) {
			t.Fatalf("round trip differs:\n%s\n%s", out, a)
		}
	})
}

// FuzzParseJabberConfig checks that the text entries of a configuration
// that parses write back to a configuration with the same entries, and
// that Sources only yields schema keys.
func FuzzParseJabberConfig(f *testing.F) {
	b, err := os.ReadFile("testdata/jabber-config.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`<config><Phone><TftpServer1>h</TftpServer1></Phone></config>`))
	f.Add([]byte(`<config version="1"><Policies><SipTransport>tls</SipTransport></Policies></config>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := ParseJabberConfig("jabber-config.xml", bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		buf.WriteString("<config>")
		var want []JabberEntry
		for _, e := range j.Entries {
			if e.Group == "" || e.Key == "" {
				t.Fatalf("entry without a name: %+v", e)
			}
			if strings.Contains(e.Value, "<") || strings.Contains(e.Group, ":") || strings.Contains(e.Key, ":") {
				continue // nested XML and prefixed names are kept as written
			}
			buf.WriteString("<" + e.Group + "><" + e.Key + ">")
			xml.EscapeText(&buf, []byte(e.Value))
			buf.WriteString("</" + e.Key + "></" + e.Group + ">")
			want = append(want, e)
		}
		buf.WriteString("</config>")
		j2, err := ParseJabberConfig("again.xml", &buf)
		if err != nil {
			t.Fatalf("written config does not parse: %v\n%s", err, buf.String())
		}
		if len(j2.Entries) != len(want) {
			t.Fatalf("%d entries written, %d read", len(want), len(j2.Entries))
		}
		for i, e := range want {
			g := j2.Entries[i]
			if g.Group != e.Group || g.Key != e.Key || g.Value != e.Value {
				t.Fatalf("entry %d: wrote %+v, read %+v", i, e, g)
			}
		}
		server, policy, _ := j.Sources("jabber-config.xml")
		for _, k := range append(server.Keys(), policy.Keys()...) {
			if _, ok := config.LookupKey(k); !ok {
				t.Fatalf("source holds unknown key %q", k)
			}
		}
	})
}
