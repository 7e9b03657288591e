// Package csf is the framework at the heart of OpenCSF: it owns the
// services (presence, IM, soft phone, voicemail, dial rules…), the single
// typed event stream they publish on, the upper-layer apps attached to it,
// and the diagnostics a support engineer asks for.
//
//	fw := csf.New(csf.Config{Logger: logger, Settings: snap})
//	fw.Register(csf.ServiceSpec{Name: "im", New: newIM})
//	att, _ := fw.Attach(myApp, nil)
//	err := fw.Start(ctx)          // failures are per service; the rest run
//	for ev := range att.Events() { … }
//
// # Lifecycle
//
// [New] does no I/O. [Framework.Start] makes and starts the registered
// services in dependency order ([ServiceSpec.DependsOn], ties in
// registration order). A service whose Start fails is closed and marked
// failed, services depending on it are not started, and every other service
// runs: one broken server never takes the phone down with it.
// [Framework.Restart] replaces one service by a fresh instance without
// touching the others, and [Framework.ApplySettings] restarts (or
// reconfigures in place, see [Reconfigurer]) only the services whose keys
// changed — never "kill cucsf.exe from Task Manager". [Framework.Shutdown]
// stops services in reverse order, each saying goodbye; [Framework.Close]
// stops at once.
//
// Upper-layer apps attach with [Framework.Attach], each with its own event
// subscription. Whether the framework stops when the last app detaches is
// [Config.StopWhenLastAppDetaches] (CUPC 8 stopped CSF; CUCIMOC left it
// running).
//
// # Events
//
// Every event embeds [EventHeader] and is published with [Publish], which
// stamps it with the service name, time and a sequence number from one
// total order. Subscribers ([Framework.Subscribe], [SubscribeTo]) each have
// a bounded queue fed by one goroutine per subscription: a publisher never
// blocks, a slow subscriber never slows another, and when a queue overflows
// the subscriber receives a [Lagged] event carrying the number of events it
// lost, at the point in the order where they were lost.
//
// # Diagnostics
//
// [Framework.Snapshot] reports every service's state, server, TLS peer
// certificate, last error and counters; [Framework.WriteProblemReport]
// writes a zip with the snapshot, the recent log lines and the effective
// configuration. Secrets never reach either: the framework's logger scrubs
// secret-named attributes, values that redact themselves (config.Secret)
// and secrets that appear as text (digest responses, SDES keys, auth
// headers). [Trust.Classify] turns a failed TLS handshake into a [TLSError]
// that names the problem: name mismatch, unknown authority, an issuer
// without the CA bit, or expiry.
//
// # Concurrency
//
// All methods are safe for concurrent use. Lifecycle operations are
// serialised; services' methods are never called with framework locks held.
package csf
