package provision

import (
	"bytes"
	"encoding/xml"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/config"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return b
}

func TestParseDevice(t *testing.T) {
	d, err := ParseDevice("CSFALICE.cnf.xml", bytes.NewReader(readTestdata(t, "CSFALICE.cnf.xml")))
	require.NoError(t, err)
	assert.Equal(t, &Device{
		Name:     "CSFALICE",
		Protocol: "SIP",
		CallManagers: []CallManager{
			{Name: "cucm-pub", Host: "127.0.0.1", Priority: 0, SIPPort: 5060, SecureSIPPort: 5061},
			{Name: "cucm-sub", Host: "127.0.0.2", Priority: 1, SIPPort: 5070, SecureSIPPort: 5071},
		},
		Transport:    TransportUDP,
		SecurityMode: 1,
		Lines: []Line{
			{Button: 1, DN: "1001", DisplayName: "Alice Example", Label: "Alice 1001", AuthName: "alice", Proxy: "USECALLMANAGER", Port: 5060, Contact: "1001"},
			{Button: 2, DN: "2000", DisplayName: "Help Desk", Label: "Shared 2000", AuthName: "alice", Proxy: "USECALLMANAGER", Port: 5060, Contact: "2000"},
		},
	}, d)
	assert.Equal(t, "127.0.0.1:5060", d.Registrar())
	assert.Equal(t, "127.0.0.2:5071", d.CallManagers[1].Addr(TransportTLS))
}

func TestParseDeviceErrors(t *testing.T) {
	const member = `<devicePool><callManagerGroup><members><member priority="0"><callManager><processNodeName>h</processNodeName></callManager></member></members></callManagerGroup></devicePool>`
	tests := []struct {
		name, in, field, has string
	}{
		{"not xml", "this is not xml", "", "no root element"},
		{"empty", "", "", "no root element"},
		{"wrong root", "<config/>", "", "expected element type <device>"},
		{"truncated", "<device><devicePool>", "", "unexpected EOF"},
		{"trailing root", "<device>" + member + "</device><device/>", "", "content after the root"},
		{"no call manager", "<device/>", "devicePool/callManagerGroup/members", "no call manager"},
		{"empty host", `<device><devicePool><callManagerGroup><members><member><callManager><processNodeName> </processNodeName></callManager></member></members></callManagerGroup></devicePool></device>`,
			"devicePool/callManagerGroup/members/member[1]/callManager/processNodeName", "not a host"},
		{"bad port", `<device><devicePool><callManagerGroup><members><member><callManager><ports><sipPort>70000</sipPort></ports><processNodeName>h</processNodeName></callManager></member></members></callManagerGroup></devicePool></device>`,
			"devicePool/callManagerGroup/members/member[1]/callManager/ports/sipPort", "1 to 65535"},
		{"SCCP", "<device><deviceProtocol>SCCP</deviceProtocol>" + member + "</device>", "deviceProtocol", "only SIP"},
		{"bad transport", "<device>" + member + "<transportLayerProtocol>9</transportLayerProtocol></device>", "transportLayerProtocol", "unknown transport"},
		{"line without DN", "<device>" + member + "<sipProfile><sipLines><line button=\"1\"><name></name></line></sipLines></sipProfile></device>",
			"sipProfile/sipLines/line[1]/name", "not a directory number"},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><device/>`, "", "unsupported encoding"},
		{"too large", "<device>" + strings.Repeat(" ", MaxFileSize) + "</device>", "", "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDevice("CSFX.cnf.xml", strings.NewReader(tc.in))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			var fe *FileError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "CSFX.cnf.xml", fe.File)
			assert.Equal(t, tc.field, fe.Field)
			assert.Contains(t, err.Error(), tc.has)
		})
	}
}

func TestDeviceTransport(t *testing.T) {
	base := `<device><devicePool><callManagerGroup><members><member><callManager><processNodeName>pbx</processNodeName></callManager></member></members></callManagerGroup></devicePool>%s</device>`
	tests := []struct {
		extra     string
		transport Transport
		registrar string
	}{
		{"", "", "pbx:5060"},
		{"<transportLayerProtocol>1</transportLayerProtocol>", TransportTCP, "pbx:5060"},
		{"<transportLayerProtocol>4</transportLayerProtocol>", TransportAuto, "pbx:5060"},
		{"<transportLayerProtocol>3</transportLayerProtocol>", TransportTLS, "pbx:5061"},
		{"<deviceSecurityMode>3</deviceSecurityMode><transportLayerProtocol>2</transportLayerProtocol>", TransportTLS, "pbx:5061"},
	}
	for _, tc := range tests {
		d, err := ParseDevice("x", strings.NewReader(strings.Replace(base, "%s", tc.extra, 1)))
		require.NoError(t, err, tc.extra)
		assert.Equal(t, tc.transport, d.Transport, tc.extra)
		assert.Equal(t, tc.registrar, d.Registrar(), tc.extra)
	}
}

func TestDeviceRoundTrip(t *testing.T) {
	d, err := ParseDevice("CSFALICE.cnf.xml", bytes.NewReader(readTestdata(t, "CSFALICE.cnf.xml")))
	require.NoError(t, err)
	out, err := xml.Marshal(d)
	require.NoError(t, err)
	d2, err := ParseDevice("CSFALICE.cnf.xml", bytes.NewReader(out))
	require.NoError(t, err)
	assert.Equal(t, d, d2)
}

func TestParseJabberConfig(t *testing.T) {
	j, err := ParseJabberConfig(JabberConfigFile, bytes.NewReader(readTestdata(t, "jabber-config.xml")))
	require.NoError(t, err)
	assert.Equal(t, "1.0", j.Version)
	v, ok := j.Get("phone", "tftpserver1")
	assert.True(t, ok)
	assert.Equal(t, "127.0.0.1", v)
	v, _ = j.Get("Policies", "Disallowed_File_Transfer_Types")
	assert.Equal(t, ".exe;.msi", v)
	v, _ = j.Get("Client", "jabber-plugin-config")
	assert.Contains(t, v, `<page refresh="true">x</page>`)
	_, ok = j.Get("Phone", "Nothing")
	assert.False(t, ok)
	assert.Equal(t, "TftpServer1", j.Entries[6].Key)
	assert.Equal(t, 17, j.Entries[6].Line)

	server, policy, ignored := j.Sources(JabberConfigFile)
	assert.Equal(t, []string{"LdapBaseDN", "LdapServer", "LogLevel", "PresenceDomain", "TftpServer1", "TftpServer2",
		"VoicemailFolder", "VoicemailPrimaryServer"}, server.Keys())
	assert.Equal(t, []string{"EnableCalendarPresence", "SipTransport"}, policy.Keys())
	assert.Equal(t, JabberConfigFile+"#Policies", policy.Name())
	got, _, _ := server.Get("TftpServer1")
	assert.Equal(t, "127.0.0.1:69", got)
	got, _, _ = server.Get("LdapServer")
	assert.Equal(t, "127.0.0.1:389", got)
	assert.Len(t, ignored, 7)
	assert.Contains(t, ignored[0], "jabber-config.xml:5: Client/PrtLogServerUrl: not an OpenCSF setting")

	// Precedence: server < user < policy.
	st := config.NewStore()
	require.NoError(t, st.Put(config.LayerServer, server))
	require.NoError(t, st.Put(config.LayerPolicy, policy))
	user := config.NewSource("user.yaml")
	require.NoError(t, user.Set("LogLevel", "warn"))
	require.NoError(t, user.Set("SipTransport", "udp"))
	require.NoError(t, st.Put(config.LayerUser, user))
	snap := st.Effective()
	assert.Equal(t, "warn", snap.String("LogLevel"), "the user overrides the server")
	assert.Equal(t, "tls", snap.String("SipTransport"), "policy overrides the user")
	assert.Equal(t, "example.test", snap.String("PresenceDomain"))
}

func TestParseJabberConfigErrors(t *testing.T) {
	tests := []struct{ name, in, has string }{
		{"not xml", "hello", "text before the root"},
		{"empty", "", "no root element"},
		{"wrong root", "<Config2/>", "want <config>"},
		{"truncated", "<config><Phone><TftpServer1>x", "unexpected EOF"},
		{"text in group", "<config><Phone>loose</Phone></config>", "between keys"},
		{"trailing", "<config/><config/>", "content after the root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJabberConfig("jabber-config.xml", strings.NewReader(tc.in))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tc.has)
		})
	}
	j, err := ParseJabberConfig("jabber-config.xml", strings.NewReader("<config/>"))
	require.NoError(t, err)
	assert.Empty(t, j.Entries)
}
