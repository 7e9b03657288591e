package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/opencsf/opencsf/lab"
)

func init() {
	register(&command{
		path:    "lab up",
		summary: "start the real servers on loopback until interrupted",
		run:     labUp,
	})
}

func labUp(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("lab up", flag.ContinueOnError)
	addCommonFlags(fs) // accepted for uniformity; the lab needs no config
	out := fs.String("write-config", "", "write a config `FILE` pointing a client at the lab")
	dir := fs.String("dir", "", "keep the lab's files in `DIR` (default: a temporary directory, removed on exit)")
	servers := fs.String("servers", "", "comma-separated servers to start (default: every installed one)")
	verbose := fs.Bool("v", false, "log server starts and stops")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	opts := lab.Options{Dir: *dir}
	if *servers != "" {
		opts.Servers = strings.Split(*servers, ",")
	}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(env.stderr, nil))
	}
	l, err := lab.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer l.Close()
	if *out != "" {
		if err := l.WriteConfig(*out); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.stdout, "lab up in %s (dir %s)\n", l.StartupTime.Round(time.Millisecond), l.Dir)
	for _, line := range labEndpoints(l) {
		fmt.Fprintln(env.stdout, "  "+line)
	}
	for _, u := range l.Users() {
		fmt.Fprintf(env.stdout, "  user %s / %s\n", u.Name, u.Password)
	}
	if *out != "" {
		fmt.Fprintf(env.stdout, "config written to %s\n", *out)
	}
	fmt.Fprintln(env.stdout, "ready; interrupt to stop")
	<-ctx.Done()
	return l.Close()
}

// labEndpoints lists what a client needs to reach each running server.
func labEndpoints(l *lab.Lab) []string {
	var out []string
	if p := l.Prosody; p != nil {
		out = append(out, fmt.Sprintf("xmpp      %s (STARTTLS), %s (direct TLS), domain %s", p.Addr, p.TLSAddr, p.Domain))
	}
	if k := l.Kamailio; k != nil {
		out = append(out, fmt.Sprintf("sip       udp/tcp %s, tls %s, domain %s", k.UDPAddr, k.TLSAddr, k.Domain))
	}
	if d := l.Dovecot; d != nil {
		out = append(out, fmt.Sprintf("imap      %s (STARTTLS), %s (TLS)", d.Addr, d.TLSAddr))
	}
	if r := l.Radicale; r != nil {
		out = append(out, fmt.Sprintf("caldav    %s", r.URL))
	}
	if t := l.TFTP; t != nil {
		out = append(out, fmt.Sprintf("tftp      %s (root %s)", t.Addr, t.Root))
	}
	if s := l.Slapd; s != nil {
		out = append(out, fmt.Sprintf("ldap      %s (StartTLS), %s (TLS), base %s", s.Addr, s.TLSAddr, s.BaseDN))
	}
	out = append(out, fmt.Sprintf("ca        %s", l.CA().CertFile))
	return out
}
