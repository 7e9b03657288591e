package config_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/opencsf/opencsf/config"
)

// A value under the Policies AdminData key beats the same value under the
// plain AdminData key, as in CSF.
func Example_policyBeatsUser() {
	reg := []byte(`REGEDIT4

[HKEY_CURRENT_USER\Software\Cisco Systems, Inc.\Client Services Framework\AdminData]
"SipTransport"="udp"
"UserName"="alice"

[HKEY_CURRENT_USER\Software\Policies\Cisco Systems, Inc.\Client Services Framework\AdminData]
"SipTransport"="tls"
`)
	user, policy, _, err := config.ParseReg("gpo.reg", reg)
	if err != nil {
		log.Fatal(err)
	}
	st := config.NewStore()
	_ = st.Put(config.LayerUser, user)
	_ = st.Put(config.LayerPolicy, policy)

	snap := st.Effective()
	fmt.Println(snap.String(config.KeySipTransport), snap.String(config.KeyUserName))
	e, _ := snap.Explain(config.KeySipTransport)
	fmt.Println(e)
	// Output:
	// tls alice
	// SipTransport = "tls" (policy gpo.reg:8); shadows "udp" (user gpo.reg:4), "tls" (default)
}

func ExampleSnapshot_Explain() {
	yml := []byte("UserName: alice\nPassword: secret1\nSipRegistrar: 127.0.0.1:5060\n")
	file, _, err := config.ParseYAML("opencsf.yaml", yml)
	if err != nil {
		log.Fatal(err)
	}
	env, _, err := config.ParseEnv([]string{"OPENCSF_SIP_REGISTRAR=10.0.0.5:5060"})
	if err != nil {
		log.Fatal(err)
	}
	st := config.NewStore()
	_ = st.Put(config.LayerUser, file)
	_ = st.Put(config.LayerUser, env) // put later, so it wins within the layer

	snap := st.Effective()
	for _, key := range []string{"sipregistrar", "Password", "SipTransport"} {
		e, _ := snap.Explain(key)
		fmt.Println(e)
	}
	// Output:
	// SipRegistrar = "10.0.0.5:5060" (user env); shadows "127.0.0.1:5060" (user opencsf.yaml:3), "" (default)
	// Password = "[redacted]" (user opencsf.yaml:2); shadows "" (default)
	// SipTransport = "tls" (default)
}

func ExampleSecret() {
	pw := config.Secret("hunter2")
	fmt.Println(pw)
	fmt.Printf("%q %#v\n", pw, pw)
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	logger.Info("login", "user", "alice", "password", pw)
	fmt.Println(pw.Reveal())
	// Output:
	// [redacted]
	// [redacted] [redacted]
	// level=INFO msg=login user=alice password=[redacted]
	// hunter2
}

func ExampleError() {
	_, _, err := config.ParseYAML("tls.yaml", []byte("SipTransport: carrier-pigeon\n"))
	fmt.Println(err)
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Println(ce.Key, ce.Line, errors.Is(err, config.ErrBadValue))
	}
	// Output:
	// config: tls.yaml:1: key SipTransport: "carrier-pigeon" is not one of udp, tcp, tls
	// SipTransport 1 true
}

func ExampleSnapshot_Decode() {
	// A service owns its Config type and names the keys in tags.
	type Config struct {
		Registrar string        `config:"SipRegistrar"`
		Transport string        `config:"SipTransport"`
		Password  config.Secret `config:"SipPassword"`
		Poll      time.Duration `config:"ProvisionPollInterval"`
	}
	st := config.NewStore()
	_ = st.Set(config.KeySipRegistrar, "pbx.example.test:5061")
	_ = st.Set(config.KeySipPassword, "secret1")

	var cfg Config
	if err := st.Effective().Decode(&cfg); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", cfg)
	// Output:
	// {Registrar:pbx.example.test:5061 Transport:tls Password:[redacted] Poll:5m0s}
}

func ExampleStore_Watch() {
	st := config.NewStore()
	if _, err := st.LoadFile("opencsf.yaml", nil); err != nil {
		log.Fatal(err)
	}
	w, err := st.Watch(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	ctx := context.TODO()
	for {
		select {
		case c, ok := <-w.Changes():
			if !ok {
				return
			}
			if c.Err != nil {
				log.Printf("keeping the last good configuration: %v", c.Err)
				continue
			}
			log.Printf("changed: %v", c.Changed)
			_ = c.Snapshot.Redacted()
		case <-ctx.Done():
			return
		}
	}
}
