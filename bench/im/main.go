//go:build linux

// Command im benchmarks the im service through a lab prosody (archiving and
// carbons on, as the lab configures it) and runs the same work with
// python3-slixmpp from Debian in the same run:
//
//   - throughput: alice sends N chat messages to bob as fast as the client
//     takes them; messages per second, and the client process CPU per
//     message sent and received (both clients live in the process);
//   - latency: M sequential round trips (alice sends, bob echoes);
//   - memory per idle session over TLS, and time to log in and fetch a
//     5,000-contact roster.
//
// Usage: go run ./bench/im [-n 5000] [-m 1000] [-idle 200] [-roster 5000]
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/opencsf/opencsf/bench/internal/measure"
	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/im"
	"github.com/opencsf/opencsf/lab"
)

var memProfile = flag.String("memprofile", "", "write a heap profile with the idle sessions up to `FILE`")

var verbose = flag.Bool("v", false, "print the clients' counters")

var cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the OpenCSF throughput run to `FILE`")

type result struct {
	Client      string  `json:"client"`
	Messages    int     `json:"messages"`
	Seconds     float64 `json:"seconds"`
	MsgsPerSec  float64 `json:"msgs_per_sec"`
	CPUPerMsgUS float64 `json:"cpu_us_per_msg"`
	RTTMedianMS float64 `json:"rtt_median_ms"`
	RTTP99MS    float64 `json:"rtt_p99_ms"`
}

func benchLogger() *slog.Logger {
	if *verbose {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return nil
}

type client struct {
	*im.Client
	fw *csf.Framework
}

func dial(ctx context.Context, p *lab.ProsodyServer, trust *csf.Trust, user, pw, res string) (*client, error) {
	fw := csf.New(csf.Config{})
	c, err := im.New(im.Config{JID: user + "@" + lab.Domain, Password: config.Secret(pw), Server: p.Addr,
		Trust: trust, Resource: res, Events: fw.Bus().NewPublisher("im"), Logger: benchLogger()})
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return &client{c, fw}, nil
}

func (c *client) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Shutdown(ctx)
	_ = c.fw.Close()
}

func benchOpenCSF(ctx context.Context, p *lab.ProsodyServer, trust *csf.Trust, n, m int) (result, error) {
	alice, err := dial(ctx, p, trust, "alice", "secret1", "bench")
	if err != nil {
		return result{}, err
	}
	defer alice.close()
	bob, err := dial(ctx, p, trust, "bob", "secret2", "bench")
	if err != nil {
		return result{}, err
	}
	defer bob.close()
	bobMsgs := csf.SubscribeTo[im.MessageReceived](bob.fw.Bus(), 1<<16)
	defer bobMsgs.Close()
	aliceMsgs := csf.SubscribeTo[im.MessageReceived](alice.fw.Bus(), 1024)
	defer aliceMsgs.Close()
	to := "bob@example.test/bench"

	runtime.GC()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return result{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return result{}, err
		}
	}
	cpu0, t0 := measure.CPU(), time.Now()
	go func() {
		for i := range n {
			if _, err := alice.Send(ctx, im.Message{To: to, Text: fmt.Sprintf("message %d", i), NoReceipt: true}); err != nil {
				log.Print(err)
				return
			}
		}
	}()
	// One deadline for the run, not a timer per message: the bench's own
	// costs count as the client's CPU.
	deadline := time.NewTimer(120 * time.Second)
	defer deadline.Stop()
	for got := 0; got < n; {
		select {
		case <-bobMsgs.Events():
			got++
		case <-bobMsgs.Lags():
			return result{}, fmt.Errorf("subscriber lagged")
		case <-deadline.C:
			return result{}, fmt.Errorf("only %d messages arrived", got)
		}
	}
	wall, cpu := time.Since(t0), measure.CPU()-cpu0
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if *verbose {
		log.Printf("alice %v", alice.Health().Counters)
		log.Printf("bob %v", bob.Health().Counters)
	}

	// Echo: bob answers each ping; alice times the round trip.
	echoCtx, stopEcho := context.WithCancel(ctx)
	defer stopEcho()
	go func() {
		for {
			select {
			case ev := <-bobMsgs.Events():
				_, _ = bob.Send(echoCtx, im.Message{To: ev.Message.From, Text: "pong", NoReceipt: true})
			case <-echoCtx.Done():
				return
			}
		}
	}()
	rtts := make([]time.Duration, 0, m)
	for i := range m {
		s := time.Now()
		if _, err := alice.Send(ctx, im.Message{To: to, Text: fmt.Sprintf("ping %d", i), NoReceipt: true}); err != nil {
			return result{}, err
		}
		select {
		case <-aliceMsgs.Events():
		case <-time.After(30 * time.Second):
			return result{}, fmt.Errorf("no echo")
		}
		rtt := time.Since(s)
		if *verbose && rtt > 50*time.Millisecond {
			log.Printf("round trip %d took %s", i, rtt)
		}
		rtts = append(rtts, rtt)
	}
	slices.Sort(rtts)
	return result{
		Client: "opencsf im", Messages: n, Seconds: wall.Seconds(), MsgsPerSec: float64(n) / wall.Seconds(),
		CPUPerMsgUS: float64(cpu.Microseconds()) / float64(n),
		RTTMedianMS: float64(rtts[len(rtts)/2].Microseconds()) / 1e3,
		RTTP99MS:    float64(rtts[min(len(rtts)-1, len(rtts)*99/100)].Microseconds()) / 1e3,
	}, nil
}

func benchSlixmpp(ctx context.Context, p *lab.ProsodyServer, n, m int, script string) (result, error) {
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", script, p.Addr, p.CA().CertFile, fmt.Sprint(n), fmt.Sprint(m))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("slixmpp: %w", err)
	}
	var r result
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return r, json.Unmarshal([]byte(lines[len(lines)-1]), &r)
}

// idleMemory starts k sessions of k accounts (a test fleet's clients
// are distinct users) on a prosody of its own and reports heap and stack
// per session. The accounts are copies of carol's (a SCRAM account file
// does not depend on the user name).
func idleMemory(ctx context.Context, dir string, trust func(*lab.ProsodyServer) *csf.Trust, k int) (heap, stack float64, err error) {
	p, err := lab.StartProsody(ctx, lab.ProsodyOptions{Dir: dir})
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	adir := filepath.Join(p.Dir, "data", "example%2etest", "accounts")
	carol, err := os.ReadFile(filepath.Join(adir, "carol.dat"))
	if err != nil {
		return 0, 0, err
	}
	for i := range k {
		if err := os.WriteFile(filepath.Join(adir, fmt.Sprintf("idle%d.dat", i)), carol, 0o600); err != nil {
			return 0, 0, err
		}
	}
	if err := p.Restart(ctx); err != nil {
		return 0, 0, err
	}
	tr := trust(p)
	var before, after runtime.MemStats
	fw := csf.New(csf.Config{})
	defer fw.Close()
	runtime.GC()
	runtime.ReadMemStats(&before)
	clients := make([]*im.Client, 0, k)
	defer func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}()
	for i := range k {
		c, err := im.New(im.Config{JID: fmt.Sprintf("idle%d@%s", i, lab.Domain), Password: "secret3", Server: p.Addr, Trust: tr,
			Resource: "idle", Events: fw.Bus().NewPublisher("im"), PingInterval: time.Hour})
		if err != nil {
			return 0, 0, err
		}
		if err := c.Start(ctx); err != nil {
			return 0, 0, err
		}
		clients = append(clients, c)
	}
	time.Sleep(2 * time.Second) // let presence and catch-up settle
	runtime.GC()
	runtime.ReadMemStats(&after)
	if *memProfile != "" {
		if f, err := os.Create(*memProfile); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	// Live heap after a collection (HeapAlloc); HeapInuse would add the
	// free slots of partly used spans.
	heap = float64(after.HeapAlloc-before.HeapAlloc) / float64(k) / 1024
	inuse := float64(after.HeapInuse-before.HeapInuse) / float64(k) / 1024
	fmt.Printf("idle session heap in use (with span slack): %.1f KiB\n", inuse)
	stack = float64(after.StackInuse-before.StackInuse) / float64(k) / 1024
	return heap, stack, nil
}

// loginFigures is the roster-login measure.
type loginFigures struct {
	contacts  int
	roster    time.Duration // Start until the roster is fetched
	ready     time.Duration // until the presence of every contact arrived too
	allocs    uint64        // until ready
	presences int
}

// rosterLogin writes a roster of size contacts for alice into prosody's
// storage, the contacts on a component that answers their presence
// probes (see component.go), then times login, roster fetch and the
// arrival of every contact's presence.
func rosterLogin(ctx context.Context, dir string, size int, trust func(*lab.ProsodyServer) *csf.Trust) (loginFigures, error) {
	var f loginFigures
	p, err := lab.StartProsody(ctx, lab.ProsodyOptions{Dir: dir})
	if err != nil {
		return f, err
	}
	defer p.Close()
	var b strings.Builder
	b.WriteString("return {\n\t[false] = { version = 1; };\n")
	for i := range size {
		fmt.Fprintf(&b, "\t[\"contact%d@%s\"] = { subscription = \"both\"; name = \"Contact %d\"; groups = { [\"Group %d\"] = true; }; };\n", i, contactsDomain, i, i%20)
	}
	b.WriteString("};\n")
	rdir := filepath.Join(p.Dir, "data", "example%2etest", "roster")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return f, err
	}
	if err := os.WriteFile(filepath.Join(rdir, "alice.dat"), []byte(b.String()), 0o644); err != nil {
		return f, err
	}
	compAddr, err := addComponent(p)
	if err != nil {
		return f, err
	}
	if err := p.Restart(ctx); err != nil { // prosody caches rosters: read it afresh
		return f, err
	}
	stop, err := startComponent(ctx, compAddr)
	if err != nil {
		return f, fmt.Errorf("%w\n%s", err, p.Log())
	}
	defer stop()

	tr := trust(p)
	fw := csf.New(csf.Config{})
	defer fw.Close()
	pres := csf.SubscribeTo[im.PresenceReceived](fw.Bus(), size+1024)
	defer pres.Close()
	c, err := im.New(im.Config{JID: "alice@" + lab.Domain, Password: "secret1", Server: p.Addr,
		Trust: tr, Resource: "roster", Events: fw.Bus().NewPublisher("im"), Logger: benchLogger()})
	if err != nil {
		return f, err
	}
	defer c.Close()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	t0 := time.Now()
	if err := c.Start(ctx); err != nil {
		return f, err
	}
	contacts, err := c.Roster(ctx)
	if err != nil {
		return f, err
	}
	f.roster, f.contacts = time.Since(t0), len(contacts)
	seen := make(map[string]bool, size)
	timeout := time.After(60 * time.Second)
	for len(seen) < size {
		select {
		case ev := <-pres.Events():
			if from, _, _ := strings.Cut(ev.Presence.From, "/"); strings.HasSuffix(from, "@"+contactsDomain) && ev.Presence.Available {
				seen[from] = true
			}
		case <-pres.Lags():
			return f, fmt.Errorf("presence subscriber lagged")
		case <-timeout:
			return f, fmt.Errorf("presence of %d contacts of %d arrived", len(seen), size)
		}
	}
	f.ready = time.Since(t0)
	runtime.ReadMemStats(&ms1)
	f.allocs, f.presences = ms1.Mallocs-ms0.Mallocs, len(seen)
	return f, nil
}

// startComponent runs this program as the contacts component and waits
// until prosody accepted it. stop ends it.
func startComponent(ctx context.Context, addr string) (stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, self, "-component", addr)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	stop = func() { cancel(); _ = cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		stop()
		return nil, fmt.Errorf("bench: contacts component did not start (%q, %v)", line, err)
	}
	return stop, nil
}

func main() {
	n := flag.Int("n", 5000, "messages for the throughput run")
	m := flag.Int("m", 1000, "round trips for the latency run")
	idle := flag.Int("idle", 200, "idle sessions for the memory figure (0 skips)")
	rosterSize := flag.Int("roster", 5000, "roster size for the login figure (0 skips)")
	skipSlix := flag.Bool("no-slixmpp", false, "skip the slixmpp comparison")
	component := flag.String("component", "", "internal: run as the roster figure's contacts component, connecting to `ADDR`")
	flag.Parse()
	if *component != "" {
		if err := runComponent(*component); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 64 // every allocation of an idle session shows
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "slixmpp_bench.py")

	p, err := lab.StartProsody(ctx, lab.ProsodyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	mkTrust := func(p *lab.ProsodyServer) *csf.Trust {
		tr, err := csf.LoadTrust("", false)
		if err != nil {
			log.Fatal(err)
		}
		if err := tr.AddPEM(p.CA().CertPEM()); err != nil {
			log.Fatal(err)
		}
		return tr
	}
	trust := mkTrust(p)

	ours, err := benchOpenCSF(ctx, p, trust, *n, *m)
	if err != nil {
		log.Fatal(err)
	}
	printResult(ours)
	if !*skipSlix {
		slix, err := benchSlixmpp(ctx, p, *n, *m, script)
		if err != nil {
			log.Fatal(err)
		}
		printResult(slix)
		fmt.Printf("ratio opencsf/slixmpp: CPU per message %.2f×, messages/s %.2f×, RTT median %.2f×\n",
			ours.CPUPerMsgUS/slix.CPUPerMsgUS, ours.MsgsPerSec/slix.MsgsPerSec, ours.RTTMedianMS/slix.RTTMedianMS)
	}
	if *idle > 0 {
		dir, err := os.MkdirTemp("", "opencsf-bench-idle-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		heap, stack, err := idleMemory(ctx, dir, mkTrust, *idle)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("idle session over TLS (%d sessions): %.1f KiB heap + %.1f KiB stack each\n", *idle, heap, stack)
	}
	if *rosterSize > 0 {
		dir, err := os.MkdirTemp("", "opencsf-bench-roster-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		f, err := rosterLogin(ctx, dir, *rosterSize, mkTrust)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("login + roster fetch of %d contacts: %s; + presence of all %d: %s, %d allocations\n",
			f.contacts, f.roster.Round(time.Millisecond), f.presences, f.ready.Round(time.Millisecond), f.allocs)
	}
}

func printResult(r result) {
	fmt.Printf("%-16s %6d msgs in %6.2fs: %7.0f msgs/s, %6.1f µs CPU/msg, RTT median %.2f ms, p99 %.2f ms\n",
		r.Client, r.Messages, r.Seconds, r.MsgsPerSec, r.CPUPerMsgUS, r.RTTMedianMS, r.RTTP99MS)
}
