package voicemail

import (
	"testing"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/directory"
	"github.com/opencsf/opencsf/lab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A new voicemail carries the caller's name from the directory that runs in
// the same framework: dovecot holds the message, slapd knows the number.
func TestIntegrationMessageArrivedCarriesDirectoryName(t *testing.T) {
	wavPCM := testWAV(EncodingPCM, 8000, 1)
	d := lab.Dovecot(t, nil)
	ldap := lab.Slapd(t, nil)

	fw := csf.New(csf.Config{})
	defer fw.Close()
	require.NoError(t, fw.Register(directory.Spec(directory.Config{
		Server: ldap.Addr, BaseDN: ldap.BaseDN, BindDN: ldap.UserDN("alice"), Password: "secret1",
	})))
	cfg := labConfig(t, d, "bob", false)
	cfg.CacheFile = ""
	require.NoError(t, fw.Register(Spec(cfg)))
	arrived := csf.SubscribeTo[MessageArrived](fw.Bus(), 0)
	defer arrived.Close()
	require.NoError(t, fw.Start(t.Context()))

	next := func() MessageArrived {
		select {
		case ev := <-arrived.Events():
			return ev
		case <-time.After(20 * time.Second):
			t.Fatal("no MessageArrived")
			return MessageArrived{}
		}
	}

	// 1003 is carol's extension in the lab directory; the message itself
	// only knows a bare number.
	require.NoError(t, d.Deliver("bob", buildMsg(msgSpec{From: `<1003@vm.example.test>`,
		Headers: "X-Asterisk-CallerIDNum: 1003", Audio: wavPCM})))
	ev := next()
	assert.Equal(t, "1003", ev.Caller.CallerID)
	assert.Equal(t, "Carol", ev.Caller.Name)
	assert.Equal(t, "carol@example.test", ev.Caller.JID)

	// Unknown to the directory: the message's own name stays.
	require.NoError(t, d.Deliver("bob", buildMsg(msgSpec{From: `"Zed Unknown" <5550199@vm.example.test>`,
		Headers: "X-Asterisk-CallerIDNum: 5550199\r\nX-Asterisk-CallerIDName: Zed Unknown", Audio: wavPCM})))
	ev = next()
	assert.Equal(t, csf.Person{CallerID: "5550199", Name: "Zed Unknown"}, ev.Caller)
}
