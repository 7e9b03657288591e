package im

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
)

// capsNode is our XEP-0115 node.
const capsNode = "https://github.com/opencsf/opencsf"

// ourFeatures are what we answer to disco#info (XEP-0030) and hash into
// our capabilities (XEP-0115).
var ourFeatures = []string{
	nsCaps, nsChatStates, nsDiscoInfo, nsPing, nsReceipts, nsCarbons, nsConference, nsMUC,
}

var capsVer = sync.OnceValue(func() string {
	// XEP-0115 section 5.1: identities, then sorted features, each "<".
	s := "client/pc//OpenCSF<"
	fs := slices.Clone(ourFeatures)
	slices.Sort(fs)
	for _, f := range fs {
		s += f + "<"
	}
	sum := sha1.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
})

func discoInfoResult(id, to, node string) []byte {
	var b builder
	b.open("iq", "type", "result", "id", id, "to", to).open("query", "xmlns", nsDiscoInfo, "node", node)
	b.empty("identity", "category", "client", "type", "pc", "name", "OpenCSF")
	for _, f := range ourFeatures {
		b.empty("feature", "var", f)
	}
	return b.close("query").close("iq").bytes()
}

// Disco asks an entity (a server, a contact's full JID, a room) what it is
// and supports (XEP-0030). An empty jid asks our own account.
func (c *Client) Disco(ctx context.Context, jid string) (*DiscoInfo, error) {
	resp, err := c.iq(ctx, "get", jid, []byte("<query xmlns='http://jabber.org/protocol/disco#info'/>"))
	if err != nil {
		return nil, fmt.Errorf("im: disco %s: %w", jid, err)
	}
	info := &DiscoInfo{}
	if resp.DiscoInfo != nil {
		for _, id := range resp.DiscoInfo.Identities {
			info.Identities = append(info.Identities, Identity{Category: id.Category, Type: id.Type, Name: id.Name})
		}
		for _, f := range resp.DiscoInfo.Features {
			info.Features = append(info.Features, f.Var)
		}
	}
	return info, nil
}

// DiscoItems lists the items of an entity, such as the rooms of a MUC
// service or a server's components (XEP-0030 section 4).
func (c *Client) DiscoItems(ctx context.Context, jid string) ([]string, error) {
	resp, err := c.iq(ctx, "get", jid, []byte("<query xmlns='http://jabber.org/protocol/disco#items'/>"))
	if err != nil {
		return nil, fmt.Errorf("im: disco items %s: %w", jid, err)
	}
	var out []string
	if resp.DiscoItems != nil {
		for _, it := range resp.DiscoItems.Items {
			out = append(out, it.JID)
		}
	}
	return out, nil
}
