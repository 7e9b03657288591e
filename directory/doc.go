// Package directory turns caller IDs into people: an LDAP search for the
// number, after the directory-lookup dial rules (CUPC/DirLookupDialRules.xml)
// turned the caller ID into the directory's form, resolving the display
// name, the IM address (JID) and the voicemail mailbox, with a cache.
//
//	d, err := directory.New(directory.Config{
//		Server: "127.0.0.1:389", BaseDN: "dc=example,dc=test",
//		Rules:  prov.LookupRules(), // *dialrules.Set from package provision
//	})
//	…
//	if err := d.Start(ctx); err != nil { … }
//	defer d.Close()
//	p, err := d.Lookup(ctx, "+1 408 555 1001")
//	if err == nil {
//		fmt.Println(p.Name, p.JID)
//	}
//
// # Lifecycle
//
// [New] does no I/O; [Directory.Start] connects and binds; lookups
// reconnect once when the connection broke. [Directory.Shutdown] unbinds,
// [Directory.Close] closes at once. [Spec] registers a directory with a
// csf.Framework.
//
// # Cache
//
// Answers are cached by the transformed number: people for
// [Config.CacheTTL], numbers nobody has for [Config.NegativeTTL]. Errors
// are never cached. [Directory.Flush] forgets everything.
//
// # Concurrency
//
// A Directory is safe for concurrent use; lookups share one connection.
// The LDAP library runs a reader goroutine per connection, stopped by
// Close.
//
// # Errors
//
// [ErrNotFound], [ErrInvalidCallerID] and [*SearchError] (server
// unreachable, bind refused, search failed).
package directory
