package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/im"
)

// Instant messaging:
//
//	csfctl chat send --to JID TEXT…
//	csfctl chat listen [--count N] [--timeout D] [--json]
//	csfctl roster [--json]
//	csfctl roster add JID [--name NAME] [--group G]… [--subscribe]
//
// each with --config FILE and --user NAME; the account and server come
// from UserName, Password, Domain/PresenceDomain, PresenceServerAddress
// and TrustedCAFile.
func init() {
	register(&command{path: "chat send", summary: "send a chat message: chat send --to JID TEXT", run: chatSend})
	register(&command{path: "chat listen", summary: "print chat messages as they arrive: chat listen [--count N] [--timeout D]", run: chatListen})
	register(&command{path: "roster", summary: "list the contacts (--json for scripts)", run: rosterList})
	register(&command{path: "roster add", summary: "add a contact: roster add JID [--name N] [--group G] [--subscribe]", run: rosterAdd})
	registerService("im", func(snap *config.Snapshot) (csf.ServiceSpec, bool) {
		if snap.String(config.KeyPresenceServerAddress) == "" && snap.String(config.KeyPresenceDomain) == "" {
			return csf.ServiceSpec{}, false
		}
		return im.Spec(), true
	})
}

// imSession is a started client with its own event bus.
type imSession struct {
	*im.Client
	fw *csf.Framework
}

// imStart loads the configuration and connects. resourceSuffix keeps a
// short-lived command from taking over the resource of a running client of
// the same user.
func imStart(ctx context.Context, env *cmdEnv, common *commonFlags, resourceSuffix string) (*imSession, error) {
	st, err := common.store(env)
	if err != nil {
		return nil, err
	}
	cfg, err := im.ConfigFromSettings(st.Effective())
	if err != nil {
		return nil, err
	}
	if cfg.Resource == "" {
		cfg.Resource = "opencsf"
	}
	if resourceSuffix != "" {
		var b [3]byte
		_, _ = rand.Read(b[:])
		cfg.Resource += "-" + resourceSuffix + "-" + hex.EncodeToString(b[:])
	}
	fw := csf.New(csf.Config{})
	cfg.Events = fw.Bus().NewPublisher("im")
	c, err := im.New(cfg)
	if err != nil {
		fw.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		c.Close()
		fw.Close()
		return nil, err
	}
	return &imSession{Client: c, fw: fw}, nil
}

func (s *imSession) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
	_ = s.fw.Close()
}

func chatSend(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("chat send", flag.ContinueOnError)
	common := addCommonFlags(fs)
	to := fs.String("to", "", "recipient `JID` (user@domain or user@domain/resource)")
	receipt := fs.Duration("receipt", 0, "wait up to `D` for the delivery receipt")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if *to == "" || text == "" {
		return &usageError{"usage: chat send --to JID TEXT"}
	}
	s, err := imStart(ctx, env, common, "send")
	if err != nil {
		return err
	}
	defer s.close()
	var receipts *csf.Typed[im.ReceiptReceived]
	if *receipt > 0 {
		receipts = csf.SubscribeTo[im.ReceiptReceived](s.fw.Bus(), 0)
		defer receipts.Close()
	}
	id, err := s.SendText(ctx, *to, text)
	if err != nil {
		return err
	}
	// An IQ round trip: the server has the message when the answer comes.
	if err := s.Ping(ctx); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "sent %s to %s\n", id, *to)
	if receipts == nil {
		return nil
	}
	t := time.NewTimer(*receipt)
	defer t.Stop()
	for {
		select {
		case ev := <-receipts.Events():
			if ev.ID == id {
				fmt.Fprintf(env.stdout, "delivered to %s\n", ev.From)
				return nil
			}
		case <-t.C:
			return fmt.Errorf("no delivery receipt within %s (the recipient may be offline: the server keeps the message)", *receipt)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// chatLine is one message in `chat listen --json`.
type chatLine struct {
	ID      string    `json:"id"`
	From    string    `json:"from"`
	Text    string    `json:"text"`
	Time    time.Time `json:"time"`
	Delayed bool      `json:"delayed,omitempty"`
}

func chatListen(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("chat listen", flag.ContinueOnError)
	common := addCommonFlags(fs)
	count := fs.Int("count", 0, "stop after `N` messages (0: until interrupted or --timeout)")
	timeout := fs.Duration("timeout", 0, "stop after `D` (0: no limit)")
	asJSON := fs.Bool("json", false, "one JSON object a line")
	ready := fs.String("ready-file", "", "create `FILE` once connected (for scripts that start a listener in the background)")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{"usage: chat listen [--count N] [--timeout D]"}
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	s, err := imStart(ctx, env, common, "")
	if err != nil {
		return err
	}
	defer s.close()
	msgs := csf.SubscribeTo[im.MessageReceived](s.fw.Bus(), 0)
	defer msgs.Close()
	if *ready != "" {
		if err := writeReady(*ready); err != nil {
			return err
		}
	}
	n := 0
	for *count == 0 || n < *count {
		select {
		case ev := <-msgs.Events():
			m := ev.Message
			if m.Direction != im.Incoming {
				continue
			}
			n++
			if *asJSON {
				line, _ := json.Marshal(chatLine{ID: m.ID, From: m.From, Text: m.Text, Time: m.Time, Delayed: m.Delayed})
				fmt.Fprintln(env.stdout, string(line))
			} else {
				fmt.Fprintf(env.stdout, "%s  %s: %s\n", m.Time.Local().Format(time.TimeOnly), m.From, m.Text)
			}
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && *count > 0 {
				return fmt.Errorf("timed out after %d of %d messages", n, *count)
			}
			return nil
		}
	}
	return nil
}

func rosterList(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("roster", flag.ContinueOnError)
	common := addCommonFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	s, err := imStart(ctx, env, common, "roster")
	if err != nil {
		return err
	}
	defer s.close()
	contacts, err := s.Roster(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(contacts)
	}
	w := tabwriter.NewWriter(env.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JID\tNAME\tSUBSCRIPTION\tGROUPS")
	for _, c := range contacts {
		sub := c.Subscription
		if c.Pending {
			sub += " (asked)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.JID, c.Name, sub, strings.Join(c.Groups, ","))
	}
	return w.Flush()
}

func rosterAdd(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("roster add", flag.ContinueOnError)
	common := addCommonFlags(fs)
	name := fs.String("name", "", "display `NAME`")
	var groups multiFlag
	fs.Var(&groups, "group", "`GROUP` (repeatable)")
	subscribe := fs.Bool("subscribe", false, "also ask to see the contact's presence")
	// Flags may follow the JID.
	var pos []string
	for {
		if err := parseFlags(fs, env, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return &usageError{"usage: roster add JID [--name NAME] [--group G]… [--subscribe]"}
	}
	s, err := imStart(ctx, env, common, "roster")
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.SetContact(ctx, im.Contact{JID: pos[0], Name: *name, Groups: groups}); err != nil {
		return err
	}
	if *subscribe {
		if err := s.Subscribe(ctx, pos[0]); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.stdout, "added %s\n", pos[0])
	return nil
}

// writeReady creates path, telling a script that the listener is up.
func writeReady(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return f.Close()
}
