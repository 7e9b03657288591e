package lab

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The directory's names.
const (
	// LDAPBaseDN is the suffix of the lab directory; users are uid=NAME,ou=people under it.
	LDAPBaseDN = "dc=example,dc=test"
	// LDAPAdminDN is the directory's root DN; its password is [SlapdServer.AdminPassword].
	LDAPAdminDN = "cn=admin," + LDAPBaseDN
)

// SlapdOptions configures [StartSlapd]. The zero value is ready to use.
type SlapdOptions struct {
	Dir    string       // empty means a new temporary directory, removed by Close
	Users  []User       // empty means DefaultUsers
	CA     *CA          // nil means a new CA in Dir/ca
	Logger *slog.Logger // nil means discard
}

// SlapdServer is a running OpenLDAP slapd holding a contact directory: one
// inetOrgPerson per user at uid=NAME,ou=people,dc=example,dc=test with cn, sn,
// displayName, mail (the user's Email) and telephoneNumber (1001, 1002, … in user
// order), and the user's password for simple bind. Everyone may read everything but
// passwords.
type SlapdServer struct {
	// Addr is the ldap:// port (StartTLS offered), TLSAddr the ldaps:// port, both
	// host:port on 127.0.0.1.
	Addr          string
	TLSAddr       string
	BaseDN        string // LDAPBaseDN
	AdminDN       string // LDAPAdminDN
	AdminPassword string
	Dir           string

	s *server
}

// Slapd starts an LDAP server for the test t and closes it when t ends. It skips t
// when slapd is not installed, or fails t when CI=true. opts nil means defaults.
func Slapd(t testing.TB, opts *SlapdOptions) *SlapdServer {
	t.Helper()
	requireBinaries(t, "slapd", "slapadd")
	if opts == nil {
		opts = &SlapdOptions{}
	}
	return startForTest(t, "slapd", func(ctx context.Context) (*SlapdServer, error) {
		return StartSlapd(ctx, *opts)
	})
}

// StartSlapd loads the configuration and the directory with slapadd and starts slapd
// in the foreground as a child process, returning once both ports accept
// connections. ctx bounds the start only.
func StartSlapd(ctx context.Context, opts SlapdOptions) (*SlapdServer, error) {
	bin, err := lookBinary("slapd")
	if err != nil {
		return nil, err
	}
	add, err := lookBinary("slapadd")
	if err != nil {
		return nil, err
	}
	s, err := newServer("slapd", opts.Dir, opts.CA, opts.Users, opts.Logger)
	if err != nil {
		return nil, err
	}
	in := s.in
	l := &SlapdServer{BaseDN: LDAPBaseDN, AdminDN: LDAPAdminDN, AdminPassword: "admin-secret", Dir: in.dir, s: s}
	// slapadd refuses to load over an earlier run's data when Dir is reused.
	for _, d := range []string{"slapd.d", "db"} {
		if err := os.RemoveAll(in.path(d)); err != nil {
			return nil, s.fail(fmt.Errorf("lab: slapd: %w", err))
		}
	}
	if err := in.mkdirs(0o700, "slapd.d", "db"); err != nil {
		return nil, s.fail(fmt.Errorf("lab: slapd: %w", err))
	}
	if err := writeFile(in.path("config.ldif"), slapdConfig(in.dir, s.certFile, s.keyFile, l.AdminPassword), 0o600); err != nil {
		return nil, s.fail(fmt.Errorf("lab: slapd: %w", err))
	}
	if err := writeFile(in.path("data.ldif"), slapdData(s.users), 0o600); err != nil {
		return nil, s.fail(fmt.Errorf("lab: slapd: %w", err))
	}
	for _, args := range [][]string{
		{"-n", "0", "-F", in.path("slapd.d"), "-l", in.path("config.ldif")},
		{"-n", "1", "-F", in.path("slapd.d"), "-l", in.path("data.ldif")},
	} {
		if out, err := exec.CommandContext(ctx, add, args...).CombinedOutput(); err != nil {
			return nil, s.fail(fmt.Errorf("lab: slapd: slapadd %s: %w: %s", strings.Join(args, " "), err, out))
		}
	}
	err = in.startRetrying(ctx, func() error {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		l.Addr, l.TLSAddr = hostPort(ports[0]), hostPort(ports[1])
		urls := fmt.Sprintf("ldap://%s/ ldaps://%s/", l.Addr, l.TLSAddr)
		// -d 0: foreground, errors to stderr.
		in.configure([]string{bin, "-d", "0", "-h", urls, "-F", in.path("slapd.d")}, ports, tcpProbe(ports...))
		return nil
	})
	if err != nil {
		return nil, s.fail(err)
	}
	return l, nil
}

func slapdConfig(dir, certFile, keyFile, adminPassword string) string {
	r := strings.NewReplacer("$T/", dir+"/", "$CERT", certFile, "$KEY", keyFile,
		"$BASE", LDAPBaseDN, "$ADMIN", LDAPAdminDN, "$PW", adminPassword)
	return r.Replace(`dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $T/slapd.pid
olcArgsFile: $T/slapd.args
olcTLSCACertificateFile: $T/ca.crt
olcTLSCertificateFile: $CERT
olcTLSCertificateKeyFile: $KEY

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $BASE
olcRootDN: $ADMIN
olcRootPW: $PW
olcDbDirectory: $T/db
olcDbMaxSize: 16777216
olcAccess: {0}to attrs=userPassword by anonymous auth by self read by * none
olcAccess: {1}to * by * read
`)
}

func slapdData(users []User) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: OpenCSF lab\n\n", LDAPBaseDN)
	fmt.Fprintf(&b, "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n", LDAPBaseDN)
	for i, u := range users {
		name := strings.ToUpper(u.Name[:1]) + u.Name[1:]
		fmt.Fprintf(&b, "dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n"+
			"displayName: %s\nmail: %s\ntelephoneNumber: %d\nuserPassword: %s\n\n",
			u.Name, LDAPBaseDN, u.Name, name, name, name, u.Email, 1001+i, u.Password)
	}
	return b.String()
}

// UserDN returns the DN of user (a Name): uid=NAME,ou=people,dc=example,dc=test.
func (l *SlapdServer) UserDN(user string) string {
	return "uid=" + user + ",ou=people," + LDAPBaseDN
}

// Users returns the accounts in the directory.
func (l *SlapdServer) Users() []User { return append([]User(nil), l.s.users...) }

// CA returns the CA that issued the server certificate.
func (l *SlapdServer) CA() *CA { return l.s.ca }

// PID returns the server's process id, or 0 when it is not running.
func (l *SlapdServer) PID() int { return l.s.in.pid() }

// Log returns what the server has written to stdout and stderr so far.
func (l *SlapdServer) Log() string { return l.s.in.log() }

// Restart stops the server and starts it again on the same ports with the same
// directory. It blocks until the server is ready or ctx ends.
func (l *SlapdServer) Restart(ctx context.Context) error { return l.s.restart(ctx) }

// Close stops the server (SIGTERM, then SIGKILL to its process group) and removes its
// directory when the lab made it. A second call returns an error matching net.ErrClosed.
func (l *SlapdServer) Close() error { return l.s.in.close() }
