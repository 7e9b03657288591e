// Package softphone is OpenCSF's soft phone: a SIP user agent with real
// audio, for a desktop client, a bot, a gateway or a test fleet of many
// lines in one process.
//
// A [Phone] is one SIP socket serving one or more lines (Config.Account,
// Config.Lines). It registers each account with a registrar (digest
// MD5 or SHA-256, chosen among several challenges as RFC 8760 says), keeps
// the registration fresh (with keep-alives on the flow: CRLF on TCP and TLS,
// STUN on UDP, registering again when the flow breaks, the registrar sees
// us at a new address or the route to it leaves from a new local address),
// places calls with [Phone.Dial] and announces
// incoming ones as [CallReceived] events. A [Call] carries G.711 audio
// (µ-law or A-law, 20 ms frames; Opus in builds with it) over RTP, encrypted with SRTP when the
// signalling is TLS, and moves through a typed state machine ([CallState])
// published as events.
//
//	p, err := softphone.New(softphone.Config{
//		Account:   softphone.Account{User: "alice", Domain: "example.test", Password: pw},
//		Registrar: "pbx.example.test:5061",
//		Transport: "tls",
//		Events:    fw.Bus().NewPublisher("softphone"),
//	})
//	if err := p.Start(ctx); err != nil { … }      // registered
//	defer p.Shutdown(context.Background())       // unregisters
//	call, err := p.Dial(ctx, "bob", &softphone.CallOptions{Source: wav, Sink: rec})
//	…
//	call.Hangup(ctx)
//
// Sound goes in and out through package [github.com/opencsf/opencsf/softphone/audio]:
// WAV files, tones, silence, a tone detector; no sound device is needed.
//
// # Lifecycle
//
// [New] checks the Config and does no I/O. [Phone.Start] opens the SIP
// socket and registers; the context bounds start-up only. [Phone.Shutdown]
// hangs up every call and unregisters, [Phone.Close] stops at once. Both
// wait for every goroutine the phone started. A phone is a [csf.Service];
// [Spec] registers one with a framework.
//
// # Events
//
// Events go to Config.Events in one order: [Registered],
// [RegistrationFailed], [Unregistered], [CallReceived], [CallStateChanged],
// [DTMFReceived], [CallTransferred], [CallReplaced], [CallMoved] and
// [CallMoveFailed]. Publishing never blocks the phone; a slow consumer
// gets csf.Lagged and can re-read [Phone.Calls].
//
// # Concurrency
//
// All methods are safe for concurrent use. sipgo runs each incoming
// request on a goroutine of its own; the phone's own goroutines are one
// media loop per core that paces its calls' sending and playout (one timer
// for all of them, waking every 5 ms for the quarter of its calls whose
// frames fall due then), two readers per loop for the RTP port pair its calls
// share, and one registration refresher. A call needs no goroutine of its
// own, except one answering an offer that names no SSRC (a=ssrc), which
// gets a port pair and two readers of its own so that its packets cannot
// be mistaken for another call's, and one that followed the phone to a
// new address (below), which has them there; while it follows, one more
// sends its new offer. Audio sources and sinks are called from
// the media loop and must not block.
//
// # Media ports
//
// Calls share their loop's RTP port: our SDP names our SSRC (RFC 5576) and
// offers rtcp-mux (RFC 5761), and packets go to their call by the far
// end's SSRC, or by the address its SDP named. Each tick's packets leave
// with one sendmmsg, runs of packets to one address as one segmented send
// (UDP GSO) where Linux allows; the readers use recvmmsg.
//
// # Moving to a new address
//
// At each keep-alive the phone checks which local address the route to
// the registrar leaves from. When that changes (a laptop changing
// networks), it moves its SIP socket there, registers again and removes
// the old contact, and every established call follows: it takes an RTP
// port pair of its own on the new address (same SSRC, same SRTP keys, the
// shared ports stay where they were) and sends a new offer, a re-INVITE
// (UPDATE with Config.MediaByUpdate when the far end allows it), whose
// SDP names the new address with its version incremented (RFC 3264
// section 8), keeps the call's direction and codec, and whose Contact is
// the new SIP address (a target refresh). [CallMoved] reports each call
// that followed; [Stats].LocalAddr shows where its media now is. A failed
// offer is published as [CallMoveFailed] and tried again with backoff
// when another try may succeed (timeout, 408, 480, 5xx; a 491 is retried
// as every offer's is, below), three tries in all; then, or at once for a refusal (481, 488…), the call ends with an
// Err matching [ErrMoveFailed], BYE sent unless the far end no longer
// knows the dialog: a call the far end cannot reach is over, and the user
// should hear so rather than silence. Calls still ringing when the phone
// moves keep their media where it was.
//
// # One offer at a time
//
// A call sends one offer at a time (RFC 3261 section 14.1, RFC 3311
// section 5.1): [Call.Hold], [Call.Resume], [Call.Update], a session
// refresh by re-INVITE and a move's offer each wait for the call's
// earlier offer to be answered (or for their context or the call to end)
// before sending theirs, and take the call's state as it is then, so an
// offer that waited does not undo a Hold that went first; they also wait
// while the phone is answering an offer from the far end. The far end's
// next offer, which may come as soon as it has our answer, waits for that
// answer to be done too (up to 2 s, then 500 with Retry-After). An offer
// from the far end (re-INVITE, or UPDATE with SDP) that arrives while ours
// is unanswered is refused with 491 Request Pending (RFC 3261 section 14.2,
// RFC 3311 section 5.2). Our offer refused with 491 is sent again after a
// random delay, 2.1 to 4 s when this phone placed the call and 0 to 2 s
// when it received it, so that the two ends do not collide again; three
// tries in all, then the method returns the *[StatusError] with code 491.
// Health counters: glare_refused (491s we sent), glare_retries (our
// offers sent again after a 491), offers_sent. A session refresh by
// UPDATE without SDP is no offer and is not held back.
//
// # Errors
//
// A final SIP refusal is a *[StatusError] (errors.Is matches by code: 486
// busy, 603 decline, 404 unknown). [ErrAuthFailed] means wrong credentials
// and is never retried; [ErrNotRegistered], [ErrCallEnded], [ErrBadState],
// [ErrNoCodec], [ErrBadSDP], [ErrTimeout], [ErrSessionExpired] and
// [ErrMoveFailed] name the other cases. With
// Config.Trust set, TLS failures are *csf.TLSError.
//
// # What is not here yet
//
// Moving the media of calls still ringing to a new local address (see
// above), Opus at 48 kHz.
//
// # Opus
//
// Opus comes through libopus with cgo, only in builds with the tag "opus"
// (go build -tags opus; Debian: libopus-dev, pkg-config). Without it the
// package builds everywhere, [CodecAvailable]("opus") is false and a
// Config listing "opus" is refused by [New]. Opus calls run at 8 kHz
// narrowband through the same 20 ms frames; DTMF goes by SIP INFO in them.
package softphone
