package voicemail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gosasl "github.com/emersion/go-sasl"
	"mellium.im/sasl"
)

// How the client logs in, best first (the house bar: SCRAM preferred,
// PLAIN only over TLS, which every session here is by construction).
// SCRAM (RFC 5802, RFC 7677) proves the password without sending it and
// makes the server prove it knows it too; PLAIN (RFC 4616) sends it,
// inside TLS; the LOGIN command (RFC 3501 section 6.2.3) is for servers
// that offer no SASL mechanism we know.
const (
	mechSCRAMSHA256 = "SCRAM-SHA-256"
	mechSCRAMSHA1   = "SCRAM-SHA-1"
	mechPlain       = "PLAIN"
	// mechLogin is the IMAP LOGIN command, not the SASL mechanism of the
	// same name (which this client never uses).
	mechLogin = "LOGIN"
)

// saslMechanisms are the SASL mechanisms the client offers to use, best
// first.
var saslMechanisms = []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha1, sasl.Plain}

// errNoMechanism means the server offers no way in that this client
// takes: no SCRAM, no PLAIN, and LOGINDISABLED.
var errNoMechanism = errors.New("server offers no login this client can use")

// chooseAuth picks how to log in from the server's capabilities (any
// case, as RFC 3501 section 9 allows): SCRAM-SHA-256, SCRAM-SHA-1, PLAIN,
// then the LOGIN command unless LOGINDISABLED. scram false leaves SCRAM
// out, for the second try after a server refused go-imap's final SCRAM
// response (loginSCRAM).
func chooseAuth(caps []string, scram bool) (string, error) {
	offered := func(c string) bool {
		return slices.ContainsFunc(caps, func(x string) bool { return strings.EqualFold(x, c) })
	}
	for _, m := range saslMechanisms {
		if !scram && isSCRAM(m.Name) {
			continue
		}
		if offered("AUTH=" + m.Name) {
			return m.Name, nil
		}
	}
	if !offered(string(imap.CapLoginDisabled)) {
		return mechLogin, nil
	}
	return "", errNoMechanism
}

func isSCRAM(mech string) bool { return strings.HasPrefix(mech, "SCRAM-") }

// newNegotiator returns mellium's client side of mech for the account.
// No channel binding: the server's certificate is verified instead.
func newNegotiator(mech, user, pass string) *sasl.Negotiator {
	i := slices.IndexFunc(saslMechanisms, func(m sasl.Mechanism) bool { return m.Name == mech })
	return sasl.NewClient(saslMechanisms[i], sasl.Credentials(func() (username, password, identity []byte) {
		return []byte(user), []byte(pass), nil
	}))
}

// saslClient adapts mellium's Negotiator to go-sasl's Client, which
// go-imap's Authenticate drives. It remembers whether the server proved
// itself (SCRAM's server-final message verified), which decides whether
// a refusal after that may be retried (loginSCRAM).
type saslClient struct {
	mech     string
	n        *sasl.Negotiator
	failed   bool // mellium panics on a Step after an error
	verified bool // the server's final SCRAM message checked out
	// endFix, when not nil, is told that the next line go-imap writes
	// is SCRAM's empty final response.
	endFix *emptyResponseConn
}

var _ gosasl.Client = (*saslClient)(nil)

func (s *saslClient) Start() (mech string, ir []byte, err error) {
	_, ir, err = s.n.Step(nil)
	if err != nil {
		s.failed = true
		return "", nil, fmt.Errorf("%s: %w", s.mech, err)
	}
	return s.mech, ir, nil
}

func (s *saslClient) Next(challenge []byte) ([]byte, error) {
	if s.failed || s.verified {
		return nil, fmt.Errorf("%s: challenge after the exchange ended", s.mech)
	}
	more, resp, err := s.n.Step(challenge)
	if err != nil {
		s.failed = true
		return nil, &saslError{mech: s.mech, err: err}
	}
	if !more && isSCRAM(s.mech) && s.n.State()&sasl.StepMask == sasl.ValidServerResponse {
		s.verified = true
		if len(resp) == 0 && s.endFix != nil {
			s.endFix.armed.Store(true)
		}
	}
	return resp, nil
}

// emptyResponseConn sits under go-imap's session, on the TLS connection
// we hold (dial makes it, under STARTTLS too), and mends the one line
// go-imap gets wrong: SCRAM's empty final response, which it writes as
// "=" (go-imap issue 760, see loginSCRAM), goes out as the empty line RFC
// 3501 section 6.2.2 asks for. Only the write right after the adapter
// verified the server's final message is looked at; a go-imap that writes
// it right passes through. After our own STARTTLS it also hands go-imap
// the greeting it waits for: the server's came before TLS.
type emptyResponseConn struct {
	net.Conn
	armed    atomic.Bool // the next write is SCRAM's final response
	greeting []byte      // read before the connection's own bytes
}

// mendSCRAMEnd is false only in tests of the fallback in loginSCRAM.
var mendSCRAMEnd atomic.Bool

func init() { mendSCRAMEnd.Store(true) }

func (c *emptyResponseConn) Read(p []byte) (int, error) {
	if len(c.greeting) > 0 {
		n := copy(p, c.greeting)
		c.greeting = c.greeting[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *emptyResponseConn) Write(p []byte) (int, error) {
	if c.armed.Swap(false) && mendSCRAMEnd.Load() && string(p) == "=\r\n" {
		if _, err := c.Conn.Write([]byte("\r\n")); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// saslError is our side refusing the server's SASL messages: a SCRAM
// server signature that does not match (the server does not know the
// password), a malformed challenge, or one too many.
type saslError struct {
	mech string
	err  error
}

func (e *saslError) Error() string {
	return fmt.Sprintf("%s: server's messages did not verify: %v", e.mech, e.err)
}

func (e *saslError) Unwrap() error { return e.err }

// errUnproven means a server said OK to SCRAM without sending its final
// message, so it never proved it knows the password.
var errUnproven = errors.New("server accepted SCRAM without proving it knows the password")

// capList returns go-imap's capability set as strings.
func capList(caps imap.CapSet) []string {
	out := make([]string, 0, len(caps))
	for c := range caps {
		out = append(out, string(c))
	}
	return out
}

// authenticate logs c in with the best mechanism offered and returns the
// one that worked. A refusal is an *AuthError; so is a server whose SCRAM
// messages do not verify.
func (vc *Conn) authenticate(c *imapclient.Client) (string, error) {
	user, pass := vc.cfg.UserName, vc.cfg.Password.Reveal()
	mech, err := chooseAuth(capList(c.Caps()), true)
	if err != nil {
		return "", fmt.Errorf("voicemail: login as %s: %w", user, err)
	}
	vc.log.Debug("voicemail authenticating", "mechanism", mech)
	switch mech {
	case mechLogin:
		err = c.Login(user, pass).Wait()
	case mechPlain:
		err = c.Authenticate(gosasl.NewPlainClient("", user, pass))
	default:
		mech, err = vc.loginSCRAM(c, mech, user, pass)
	}
	if err != nil {
		var ie *imap.Error
		var se *saslError
		if errors.As(err, &ie) || errors.As(err, &se) || errors.Is(err, errUnproven) {
			return "", &AuthError{User: user, Err: err}
		}
		return "", fmt.Errorf("voicemail: login as %s: %w", user, err)
	}
	return mech, nil
}

// loginSCRAM authenticates with a SCRAM mechanism over go-imap. go-imap
// (v2.0.0-beta.8) answers SCRAM's server-final message with "=", which
// RFC 4959 reserves for an empty initial response, where RFC 3501
// section 6.2.2 wants an empty line (go-imap issue 760): Cyrus 3.6
// answers NO (after its failedloginpause, 3 s by default), dovecot
// 2.3.19 BAD ("Invalid base64 data in continued response").
// emptyResponseConn mends the line. Should that fail (a go-imap that
// writes the line otherwise) and the refusal come after the server proved
// it knows the password, the session logs in once more with the next mechanism
// offered (PLAIN, inside the verified TLS); any other failure is final,
// so neither a wrong password nor a server that cannot prove itself
// makes the client send the password.
func (vc *Conn) loginSCRAM(c *imapclient.Client, mech, user, pass string) (string, error) {
	sc := &saslClient{mech: mech, n: newNegotiator(mech, user, pass), endFix: vc.endFix}
	err := c.Authenticate(sc)
	if err == nil && !sc.verified {
		return "", errUnproven
	}
	var ie *imap.Error
	if err == nil || !sc.verified || !errors.As(err, &ie) ||
		(ie.Type != imap.StatusResponseTypeNo && ie.Type != imap.StatusResponseTypeBad) {
		return mech, err
	}
	next, cerr := chooseAuth(capList(c.Caps()), false)
	if cerr != nil {
		return "", err
	}
	vc.log.Info("voicemail server refused go-imap's final SCRAM response; logging in again",
		"mechanism", mech, "next_mechanism", next, "server_said", ie.Text)
	if next == mechLogin {
		return next, c.Login(user, pass).Wait()
	}
	return next, c.Authenticate(gosasl.NewPlainClient("", user, pass))
}

// authenticate logs the raw session in, choosing as the go-imap session
// does from caps, and returns the mechanism used. Its SCRAM ends with the
// empty line RFC 3501 section 6.2.2 asks for, which Cyrus takes. A login
// the server refuses returns errRawUnsupported (the listing then goes
// through go-imap); a server whose SCRAM messages do not verify is an
// *AuthError.
func (rc *rawConn) authenticate(cfg Config, caps []string) (string, error) {
	user, pass := cfg.UserName, cfg.Password.Reveal()
	mech, err := chooseAuth(caps, true)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errRawUnsupported, err)
	}
	if mech == mechLogin {
		u, ok1 := quoteIMAP(user)
		p, ok2 := quoteIMAP(pass)
		if !ok1 || !ok2 {
			return "", errRawUnsupported
		}
		if err := rc.command("LOGIN "+u+" "+p, nil); err != nil {
			return "", fmt.Errorf("%w: login: %v", errRawUnsupported, err)
		}
		return mech, nil
	}
	saslIR := slices.ContainsFunc(caps, func(c string) bool { return strings.EqualFold(c, string(imap.CapSASLIR)) })
	err = rc.saslExchange(mech, newNegotiator(mech, user, pass), saslIR)
	var se *saslError
	switch {
	case err == nil:
		return mech, nil
	case errors.As(err, &se) || errors.Is(err, errUnproven):
		return "", &AuthError{User: user, Err: err}
	case errors.Is(err, errRefused):
		return "", fmt.Errorf("%w: authenticate %s: %v", errRawUnsupported, mech, err)
	default:
		return "", fmt.Errorf("voicemail: authenticate %s: %w", mech, err)
	}
}

// errRefused is a tagged NO or BAD to AUTHENTICATE.
var errRefused = errors.New("refused")

// saslExchange runs AUTHENTICATE (RFC 3501 section 6.2.2) with n, the
// initial response inline when the server offers SASL-IR (RFC 4959).
func (rc *rawConn) saslExchange(mech string, n *sasl.Negotiator, saslIR bool) error {
	_, ir, err := n.Step(nil)
	if err != nil {
		return fmt.Errorf("%s: %w", mech, err)
	}
	rc.tag++
	tag := "v" + strconv.Itoa(rc.tag)
	line := tag + " AUTHENTICATE " + mech
	if saslIR {
		line += " " + encodeSASL(ir)
		ir = nil
	}
	if _, err := io.WriteString(rc.conn, line+"\r\n"); err != nil {
		return err
	}
	irSent, verified := saslIR, false
	for {
		resp, err := readResponse(rc.r, rc.buf)
		rc.buf = resp
		if err != nil {
			return err
		}
		if status, ok := bytes.CutPrefix(resp, []byte(tag+" ")); ok {
			if !bytes.HasPrefix(status, []byte("OK")) {
				return fmt.Errorf("%w: server said %q", errRefused, bytes.TrimSpace(status))
			}
			if isSCRAM(mech) && !verified {
				return errUnproven
			}
			return nil
		}
		if !bytes.HasPrefix(resp, []byte("+")) {
			continue // untagged data, such as a CAPABILITY
		}
		var out []byte
		if !irSent {
			// The server asks for the initial response (the mechanisms
			// used here all have one).
			out, irSent = ir, true
		} else {
			challenge, err := decodeChallenge(resp)
			if err != nil {
				return &saslError{mech: mech, err: err}
			}
			if verified || n.State()&sasl.Errored != 0 {
				return &saslError{mech: mech, err: errors.New("challenge after the exchange ended")}
			}
			more, step, err := n.Step(challenge)
			if err != nil {
				return &saslError{mech: mech, err: err}
			}
			verified = !more && n.State()&sasl.StepMask == sasl.ValidServerResponse
			out = step
		}
		// An empty response is an empty line here, not "=" (which RFC
		// 4959 gives only to an empty initial response on the command).
		var w string
		if len(out) > 0 {
			w = base64.StdEncoding.EncodeToString(out)
		}
		if _, err := io.WriteString(rc.conn, w+"\r\n"); err != nil {
			return err
		}
	}
}

// encodeSASL encodes an initial response for the AUTHENTICATE line: "="
// when empty (RFC 4959 section 3).
func encodeSASL(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// decodeChallenge returns the decoded challenge of a continuation request
// ("+ " base64 CRLF, RFC 3501 section 7.5).
func decodeChallenge(resp []byte) ([]byte, error) {
	b, ok := bytes.CutPrefix(resp, []byte("+"))
	if !ok {
		return nil, errors.New("not a continuation request")
	}
	b = bytes.TrimPrefix(b, []byte(" "))
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if bytes.ContainsAny(b, "\r\n") {
		// Go's base64 skips line ends; a challenge has none.
		return nil, errors.New("challenge spans lines")
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Strict().Decode(out, b)
	if err != nil {
		return nil, fmt.Errorf("challenge is not base64: %w", err)
	}
	return out[:n], nil
}

// capabilityCode returns the capabilities of a response carrying the
// CAPABILITY response code (RFC 3501 section 7.1), as a greeting may,
// saving a CAPABILITY command.
func capabilityCode(resp []byte) ([]string, bool) {
	const code = "[CAPABILITY "
	i := bytes.Index(resp, []byte(code))
	if i < 0 {
		return nil, false
	}
	rest := resp[i+len(code):]
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return nil, false
	}
	var caps []string
	for _, f := range bytes.Fields(rest[:end]) {
		caps = append(caps, string(f))
	}
	return caps, true
}
