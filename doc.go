// Package opencsf is an open, headless Client Services Framework in Go:
// the reusable core under unified-communications clients, the way Cisco's
// CSF sat under CUPC 8 and CUCIMOC. One library owns the protocols and the
// state — presence, instant messaging, a SIP soft phone, voicemail, dial
// rules, configuration — and thin upper-layer apps (a desktop client, a
// bot, a gateway, a test fleet, the csfctl command line) plug in over Go
// interfaces.
//
// # Packages
//
//	csf        the framework: lifecycle, service registry, one typed event
//	           stream, diagnostics and problem reports, TLS diagnostics
//	config     layered configuration, defaults < server < user < policy <
//	           code, from YAML files, regedit exports, the Windows registry
//	           and OPENCSF_* variables, with Explain for every key
//	dialrules  CUCM application and directory-lookup dial rules, reloaded
//	           live
//	lab        real servers (prosody, dovecot, kamailio, radicale,
//	           tftpd-hpa, slapd) on loopback for tests and local trials
//	examples/  thin apps on the public API, among them csfctl
//
// The services (im, softphone, voicemail, presence, provisioning) plug into
// csf as they land; each owns its Config struct, events and errors.
//
// # An upper-layer app
//
//	fw := csf.New(csf.Config{Logger: logger, Settings: store.Effective()})
//	fw.Register(csf.ServiceSpec{Name: "voicemail", Keys: []string{config.KeyVoicemailFolder},
//		New: func(env csf.Env) (csf.Service, error) { return newVoicemail(env) }})
//
//	app, err := fw.Attach(myApp, nil) // several apps may attach at once
//	if err != nil { … }
//	defer app.Detach(ctx)             // may stop the framework, see Config
//	if err := fw.Start(ctx); err != nil {
//		log.Print(err) // per service; the others run
//	}
//	for ev := range app.Events() {
//		switch ev := ev.(type) {
//		case csf.ServiceStateChanged:
//			fmt.Println(ev.Name, ev.State)
//		case csf.ConfigReloaded:
//			fmt.Println("config changed:", ev.Changed)
//		case csf.Lagged:
//			resync(ev.Missed)
//		}
//	}
package opencsf
