// Package provision keeps a CSF client's provisioned files current: the
// dial rules (CUPC/AppDialRules.xml, CUPC/DirLookupDialRules.xml), the
// device configuration (CSF<USER>.cnf.xml) and the client configuration
// (jabber-config.xml), fetched from the call-control server's TFTP
// servers or its HTTP file service (CUCM: port 6970).
//
// The CSF client of CUCM 8.6 read its dial rules at start only, so a rule
// change meant "run the COP file and restart CSF". Here a [Client] checks
// the files on a timer and on demand, validates each changed file and
// swaps it in atomically, without a restart, and never loses the last good
// version.
//
//	c, err := provision.New(provision.Config{
//		TftpServer1: "10.0.0.5:69", TftpServer2: "10.0.0.6:69",
//		UserName: "alice", // device CSFalice, file CSFalice.cnf.xml
//	})
//	…
//	if err := c.Start(ctx); err != nil { … }
//	defer c.Close()
//	dial, err := c.AppRules().Transform("+1 408 555 1234")
//	registrar := c.Device().Registrar()
//
// # Fetching and change detection
//
// Servers are tried in order: the HTTP file service when configured, then
// TftpServer1, then TftpServer2. A server that does not answer (a TFTP
// timeout, a refused connection, an HTTP 5xx, a broken transfer) makes the
// client fail over to the next one, with a [ServerFailedOver] event, and
// later checks start with the server that answered, so that a server that
// is down costs its timeout once, not at every check. A server that says a
// file does not exist has answered, and the file is reported
// missing ([FetchFailed] matching [ErrNotFound]) while its last good
// version stays in force. Over HTTP a conditional GET (If-None-Match,
// If-Modified-Since) costs one round trip when nothing changed; TFTP has
// no validators, so the file is read and its size and SHA-256 compared.
//
// # Validation and swapping
//
// Dial rules go through [dialrules.Set.Reload]: a file that does not parse
// leaves the previous rules in force and is recorded in the Set's Status.
// The device configuration and jabber-config.xml are parsed by
// [ParseDevice] and [ParseJabberConfig]; an invalid one is rejected the
// same way. Each rejection is logged and published as [FileRejected]; the
// same bad version is not reported again at every check.
//
// # Settings and precedence
//
// With [Config.Store] set, jabber-config.xml's Policies group goes to the
// policy layer of package config and its other groups, with the device's
// registrar and transport, to the server layer. The effective order, lowest
// first: schema defaults < server (provisioned files) < user (config file,
// user registry, environment) < policy (jabber-config.xml Policies,
// Policies registry keys) < code. A user may override what the server
// proposes, but not what the administrator imposes.
//
// # Cache
//
// Each validated file is written to [Config.CacheDir] (atomically, with an
// index of hashes and validators). When no server answers at start, the
// cached files are put in force, [CacheUsed] is published, the client
// reports itself unhealthy ("offline: using N cached files from …") and
// keeps checking. Without servers and without a cache, Start fails with
// [ErrUnreachable].
//
// # Lifecycle
//
// [New] does no I/O. [Client.Start] loads the cache, fetches every file
// and starts one goroutine that checks the files every
// [Config.PollInterval]; [Client.Refresh] checks now. [Client.Close] and
// [Client.Shutdown] stop the goroutine and wait for it. [Spec] registers
// the client with a csf.Framework.
//
// # Events
//
// [FileChanged] for each new version in force (also from the cache, with
// FromCache set), [RulesReloaded] after dial rules changed, [FileRejected],
// [FetchFailed], [ServerFailedOver] and [CacheUsed].
//
// # Concurrency
//
// A Client is safe for concurrent use. Readers ([Client.AppRules],
// [Client.Device], …) never wait for a check; checks do not overlap.
//
// # Errors
//
// [ErrInvalid] (every [*FileError] from parsing), [ErrNotFound],
// [ErrUnreachable] and [ErrNoServer] are matched with errors.Is.
package provision
