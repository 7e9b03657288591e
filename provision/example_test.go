package provision_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/opencsf/opencsf/provision"
)

// A client keeps the dial rules and the device configuration current.
// It needs a provisioning server, so this example only compiles.
func ExampleClient() {
	ctx := context.Background()
	c, err := provision.New(provision.Config{
		TftpServer1:  "10.0.0.5:69",
		TftpServer2:  "10.0.0.6:69",
		UserName:     "alice", // device configuration CSFalice.cnf.xml
		PollInterval: time.Minute,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	dial, err := c.AppRules().Transform("+1 408 555 1234")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("dial", dial, "via", c.Device().Registrar())
}

func ExampleParseDevice() {
	d, err := provision.ParseDevice("CSFALICE.cnf.xml", strings.NewReader(`<device>
  <devicePool><callManagerGroup><members>
    <member priority="0"><callManager>
      <ports><sipPort>5060</sipPort><securedSipPort>5061</securedSipPort></ports>
      <processNodeName>cucm.example.test</processNodeName>
    </callManager></member>
  </members></callManagerGroup></devicePool>
  <sipProfile>
    <sipLines><line button="1"><name>1001</name><displayName>Alice</displayName><authName>alice</authName></line></sipLines>
    <transportLayerProtocol>1</transportLayerProtocol>
  </sipProfile>
</device>`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Name, d.Registrar(), d.Transport)
	for _, l := range d.Lines {
		fmt.Println(l.Button, l.DN, l.DisplayName, l.AuthName)
	}
	// Output:
	// CSFALICE cucm.example.test:5060 tcp
	// 1 1001 Alice alice
}

func ExampleJabberConfig_Sources() {
	j, err := provision.ParseJabberConfig("jabber-config.xml", strings.NewReader(`<config version="1.0">
  <Phone><TftpServer1>cucm.example.test</TftpServer1></Phone>
  <Policies><SipTransport>tls</SipTransport></Policies>
</config>`))
	if err != nil {
		log.Fatal(err)
	}
	server, policy, _ := j.Sources("jabber-config.xml")
	v, _, _ := server.Get("TftpServer1")
	fmt.Println(server.Name(), v)
	v, _, _ = policy.Get("SipTransport")
	fmt.Println(policy.Name(), v)
	// Output:
	// jabber-config.xml cucm.example.test:69
	// jabber-config.xml#Policies tls
}
