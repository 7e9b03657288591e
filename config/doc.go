// Package config is OpenCSF's layered configuration: a typed schema of keys
// named after CSF/Jabber admin data, values from files, the Windows registry,
// the environment and code, and the effective value of each key with where it
// came from.
//
//	st := config.NewStore()
//	if _, err := st.LoadFile("opencsf.yaml", nil); err != nil { … }   // user layer
//	if _, err := st.LoadFile("gpo.reg", nil); err != nil { … }        // user and policy layers
//	if _, err := st.LoadEnv(os.Environ()); err != nil { … }           // OPENCSF_SIP_REGISTRAR=…
//	snap := st.Effective()
//	registrar := snap.String(config.KeySipRegistrar)
//	e, _ := snap.Explain(config.KeySipRegistrar)
//	fmt.Println(e) // SipRegistrar = "10.0.0.5:5060" (policy gpo.reg:7); shadows …
//
// # Schema
//
// [Keys] lists every key with its [Type], default and doc line. Names are
// matched ignoring case, as the registry does, and reported in their
// canonical spelling (the Key… constants). Every value is parsed to its type
// as its source is loaded, so a [Snapshot] holds only valid values. A key
// that is not in the schema is a [Warning] when loading a file or the
// environment, never an error, so that a newer configuration still loads.
//
// # Layers
//
// From lowest to highest: [LayerDefault] (the schema) < [LayerServer]
// (provisioned files) < [LayerUser] < [LayerPolicy] < [LayerCode]. The
// effective value of a key is that of the highest layer that sets it; within
// a layer the source put last wins, and a reloaded source keeps its place. A
// .reg file's values go to the user or policy layer by key path, so a
// Policies\…\AdminData value beats the plain AdminData one, as in CSF. A YAML
// file goes to the user layer unless [LoadOptions.Layer] says otherwise; the
// environment goes to the user layer as source "env"; [Store.Set] writes the
// code layer. [Snapshot.Explain] names the winning layer, source and line and
// the values it shadows.
//
// # Sources
//
// A [Source] is a named set of values with the line of each: a YAML file
// ([ParseYAML], with optional "Users:" profiles), a regedit export
// ([ParseReg]: UTF-16LE version 5 or REGEDIT4), the environment ([ParseEnv]:
// OPENCSF_ plus the key name, underscores ignored), the live registry on
// Windows (Store.LoadRegistry), or values set in code ([Source.Set]). A
// deletion in a .reg file (`"Name"=-`, `[-key]`) only makes the key absent
// from that file's source; lower layers then show through.
//
// # Secrets
//
// Secret keys hold a [Secret], which prints, logs and marshals as
// "[redacted]"; [Snapshot.Explain], [Snapshot.Redacted] and [Source.Get]
// redact them too. Only [Secret.Reveal] gives the value.
//
// # Errors
//
// Loading validates a whole source before anything changes: on error the
// store keeps its previous configuration. Errors are [*Error] with the key,
// the source (file path) and the 1-based line, formatted like
//
//	config: tls.yaml:12: key SipTransport: "carrier-pigeon" is not one of udp, tcp, tls
//
// and wrapping [ErrSyntax], [ErrBadEncoding], [ErrBadValue],
// [ErrUnknownKey] or [ErrNoProfile] for [errors.Is], or an I/O error.
//
// # Concurrency
//
// A [Store] is safe for concurrent use; a [Snapshot] is immutable. A
// [Source] is not safe for concurrent modification, and a store copies the
// sources it is given. [Store.Watch] starts one goroutine that reloads
// changed files and reports each reload as a [Change] on
// [Watcher.Changes]; [Watcher.Close] stops it and waits for it.
package config
