// Package lab runs real servers on loopback for OpenCSF's tests and its users' tests:
// Prosody (XMPP), Dovecot (IMAP, for voicemail), Kamailio (SIP registrar and proxy),
// Radicale (CalDAV), tftpd-hpa (provisioning files) and slapd (LDAP directory), and
// for interop ejabberd (XMPP) and Cyrus IMAP ([Cyrus]: IDLE without dovecot's
// 500 ms delay, delivery by LMTP), each
// as a child process listening only on 127.0.0.1, on free ports, with its
// configuration, data and log in a directory of its own. TLS certificates come from a
// throwaway CA that the lab makes ([NewCA]); clients trust it through
// [CA.CertPool] or [CA.CertFile], never the system store.
//
// Every server knows the same accounts ([DefaultUsers]): alice/secret1, bob/secret2
// and carol/secret3 in the domain example.test (JID and IMAP login
// alice@example.test, SIP URI sip:alice@example.test, CalDAV user alice).
//
// On Debian 12 the servers come from
//
//	apt-get install -y --no-install-recommends prosody dovecot-imapd kamailio \
//	  kamailio-tls-modules radicale tftpd-hpa slapd ldap-utils
//
// (in containers and CI, first make /usr/sbin/policy-rc.d exit 101 so that the
// packages' own daemons do not start on the default ports).
//
// Cyrus needs cyrus-common and sasl2-bin, and imapd and idled from cyrus-imapd,
// which Debian will not install next to dovecot-imapd (both provide
// imap-server): scripts/lib.sh extracts the two programs from the package into
// /usr/local/lib/cyrus/bin, where the lab looks after /usr/lib/cyrus/bin:
//
//	apt-get install -y --no-install-recommends cyrus-common sasl2-bin
//	apt-get download cyrus-imapd && dpkg-deb -x cyrus-imapd_*.deb x
//	install -D -m 0755 -t /usr/local/lib/cyrus/bin x/usr/lib/cyrus/bin/imapd x/usr/lib/cyrus/bin/idled
//
// Cyrus logs to syslog only, so [CyrusServer.Log] holds little.
//
// # In tests
//
// Each server has a helper taking a testing.TB. It skips the test, naming the
// missing program, when the server is not installed, and fails it instead when the
// environment has CI=true, so that CI cannot pass by skipping. The server stops in
// t.Cleanup, also when the test panics, and its log is printed when the test failed:
//
//	func TestIntegrationRegister(t *testing.T) {
//		pbx := lab.Kamailio(t, nil)
//		phone := newTestPhone(t, pbx.TLSAddr, pbx.CA().CertPool(), "alice", "secret1")
//		require.NoError(t, phone.Start(t.Context()))
//		require.NoError(t, pbx.Restart(t.Context())) // same ports, registrations lost
//		waitFor[softphone.Registered](t, phone)
//	}
//
// The whole lab starts with [Start], all servers in parallel (about 0.3 s on two
// cores; [Lab.StartupTime] says):
//
//	l, err := lab.Start(ctx, lab.Options{})
//	if err != nil { … }
//	defer l.Close()
//	err = l.WriteConfig("opencsf.yaml") // the config package's keys, a profile per user
//
// # csfctl lab up
//
// `csfctl lab up` is Start, WriteConfig and a wait for a signal, then Close: it gives
// a developer a full set of servers and a config file for trying the examples by hand
// (`csfctl --config opencsf.yaml --user bob …`). The Start functions ([StartProsody],
// [StartKamailio], …) need no testing.TB for that reason.
//
// # Lifecycle
//
// A Start function writes the configuration, creates the users, starts the server in
// the foreground in its own process group and returns once it is ready: its ports
// accept connections (Kamailio also answers OPTIONS over UDP; tftpd answers a read
// request). A port picked as free but taken by the time the server binds it is picked
// again. The context bounds the start only. Restart stops the server and starts it
// again on the same ports with the same data, for resilience tests. Close sends
// SIGTERM, repeats it to the process group while the server lives (a worker still
// starting up can miss its master's), sends SIGKILL after 5 s, kills whatever is left
// of the group and waits until it is gone, then removes the directory if the lab made
// it. If the test binary dies without cleanup (a -timeout panic, kill -9, Ctrl-C),
// a small sh watchdog per server, reading a pipe from the test binary, sees end of
// file and kills the server's process group; the kernel also sends the main process
// SIGTERM (Pdeathsig).
//
// # Running as root
//
// Servers that switch user when started as root must read their directory: the lab
// makes server directories 0711, Dovecot's mail directories belong to nobody and
// Cyrus's data directories, SASL database and key to the cyrus user.
// Prosody runs with run_as_root. tftpd-hpa works only as root (its request children
// call setgroups); [TFTP] skips the test otherwise.
//
// # Concurrency
//
// Servers may be started in parallel and their methods called from any goroutine.
// The lab starts no goroutine that outlives a Start or Close call except one per
// running server, which reaps the process and ends with it.
//
// # Errors
//
// Start errors name the server and carry the tail of its log. Close on a closed
// server or lab returns an error matching net.ErrClosed.
package lab
