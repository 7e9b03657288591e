package im

import "strconv"

// Builders for the stanzas we send. Every value goes through the escaping
// builder.

func messageStanza(m *Message) []byte {
	// Sized for the usual message at once: growing the buffer was most of
	// a send's allocations.
	b := builder{b: make([]byte, 0, 192+len(m.To)+len(m.ID)+len(m.Text)+len(m.Subject)+len(m.Thread))}
	b.open("message", "to", m.To, "id", m.ID, "type", m.Type)
	if m.Text != "" {
		b.elem("body", m.Text)
	}
	if m.Subject != "" {
		b.elem("subject", m.Subject)
	}
	if m.Thread != "" {
		b.elem("thread", m.Thread)
	}
	if m.State != ChatNone {
		b.empty(string(m.State), "xmlns", nsChatStates)
	}
	if m.RequestReceipt {
		b.empty("request", "xmlns", nsReceipts)
	}
	if m.Text == "" && m.State != ChatNone {
		// XEP-0334: a bare chat state is not worth archiving or storing.
		b.empty("no-store", "xmlns", nsHints)
	}
	return b.close("message").bytes()
}

func receiptStanza(id, to, of string) []byte {
	var b builder
	// No store hint: a receipt is not worth a place in the archive.
	b.open("message", "to", to, "id", id).empty("received", "xmlns", nsReceipts, "id", of)
	return b.close("message").bytes()
}

func presenceStanza(p Presence, to string) []byte {
	var b builder
	typ := ""
	if !p.Available {
		typ = "unavailable"
	}
	b.open("presence", "to", to, "type", typ)
	if p.Available {
		if p.Show != ShowAvailable {
			b.elem("show", string(p.Show))
		}
		if p.Priority != 0 {
			b.elem("priority", strconv.Itoa(max(-128, min(127, p.Priority))))
		}
		b.empty("c", "xmlns", nsCaps, "hash", "sha-1", "node", capsNode, "ver", capsVer())
	}
	if p.Status != "" {
		b.elem("status", p.Status)
	}
	return b.close("presence").bytes()
}

func subscriptionStanza(to, typ string) []byte {
	var b builder
	return b.empty("presence", "to", to, "type", typ).bytes()
}

func carbonsEnable(id string) []byte {
	var b builder
	return b.open("iq", "type", "set", "id", id).empty("enable", "xmlns", nsCarbons).close("iq").bytes()
}

func iqResult(id, to string) []byte {
	var b builder
	return b.empty("iq", "type", "result", "id", id, "to", to).bytes()
}

func iqError(id, to, typ, cond string) []byte {
	var b builder
	b.open("iq", "type", "error", "id", id, "to", to)
	b.open("error", "type", typ).empty(cond, "xmlns", nsStanzas).close("error")
	return b.close("iq").bytes()
}
