package im

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/opencsf/opencsf/csf"
	"mellium.im/xmpp/jid"
)

// Occupant is someone in a room (XEP-0045 section 5).
type Occupant struct {
	Nick        string
	JID         string // real JID, when the room shows it
	Role        string // moderator, participant, visitor
	Affiliation string // owner, admin, member, outcast, none
}

// JoinOptions are per-join choices; nil means defaults.
type JoinOptions struct {
	// History is how many messages of room history to receive on joining;
	// 0 means the room's default, negative none.
	History int
	// Password for a protected room.
	Password string
	// Persistent makes a room we create outlive its last occupant (the
	// persistent chat room of CUP). A room we create is otherwise an
	// instant room with the service's defaults (XEP-0045 section 10.1.2).
	Persistent bool
}

// Room is a joined multi-user chat room (XEP-0045), the persistent chat
// room of CUP. Make one with [Client.JoinRoom]; it stays joined, also
// across reconnections, until [Room.Leave].
type Room struct {
	c    *Client
	jid  jid.JID // room@service
	nick string
	opts JoinOptions

	mu        sync.Mutex // guards the fields below
	occupants map[string]Occupant
	subject   string
	joined    chan struct{} // closed on our self-presence
	joinErr   error
	created   bool // our join created the room (status 201)
	left      bool
}

// RoomMessageReceived reports a group chat message (also room history on
// joining, with Message.Delayed).
type RoomMessageReceived struct {
	csf.EventHeader
	Room    string
	Nick    string
	Message Message
}

// OccupantChanged reports someone joining, changing role or leaving a room.
type OccupantChanged struct {
	csf.EventHeader
	Room     string
	Occupant Occupant
	Left     bool
}

// RoomSubjectChanged reports a room's subject.
type RoomSubjectChanged struct {
	csf.EventHeader
	Room    string
	Subject string
	By      string
}

// InvitationReceived reports an invitation to a room (XEP-0045 mediated or
// XEP-0249 direct).
type InvitationReceived struct {
	csf.EventHeader
	Room     string
	From     string
	Reason   string
	Password string
}

// JoinRoom enters room (room@service) as nick and waits until the room
// confirms (XEP-0045 section 7.2). Messages and occupant changes arrive as
// events.
func (c *Client) JoinRoom(ctx context.Context, room, nick string, opts *JoinOptions) (*Room, error) {
	rj, err := jid.Parse(room)
	if err != nil || rj.Localpart() == "" || nick == "" {
		return nil, fmt.Errorf("im: join %q as %q: %w", room, nick, ErrBadAddress)
	}
	if _, err := rj.WithResource(nick); err != nil {
		return nil, fmt.Errorf("im: join %q as %q: %w", room, nick, ErrBadAddress)
	}
	r := &Room{c: c, jid: rj.Bare(), nick: nick, occupants: map[string]Occupant{}, joined: make(chan struct{})}
	if opts != nil {
		r.opts = *opts
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if _, dup := c.rooms[r.jid.String()]; dup {
		c.mu.Unlock()
		return nil, fmt.Errorf("im: already in room %s", room)
	}
	c.rooms[r.jid.String()] = r
	c.mu.Unlock()
	r.rejoin()
	select {
	case <-r.joined:
	case <-ctx.Done():
		c.forgetRoom(r)
		return nil, ctx.Err()
	}
	r.mu.Lock()
	err = r.joinErr
	r.mu.Unlock()
	if err != nil {
		c.forgetRoom(r)
		return nil, fmt.Errorf("im: join %s: %w", room, err)
	}
	r.mu.Lock()
	created := r.created
	r.mu.Unlock()
	if created {
		// A new room stays locked until its owner configures it; accept the
		// defaults (instant room) or ask for persistence.
		var b builder
		b.open("query", "xmlns", nsMUCOwner).open("x", "xmlns", nsDataForm, "type", "submit")
		if r.opts.Persistent {
			b.open("field", "var", "FORM_TYPE").elem("value", "http://jabber.org/protocol/muc#roomconfig").close("field")
			b.open("field", "var", "muc#roomconfig_persistentroom").elem("value", "1").close("field")
		}
		b.close("x").close("query")
		if _, err := c.iq(ctx, "set", r.jid.String(), b.bytes()); err != nil {
			_ = r.Leave(ctx)
			return nil, fmt.Errorf("im: configure new room %s: %w", room, err)
		}
	}
	return r, nil
}

func (c *Client) forgetRoom(r *Room) {
	c.mu.Lock()
	if c.rooms[r.jid.String()] == r {
		delete(c.rooms, r.jid.String())
	}
	c.mu.Unlock()
}

// rejoin sends the join presence (again, after a fresh session).
func (r *Room) rejoin() {
	var b builder
	b.open("presence", "to", r.jid.String()+"/"+r.nick).open("x", "xmlns", nsMUC)
	switch {
	case r.opts.History < 0:
		b.empty("history", "maxstanzas", "0")
	case r.opts.History > 0:
		b.empty("history", "maxstanzas", strconv.Itoa(r.opts.History))
	}
	if r.opts.Password != "" {
		b.elem("password", r.opts.Password)
	}
	b.close("x")
	r.c.mu.Lock()
	pres := r.c.presence
	r.c.mu.Unlock()
	if pres.Show != ShowAvailable {
		b.elem("show", string(pres.Show))
	}
	r.c.enqueue(b.close("presence").bytes(), false)
}

// JID returns the room's address.
func (r *Room) JID() string { return r.jid.String() }

// Nick returns our nickname in the room.
func (r *Room) Nick() string { return r.nick }

// Occupants returns who is in the room now.
func (r *Room) Occupants() []Occupant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Occupant, 0, len(r.occupants))
	for _, o := range r.occupants {
		out = append(out, o)
	}
	return out
}

// Subject returns the room's subject.
func (r *Room) Subject() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.subject
}

// Send sends a message to everyone in the room and returns its id.
func (r *Room) Send(ctx context.Context, text string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m := Message{To: r.jid.String(), Type: "groupchat", Text: text, ID: r.c.newID()}
	r.c.enqueue(messageStanza(&m), true)
	return m.ID, nil
}

// SetSubject changes the room's subject (when the room allows us).
func (r *Room) SetSubject(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var b builder
	b.open("message", "to", r.jid.String(), "type", "groupchat", "id", r.c.newID()).elem("subject", subject).close("message")
	r.c.enqueue(b.bytes(), true)
	return nil
}

// Invite invites a contact to the room (XEP-0045 section 7.8.2, mediated
// through the room).
func (r *Room) Invite(ctx context.Context, contact, reason string) error {
	j, err := jid.Parse(contact)
	if err != nil || contact == "" {
		return fmt.Errorf("im: invite %q: %w", contact, ErrBadAddress)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var b builder
	b.open("message", "to", r.jid.String(), "id", r.c.newID()).open("x", "xmlns", nsMUCUser).open("invite", "to", j.Bare().String())
	if reason != "" {
		b.elem("reason", reason)
	}
	b.close("invite").close("x").close("message")
	r.c.enqueue(b.bytes(), true)
	return nil
}

// Leave exits the room (unavailable presence) and forgets it.
func (r *Room) Leave(ctx context.Context) error {
	r.mu.Lock()
	if r.left {
		r.mu.Unlock()
		return nil
	}
	r.left = true
	r.mu.Unlock()
	r.c.forgetRoom(r)
	var b builder
	r.c.enqueue(b.empty("presence", "to", r.jid.String()+"/"+r.nick, "type", "unavailable").bytes(), false)
	return ctx.Err()
}

func (c *Client) room(from string) (*Room, string) {
	j, err := jid.Parse(from)
	if err != nil {
		return nil, ""
	}
	c.mu.Lock()
	r := c.rooms[j.Bare().String()]
	c.mu.Unlock()
	return r, j.Resourcepart()
}

func (c *Client) isRoomJID(from string) bool {
	r, _ := c.room(from)
	return r != nil
}

func (c *Client) onRoomPresence(p *wirePresence) {
	r, nick := c.room(p.From)
	if r == nil {
		c.drop("room presence from a room we are not in", "from", p.From)
		return
	}
	if p.Type == "error" {
		c.log.Debug("room presence error", "from", p.From, "err", p.Error.err())
		r.mu.Lock()
		select {
		case <-r.joined:
		default:
			r.joinErr = p.Error.err()
			close(r.joined)
		}
		r.mu.Unlock()
		return
	}
	o := Occupant{Nick: nick}
	if it := p.MUCUser.item(); it != nil {
		o.JID, o.Role, o.Affiliation = it.JID, it.Role, it.Affiliation
	}
	left := p.Type == "unavailable"
	self := p.MUCUser.has(110) || nick == r.nick
	r.mu.Lock()
	if left {
		delete(r.occupants, nick)
	} else {
		r.occupants[nick] = o
	}
	if self && !left {
		if p.MUCUser.has(201) {
			r.created = true
		}
		select {
		case <-r.joined:
		default:
			close(r.joined)
		}
	}
	r.mu.Unlock()
	csf.Publish(c.cfg.Events, OccupantChanged{Room: r.jid.String(), Occupant: o, Left: left})
}

func (u *wireMUCUser) item() *wireMUCItem {
	if u == nil {
		return nil
	}
	return u.Item
}

func (c *Client) onGroupMessage(m *wireMessage, delay *wireDelay) {
	r, nick := c.room(m.From)
	if r == nil {
		c.drop("group chat message from a room we are not in", "from", m.From)
		return
	}
	if m.Subject != nil {
		r.mu.Lock()
		r.subject = m.Subject.Text
		r.mu.Unlock()
		csf.Publish(c.cfg.Events, RoomSubjectChanged{Room: r.jid.String(), Subject: m.Subject.Text, By: nick})
	}
	body, ok := m.body()
	if !ok {
		return
	}
	msg := Message{ID: m.ID, From: m.From, To: m.To, Type: "groupchat", Text: body, Thread: m.Thread}
	if delay != nil {
		msg.Delayed = true
	}
	// A room's stanza-id is stamped "by" the room.
	for _, sid := range m.StanzaIDs {
		if sid.By == r.jid.String() {
			msg.ArchiveID = sid.ID
		}
	}
	if msg.ArchiveID != "" && !c.firstTime(r.jid.String(), "", msg.ArchiveID) {
		return
	}
	csf.Publish(c.cfg.Events, RoomMessageReceived{Room: r.jid.String(), Nick: nick, Message: msg})
}

func (c *Client) onInvite(m *wireMessage) {
	if m.MUCUser != nil && m.MUCUser.Invite != nil {
		csf.Publish(c.cfg.Events, InvitationReceived{Room: bareOf(m.From), From: m.MUCUser.Invite.From,
			Reason: m.MUCUser.Invite.Reason, Password: m.MUCUser.Password})
		return
	}
	di := m.DirectInvite
	if _, err := jid.Parse(di.JID); err != nil || di.JID == "" {
		c.drop("invitation to a bad room address", "room", di.JID)
		return
	}
	csf.Publish(c.cfg.Events, InvitationReceived{Room: di.JID, From: m.From, Reason: di.Reason, Password: di.Password})
}
