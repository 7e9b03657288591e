package lab

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// configFile is the YAML of a config file. Key names are those of the config package's
// schema (design/foundation.md); the lab writes them itself so as not to depend on it.
type configFile struct {
	Domain                 string `yaml:"Domain"`
	TrustedCAFile          string `yaml:"TrustedCAFile"`
	UseSystemTrustStore    bool   `yaml:"UseSystemTrustStore"`
	PresenceServerAddress  string `yaml:"PresenceServerAddress,omitempty"`
	PresenceDomain         string `yaml:"PresenceDomain,omitempty"`
	SipRegistrar           string `yaml:"SipRegistrar,omitempty"`
	SipTransport           string `yaml:"SipTransport,omitempty"`
	VoicemailPrimaryServer string `yaml:"VoicemailPrimaryServer,omitempty"`
	VoicemailTLS           string `yaml:"VoicemailTLS,omitempty"`
	VoicemailFolder        string `yaml:"VoicemailFolder,omitempty"`
	CalendarServerURL      string `yaml:"CalendarServerURL,omitempty"`
	TftpServer1            string `yaml:"TftpServer1,omitempty"`
	LdapServer             string `yaml:"LdapServer,omitempty"`
	LdapBaseDN             string `yaml:"LdapBaseDN,omitempty"`

	Users map[string]configProfile `yaml:"Users"`
}

type configProfile struct {
	UserName          string `yaml:"UserName"`
	Password          string `yaml:"Password"`
	CalendarServerURL string `yaml:"CalendarServerURL,omitempty"`
	LdapBindDN        string `yaml:"LdapBindDN,omitempty"`
	LdapPassword      string `yaml:"LdapPassword,omitempty"`
}

// WriteConfig writes a config file (YAML, mode 0600: it holds passwords) for the
// running servers to path: the shared keys at the top (Domain, TrustedCAFile with
// UseSystemTrustStore false, PresenceServerAddress, SipRegistrar over TLS,
// VoicemailPrimaryServer with implicit TLS, CalendarServerURL, TftpServer1, and with
// slapd LdapServer (its ldap:// port, StartTLS offered) and LdapBaseDN; keys of
// servers not started are left out) and a profile under Users for each account
// (UserName, Password, the user's CalendarServerURL, LdapBindDN and LdapPassword), to
// be chosen with csfctl --user NAME.
func (l *Lab) WriteConfig(path string) error {
	b, err := l.configYAML()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("lab: write config: %w", err)
	}
	return nil
}

func (l *Lab) configYAML() ([]byte, error) {
	c := configFile{Domain: Domain, TrustedCAFile: l.ca.CertFile, Users: map[string]configProfile{}}
	if l.Prosody != nil {
		c.PresenceServerAddress, c.PresenceDomain = l.Prosody.Addr, Domain
	}
	if l.Kamailio != nil {
		c.SipRegistrar, c.SipTransport = l.Kamailio.TLSAddr, "tls"
	}
	if l.Dovecot != nil {
		c.VoicemailPrimaryServer, c.VoicemailTLS, c.VoicemailFolder = l.Dovecot.TLSAddr, "implicit", "INBOX"
	}
	if l.Radicale != nil {
		c.CalendarServerURL = l.Radicale.URL
	}
	if l.TFTP != nil {
		c.TftpServer1 = l.TFTP.Addr
	}
	if l.Slapd != nil {
		c.LdapServer, c.LdapBaseDN = l.Slapd.Addr, LDAPBaseDN
	}
	for _, u := range l.users {
		p := configProfile{UserName: u.Name, Password: u.Password}
		if l.Radicale != nil {
			p.CalendarServerURL = l.Radicale.CalendarURL(u.Name)
		}
		if l.Slapd != nil {
			p.LdapBindDN, p.LdapPassword = l.Slapd.UserDN(u.Name), u.Password
		}
		c.Users[u.Name] = p
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("lab: write config: %w", err)
	}
	header := "# OpenCSF config written by the lab: servers on 127.0.0.1, valid while the lab runs.\n"
	return append([]byte(header), b...), nil
}
