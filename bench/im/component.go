//go:build linux

package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencsf/opencsf/lab"
)

// The contacts of the roster-login figure live on a component of their
// own (XEP-0114): prosody routes the presence probes of alice's login to
// it, and it answers each with available presence, as the contacts'
// servers would. It runs as a child process (this program with
// -component), so that the allocations measured are the client's only.
const (
	contactsDomain  = "contacts.example.test"
	componentSecret = "bench-component"
)

// addComponent declares the contacts component in prosody's configuration
// (listening on a free loopback port) and returns that port's address.
// Prosody reads it on its next (re)start.
func addComponent(p *lab.ProsodyServer) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	path := filepath.Join(p.Dir, "prosody.cfg.lua")
	cfg, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	// Global options go before the first host section.
	host := fmt.Sprintf("VirtualHost %q", p.Domain)
	if !strings.Contains(string(cfg), host) {
		return "", errors.New("bench: no VirtualHost section in prosody's configuration")
	}
	s := strings.Replace(string(cfg), host,
		fmt.Sprintf("component_ports = { %s }\ncomponent_interfaces = { \"127.0.0.1\" }\n\n%s", port, host), 1)
	s += fmt.Sprintf("\nComponent %q\n  component_secret = %q\n", contactsDomain, componentSecret)
	return addr, os.WriteFile(path, []byte(s), 0o644)
}

// runComponent connects to prosody's component port, authenticates
// (XEP-0114 handshake), prints "ready", and answers presence probes until
// the stream ends.
func runComponent(addr string) error {
	// Prosody's component port may open a moment after its client ports.
	var conn net.Conn
	var err error
	for i := 0; i < 50; i++ {
		if conn, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	bw := bufio.NewWriter(conn)
	fmt.Fprintf(bw, "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='%s'>", contactsDomain)
	if err := bw.Flush(); err != nil {
		return err
	}
	d := xml.NewDecoder(br)
	var id string
	for id == "" {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("component stream: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "stream" {
			for _, a := range se.Attr {
				if a.Name.Local == "id" {
					id = a.Value
				}
			}
			if id == "" {
				return errors.New("component stream without id")
			}
		}
	}
	sum := sha1.Sum([]byte(id + componentSecret))
	fmt.Fprintf(bw, "<handshake>%s</handshake>", hex.EncodeToString(sum[:]))
	if err := bw.Flush(); err != nil {
		return err
	}
	ready := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "handshake":
			if !ready {
				fmt.Println("ready")
				ready = true
			}
		case "error":
			return errors.New("component refused by prosody")
		case "presence":
			var from, to, typ string
			for _, a := range se.Attr {
				switch a.Name.Local {
				case "from":
					from = a.Value
				case "to":
					to = a.Value
				case "type":
					typ = a.Value
				}
			}
			if typ == "probe" {
				fmt.Fprintf(bw, "<presence from='%s/desk' to='%s'><show>away</show></presence>", to, from)
			}
		}
		if err := d.Skip(); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
}
