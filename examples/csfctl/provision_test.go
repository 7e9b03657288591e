package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testDevice = `<device><deviceProtocol>SIP</deviceProtocol>
<devicePool><callManagerGroup><members><member priority="0"><callManager><name>pbx</name>
<ports><sipPort>5060</sipPort><securedSipPort>5061</securedSipPort></ports><processNodeName>127.0.0.1</processNodeName>
</callManager></member></members></callManagerGroup></devicePool>
<sipProfile><sipLines><line button="1"><name>1001</name><displayName>Alice</displayName><authName>alice</authName></line></sipLines>
<transportLayerProtocol>2</transportLayerProtocol></sipProfile></device>`

func TestProvisionFetchShowDial(t *testing.T) {
	root := t.TempDir()
	put := func(name, data string) {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	put("CUPC/AppDialRules.xml", seedRules)
	put("CUPC/DirLookupDialRules.xml", `<DialRules><DialRule BeginsWith="+1408555" NumDigits="12" DigitsToRemove="8"/></DialRules>`)
	put("jabber-config.xml", `<config version="1.0"><Policies><SipTransport>tls</SipTransport></Policies><Voicemail><VoicemailPassword>x</VoicemailPassword></Voicemail></config>`)
	put("CSFalice.cnf.xml", testDevice)
	hs := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer hs.Close()

	cfgFile := writeTemp(t, "opencsf.yaml", "UserName: alice\nHttpFileServer: "+hs.URL+"/\n")
	cache := t.TempDir()

	code, stdout, stderr := runCmd(t, nil, "provision", "fetch", "--config", cfgFile, "--cache", cache)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "CUPC/AppDialRules.xml")
	assert.Contains(t, stdout, hs.URL+"/CSFalice.cnf.xml")

	code, stdout, stderr = runCmd(t, nil, "provision", "show", "--config", cfgFile, "--cache", cache)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "CUPC/AppDialRules.xml: 3 rules\n  1. <DialRule NumDigits=\"7\" PrefixWith=\"9\"/>\n")
	assert.Contains(t, stdout, "CSFalice.cnf.xml: registrar 127.0.0.1:5060, transport udp\n")
	assert.Contains(t, stdout, "  line 1: 1001 \"Alice\" auth alice\n")
	assert.Contains(t, stdout, "Policies/SipTransport = \"tls\"")
	assert.Contains(t, stdout, "Voicemail/VoicemailPassword = \"[redacted]\"")

	code, stdout, stderr = runCmd(t, nil, "dial", "--cache", cache, "555-1234", "+1 408 555 1234")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "95551234\n914085551234\n", stdout)
	code, stdout, _ = runCmd(t, nil, "dial", "--cache", cache, "--lookup", "+14085551001")
	require.Equal(t, 0, code)
	assert.Equal(t, "1001\n", stdout)

	t.Run("a bad file keeps the cached rules", func(t *testing.T) {
		put("CUPC/AppDialRules.xml", "<DialRules><DialRule")
		code, _, stderr := runCmd(t, nil, "provision", "fetch", "--config", cfgFile, "--cache", cache)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "CUPC/AppDialRules.xml")
		code, stdout, _ := runCmd(t, nil, "dial", "--cache", cache, "5551234")
		assert.Equal(t, 0, code)
		assert.Equal(t, "95551234\n", stdout)
	})

	t.Run("server down uses the cache", func(t *testing.T) {
		hs.Close()
		code, _, stderr := runCmd(t, nil, "provision", "fetch", "--config", cfgFile, "--cache", cache)
		assert.Equal(t, 1, code, "files not fetched")
		assert.Contains(t, stderr, "offline: using 4 cached files")
	})

	t.Run("no server, no cache", func(t *testing.T) {
		code, _, stderr := runCmd(t, nil, "provision", "fetch", "--cache", t.TempDir())
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "no provisioning server configured")
		code, _, stderr = runCmd(t, nil, "provision", "show", "--cache", t.TempDir())
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "run csfctl provision fetch")
	})
}
