// Package im is the instant messaging and presence transport of OpenCSF:
// an XMPP client core (RFC 6120, RFC 6121) on mellium.im/xmpp, what CUPC's
// IM and presence transport were.
//
//	c, err := im.New(im.Config{JID: "alice@example.test", Password: pw, Trust: trust})
//	if err := c.Start(ctx); err != nil { … }        // connected, bound, presence sent
//	defer c.Shutdown(ctx)
//	id, _ := c.SendText(ctx, "bob@example.test", "hi")
//	// events: im.MessageReceived, im.ReceiptReceived, im.PresenceReceived…
//
// # Connection
//
// The client connects to Config.Server, or by SRV lookup (XEP-0368), with
// STARTTLS or direct TLS, always verifying the certificate; a refused
// certificate is a *csf.TLSError naming the problem. It authenticates with
// SCRAM-SHA-256 or SCRAM-SHA-1 (with -PLUS channel binding when the server
// supports our binding type: tls-unique on TLS 1.2, tls-exporter on TLS 1.3
// when announced with XEP-0440; without -PLUS offered, SCRAM's "y" flag
// lets a server that can bind detect the downgrade), PLAIN only as a last
// resort and only over TLS. mellium negotiates the stream; from then on the client
// reads and writes stanzas itself: one reader (with the tokenizer of
// internal/xmltok, several times cheaper than encoding/xml's) and one
// batching writer per connection, which also does the keep-alive.
//
// # Lifecycle
//
// [New] does no I/O. [Client.Start] returns once the first session is
// ready; afterwards a supervisor goroutine keeps it up: the writer pings
// the server when it has been silent (XEP-0199) and drops a connection
// whose ping goes unanswered, the supervisor reconnects with exponential
// backoff and jitter (from internal/backoff), and resumes
// the session with XEP-0198 stream management (which mellium lacks, so it
// is built here on mellium's stream API, see internal/sm). Unacknowledged
// stanzas are re-sent; when resumption fails, the client catches up from
// the server's archive (XEP-0313) and de-duplicates by message and archive
// id, so every message is reported once. [Client.Shutdown] says goodbye;
// [Client.Close] stops at once. The client is a [csf.Service]; [Spec]
// registers it with a framework.
//
// # Events
//
// Everything inbound is an event on the csf bus ([Config.Events]):
// [MessageReceived], [ReceiptReceived], [ChatStateChanged],
// [PresenceReceived], [RosterChanged], [SubscriptionRequested],
// [RoomMessageReceived], [OccupantChanged], [InvitationReceived], and the
// connection's [Connected] and [Disconnected]. Presence also goes to a
// [PresenceSink] for a presence aggregator.
//
// # Concurrency
//
// All methods are safe for concurrent use. Sending never waits for the
// network: stanzas are queued and written in batches. The PresenceSink is
// called on the reader goroutine and must return quickly. A session runs
// two goroutines (reader, writer); Close joins them.
//
// # Roster and presence
//
// [Client.Roster] fetches the roster (with versioning) and makes the client
// an interested resource (RFC 6121 section 2.1.6): servers send roster
// pushes and some subscription answers only to interested resources.
//
// # Errors
//
// Wrong credentials give an *AuthError matching [ErrAuth] and are not
// retried. Requests that need a session (roster, history, disco) fail with
// [ErrNotConnected] while disconnected; error replies are *StanzaError.
// Hostile input (spoofed carbons, roster pushes or IQ responses, unknown
// namespaces, oversized stanzas) is dropped with a log line.
package im
