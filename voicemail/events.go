package voicemail

import "github.com/opencsf/opencsf/csf"

// MessageArrived reports a new voice message in the folder.
type MessageArrived struct {
	csf.EventHeader
	Message Voicemail
	// Caller is who left the message: resolved in the directory when one
	// runs and knows the number, else the name and number from the
	// message's headers.
	Caller csf.Person
}

// MessageChanged reports a message whose flags changed (heard, unheard,
// flagged deleted), by this client or another.
type MessageChanged struct {
	csf.EventHeader
	Message Voicemail
}

// MessageRemoved reports a message gone from the folder (deleted here or
// elsewhere, or moved to Trash).
type MessageRemoved struct {
	csf.EventHeader
	ID ID
}

// CountChanged is the message-waiting indicator: published when the
// number of unheard or of all messages changes, and once at start.
type CountChanged struct {
	csf.EventHeader
	Unheard int
	Total   int
}

// Resynced reports that the whole list was read afresh because the
// folder's UIDVALIDITY changed: every earlier ID is void. Re-read the list
// with [Mailbox.Messages].
type Resynced struct {
	csf.EventHeader
	UIDValidity uint32
	Total       int
}

// diff compares two states of the folder. renumbered means IDs are not
// comparable.
func diff(prev, next *Snapshot) (arrived, changed []Voicemail, removed []ID, renumbered bool) {
	if prev == nil {
		return nil, nil, nil, false
	}
	if prev.UIDValidity != next.UIDValidity {
		return nil, nil, nil, true
	}
	i, j := 0, 0
	for i < len(prev.Messages) || j < len(next.Messages) {
		switch {
		case j == len(next.Messages) || (i < len(prev.Messages) && prev.Messages[i].ID < next.Messages[j].ID):
			removed = append(removed, prev.Messages[i].ID)
			i++
		case i == len(prev.Messages) || next.Messages[j].ID < prev.Messages[i].ID:
			arrived = append(arrived, next.Messages[j])
			j++
		default:
			p, n := prev.Messages[i], next.Messages[j]
			if p.Heard != n.Heard || p.Deleted != n.Deleted {
				changed = append(changed, n)
			}
			i++
			j++
		}
	}
	return arrived, changed, removed, false
}
