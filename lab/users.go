package lab

import (
	"fmt"
	"strings"
)

// Domain is the domain of every lab account, XMPP host and SIP realm.
const Domain = "example.test"

// MUCDomain is the lab's multi-user chat service (Prosody component).
const MUCDomain = "conference." + Domain

// User is a lab account. The same name and password work on every lab server.
type User struct {
	Name     string // local part, e.g. "alice"
	Password string
	JID      string // alice@example.test
	SIPURI   string // sip:alice@example.test
	Email    string // alice@example.test: also the IMAP login
}

// NewUser returns the account name/password with its addresses in [Domain].
func NewUser(name, password string) User {
	addr := name + "@" + Domain
	return User{Name: name, Password: password, JID: addr, SIPURI: "sip:" + addr, Email: addr}
}

// DefaultUsers returns the lab's accounts: alice/secret1, bob/secret2, carol/secret3.
func DefaultUsers() []User {
	return []User{NewUser("alice", "secret1"), NewUser("bob", "secret2"), NewUser("carol", "secret3")}
}

// usersOrDefault checks users (nil or empty means [DefaultUsers]) and returns a copy.
func usersOrDefault(users []User) ([]User, error) {
	if len(users) == 0 {
		return DefaultUsers(), nil
	}
	out := make([]User, len(users))
	seen := map[string]bool{}
	for i, u := range users {
		if u.Name == "" || strings.ContainsAny(u.Name, "@:/ \t\r\n\"'\\") || strings.ToLower(u.Name) != u.Name {
			return nil, fmt.Errorf("lab: Users[%d].Name %q: want a lower-case local part", i, u.Name)
		}
		if u.Password == "" || strings.ContainsAny(u.Password, ":\"'\\\r\n") {
			return nil, fmt.Errorf("lab: Users[%d].Password: want non-empty, without : \" ' \\ or line breaks", i)
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("lab: Users[%d].Name %q: duplicate", i, u.Name)
		}
		seen[u.Name] = true
		out[i] = NewUser(u.Name, u.Password)
	}
	return out, nil
}

// findUser returns the user named name or with address name.
func findUser(users []User, name string) (User, bool) {
	for _, u := range users {
		if u.Name == name || u.Email == name {
			return u, true
		}
	}
	return User{}, false
}
