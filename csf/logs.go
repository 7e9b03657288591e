package csf

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
)

// Redacted replaces secrets in logs, snapshots and reports.
const Redacted = "[redacted]"

// secretKeys are attribute keys whose values are never logged, whatever
// their type. Secrets should be config.Secret values, which redact
// themselves; this is the second line of defence.
var secretKeys = map[string]bool{
	"password": true, "passwd": true, "pass": true, "secret": true, "token": true,
	"access_token": true, "refresh_token": true, "authorization": true,
	"proxy_authorization": true, "proxy-authorization": true, "digest_response": true,
	"response": true, "srtp_key": true, "crypto": true, "credentials": true, "api_key": true,
	"sasl_response": true, "cookie": true,
}

// secretPatterns scrub secrets that reach a message as text: SDES keys,
// digest responses, auth headers, password=… pairs, SASL payloads.
var secretPatterns = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`(?i)(inline:)[A-Za-z0-9+/=]+`), "${1}" + Redacted},
	{regexp.MustCompile(`(?i)\b(response|cnonce|password|passwd|token|secret)(\s*[=:]\s*)("[^"]*"|[^\s,;&"]+)`), "${1}${2}" + Redacted},
	{regexp.MustCompile(`(?i)((?:proxy-)?authorization:\s*)(\S+)\s+[^\r\n]*`), "${1}${2} " + Redacted},
	{regexp.MustCompile(`(?i)(<auth [^>]*>|<response[^>]*>)[^<]*`), "${1}" + Redacted},
}

// ScrubString removes secrets that appear as text in s: SDES inline keys,
// digest responses, Authorization headers, key=value passwords and SASL
// payloads.
func ScrubString(s string) string {
	for _, p := range secretPatterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return s
}

func redactAttr(a slog.Attr) slog.Attr {
	if secretKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, Redacted)
	}
	v := a.Value.Resolve() // LogValuer secrets resolve to "[redacted]" here
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, ScrubString(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]any, len(as))
		for i, ga := range as {
			out[i] = redactAttr(ga)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, ScrubString(err.Error()))
		}
		return slog.Attr{Key: a.Key, Value: v}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// redactingHandler scrubs every record and tees it to the injected handler
// and to the ring of recent lines kept for problem reports.
type redactingHandler struct {
	next slog.Handler // the app's; may be a discard handler
	ring slog.Handler
}

func (h redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l) || h.ring.Enabled(ctx, l)
}

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, ScrubString(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(redactAttr(a))
		return true
	})
	var err error
	if h.ring.Enabled(ctx, r.Level) {
		err = h.ring.Handle(ctx, nr.Clone())
	}
	if h.next.Enabled(ctx, r.Level) {
		if e := h.next.Handle(ctx, nr); e != nil {
			err = e
		}
	}
	return err
}

func (h redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return redactingHandler{next: h.next.WithAttrs(red), ring: h.ring.WithAttrs(red)}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{next: h.next.WithGroup(name), ring: h.ring.WithGroup(name)}
}

// lineRing keeps the last max log lines.
type lineRing struct {
	mu    sync.Mutex // guards lines, next, full
	lines [][]byte
	next  int
	full  bool
}

func newLineRing(max int) *lineRing { return &lineRing{lines: make([][]byte, max)} }

// Write stores one formatted record; slog's text handler writes each record
// with a single call.
func (r *lineRing) Write(p []byte) (int, error) {
	line := bytes.Clone(p)
	r.mu.Lock()
	r.lines[r.next] = line
	r.next = (r.next + 1) % len(r.lines)
	if r.next == 0 {
		r.full = true
	}
	r.mu.Unlock()
	return len(p), nil
}

// Bytes returns the kept lines, oldest first.
func (r *lineRing) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	if r.full {
		for _, l := range r.lines[r.next:] {
			b.Write(l)
		}
	}
	for _, l := range r.lines[:r.next] {
		b.Write(l)
	}
	return b.Bytes()
}
