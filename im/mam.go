package im

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"mellium.im/xmpp/jid"
)

// HistoryOptions selects a page of the message archive (XEP-0313). The
// zero value means the newest 50 messages of all conversations.
type HistoryOptions struct {
	// With limits the page to one conversation partner (a bare JID).
	With string
	// Max is the page size; 0 means 50.
	Max int
	// Before pages backwards: the page ends before this archive id
	// ([HistoryPage.First] of the previous page). After pages forwards from
	// an archive id. With neither, the page is the newest one.
	Before, After string
	// Start and End bound the time range; zero means unbounded.
	Start, End time.Time
}

// HistoryPage is one page of archived messages, oldest first.
type HistoryPage struct {
	Messages []Message
	// First and Last are the archive ids of the first and last message, for
	// paging with HistoryOptions.Before and After.
	First, Last string
	// Complete is true when the page reaches the end of the archive in the
	// direction of paging.
	Complete bool
}

// mamQuery collects the results of one archive query.
type mamQuery struct {
	catchUp bool // deliver results as events instead of collecting them
	msgs    []Message
	done    chan struct{}
	err     error
}

func (q *mamQuery) finish(_ *wireIQ, err error) {
	select {
	case <-q.done:
	default:
		q.err = err
		close(q.done)
	}
}

// History fetches a page of our message archive from the server. Messages
// we sent have Direction Outgoing.
func (c *Client) History(ctx context.Context, opts *HistoryOptions) (*HistoryPage, error) {
	if opts == nil {
		opts = &HistoryOptions{}
	}
	return c.history(ctx, *opts, false)
}

func (c *Client) history(ctx context.Context, o HistoryOptions, catchUp bool) (*HistoryPage, error) {
	if o.Max <= 0 {
		o.Max = 50
	}
	if o.With != "" {
		j, err := jid.Parse(o.With)
		if err != nil {
			return nil, fmt.Errorf("im: history with %q: %w", o.With, ErrBadAddress)
		}
		o.With = j.Bare().String()
	}
	qid := c.newID()
	var b builder
	b.open("query", "xmlns", nsMAM, "queryid", qid)
	b.open("x", "xmlns", nsDataForm, "type", "submit")
	b.open("field", "var", "FORM_TYPE", "type", "hidden").elem("value", nsMAM).close("field")
	if o.With != "" {
		b.open("field", "var", "with").elem("value", o.With).close("field")
	}
	if !o.Start.IsZero() {
		b.open("field", "var", "start").elem("value", o.Start.UTC().Format(time.RFC3339)).close("field")
	}
	if !o.End.IsZero() {
		b.open("field", "var", "end").elem("value", o.End.UTC().Format(time.RFC3339)).close("field")
	}
	b.close("x")
	b.open("set", "xmlns", nsRSM).elem("max", strconv.Itoa(o.Max))
	switch {
	case o.After != "":
		b.elem("after", o.After)
	case o.Before != "":
		b.elem("before", o.Before)
	case !catchUp:
		b.empty("before")
	}
	b.close("set").close("query")

	q := &mamQuery{catchUp: catchUp, done: make(chan struct{})}
	c.mu.Lock()
	c.mam[qid] = q
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.mam, qid)
		c.mu.Unlock()
	}()
	resp, err := c.iq(ctx, "set", "", b.bytes())
	if err != nil {
		return nil, fmt.Errorf("im: history: %w", err)
	}
	c.mu.Lock()
	page := &HistoryPage{Messages: q.msgs}
	q.msgs = nil
	c.mu.Unlock()
	if fin := resp.MAMFin; fin != nil {
		page.Complete = fin.Complete == "true"
		if fin.Set != nil {
			page.First, page.Last = fin.Set.First, fin.Set.Last
		}
	}
	return page, nil
}

// onMAMResult handles one archived message of a query of ours. Results
// arrive before the IQ that ends the query, on the same stream, so they
// are complete when the IQ response is.
func (c *Client) onMAMResult(r *wireMAMResult) {
	c.mu.Lock()
	q := c.mam[r.QueryID]
	c.mu.Unlock()
	if q == nil || r.Forwarded == nil || r.Forwarded.Message == nil {
		c.drop("archive result for no query of ours", "queryid", r.QueryID)
		return
	}
	m := r.Forwarded.Message
	if m.CarbonRecv != nil || m.CarbonSent != nil || m.MAMResult != nil {
		c.drop("nested archive result")
		return
	}
	dir := Incoming
	if c.fromSelf(bareOf(m.From)) && m.From != "" {
		dir = Outgoing
	}
	if q.catchUp {
		c.deliver(m, dir, false, r.Forwarded.Delay, r.ID)
		return
	}
	body, ok := m.body()
	if !ok {
		return
	}
	msg := Message{ID: m.ID, From: m.From, To: m.To, Type: orDefault(m.Type, "normal"), Text: body,
		Thread: m.Thread, ArchiveID: r.ID, Direction: dir, Delayed: true}
	if d := r.Forwarded.Delay; d != nil {
		msg.Time, _ = time.Parse(time.RFC3339Nano, d.Stamp)
	}
	c.mu.Lock()
	q.msgs = append(q.msgs, msg)
	c.mu.Unlock()
}

// catchUp fetches what the archive holds after the newest message we saw,
// after a session that could not be resumed; each message is published
// once (de-duplicated by archive id and message id).
func (c *Client) catchUp(s *session) {
	c.mu.Lock()
	after := c.lastArch
	c.mu.Unlock()
	if after == "" {
		return // first session: offline storage delivers what we missed
	}
	for range 20 { // at most 20 pages (1,000 messages) per reconnection
		ctx, cancel := context.WithTimeout(c.life, 30*time.Second)
		page, err := c.history(ctx, HistoryOptions{After: after, Max: 50}, true)
		cancel()
		if err != nil {
			c.log.Warn("archive catch-up failed", "err", err)
			return
		}
		if page.Complete || page.Last == "" {
			return
		}
		after = page.Last
		select {
		case <-s.done:
			return
		default:
		}
	}
}
