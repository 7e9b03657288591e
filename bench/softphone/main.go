//go:build linux

// Command softphone-bench measures the soft phone against a lab Kamailio on
// this machine: registrations per second and CPU per registration, memory
// per idle registered line, and concurrent calls with G.711 RTP both ways
// (CPU per RTP packet, packets sent late, packets lost, call set-up
// latency). With -sipp it also measures SIPp carrying the same number of
// calls with RTP (uac_pcap against uas -rtp_echo) in the same run.
//
//	go run ./bench/softphone -lines 500 -calls 200 -duration 10s -sipp
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencsf/opencsf/bench/internal/measure"
	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/lab"
	"github.com/opencsf/opencsf/softphone"
	"github.com/opencsf/opencsf/softphone/audio"
)

func main() {
	lines := flag.Int("lines", 200, "lines to register for the registration figures")
	calls := flag.Int("calls", 100, "concurrent calls (2 lines each)")
	dur := flag.Duration("duration", 10*time.Second, "how long the calls carry RTP")
	par := flag.Int("parallel", 32, "registrations and call set-ups in flight at once")
	withSipp := flag.Bool("sipp", false, "also measure SIPp carrying the same calls")
	nPhones := flag.Int("phones", 2, "phones (SIP sockets, media loops) the lines are spread over; 0 means one per line")
	flag.StringVar(&heapProfile, "heapprofile", "", "write a heap profile here while the calls are up")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the measured call period here")
	flag.StringVar(&traceFile, "trace", "", "write an execution trace of the first 3 s of the measured call period here (go tool trace -pprof=sched shows what kept the pacing loops waiting)")
	flag.DurationVar(&settle, "settle", time.Second, "wait this long after the last call set-up before measuring (SIP transactions linger 32 s for their timers)")
	flag.Parse()
	if heapProfile != "" {
		// Sample finely: the default (one sample per 512 KiB) cannot tell
		// apart the few hundred bytes each call keeps.
		runtime.MemProfileRate = 256
	}
	if err := run(*lines, *calls, *dur, *par, *nPhones, *withSipp); err != nil {
		log.Fatal(err)
	}
}

var (
	heapProfile, cpuProfile, traceFile string
	settle                             time.Duration
)

func heap() uint64 {
	h, _ := heapAndLive()
	return h
}

// heapAndLive returns the heap spans and stacks in use (what the process
// holds, as RSS would show it) and the live heap objects alone (what the
// calls keep, without the spans' free space left by freed SIP messages).
func heapAndLive() (inuse, live uint64) {
	m := measure.MemStats()
	return m.HeapInuse + m.StackInuse, m.HeapAlloc
}

func run(lines, calls int, dur time.Duration, par, nPhones int, withSipp bool) error {
	ctx := context.Background()
	n := max(lines, 2*calls)
	users := make([]lab.User, n)
	for i := range users {
		users[i] = lab.NewUser(fmt.Sprintf("u%05d", i), "pw"+strconv.Itoa(i))
	}
	k, err := lab.StartKamailio(ctx, lab.KamailioOptions{Users: users})
	if err != nil {
		return err
	}
	defer k.Close()
	fmt.Printf("machine: %d CPUs, %s\n", runtime.NumCPU(), runtime.Version())

	if nPhones <= 0 || nPhones > n {
		nPhones = n
	}
	// Line i lives on phone i % nPhones; call j goes from line 2j to 2j+1.
	accounts := make([][]softphone.Account, nPhones)
	for i, u := range users {
		accounts[i%nPhones] = append(accounts[i%nPhones], softphone.Account{User: u.Name, Domain: k.Domain, Password: config.Secret(u.Password)})
	}
	phones := make([]*softphone.Phone, nPhones)
	for i := range phones {
		p, err := softphone.New(softphone.Config{
			Account: accounts[i][0], Lines: accounts[i][1:],
			Registrar: k.UDPAddr, ListenIP: "127.0.0.1", Expires: time.Hour,
		})
		if err != nil {
			return err
		}
		phones[i] = p
	}
	phoneOf := func(line int) *softphone.Phone { return phones[line%nPhones] }
	defer func() {
		var wg sync.WaitGroup
		for _, p := range phones {
			wg.Go(func() { p.Close() })
		}
		wg.Wait()
	}()

	// Registrations.
	h0, c0, t0 := heap(), measure.CPU(), time.Now()
	if err := measure.ForEach(nPhones, par, func(i int) error { return phones[i].Start(ctx) }); err != nil {
		return err
	}
	elapsed, used := time.Since(t0), measure.CPU()-c0
	m1 := measure.MemStats()
	h1, l1 := m1.HeapInuse+m1.StackInuse, m1.HeapAlloc
	fmt.Printf("lines spread over %d phones (SIP sockets and media loops)\n", nPhones)
	fmt.Printf("registration: %d lines in %v: %.0f REGISTER/s (digest, 2 transactions each), %.1f µs CPU per registration\n",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), float64(used.Microseconds())/float64(n))
	fmt.Printf("memory per registered idle line: %.1f KiB (heap+stacks, %d goroutines in all)\n",
		float64(h1-h0)/1024/float64(n), runtime.NumGoroutine())
	_ = lines

	// Calls: line 2i calls line 2i+1.
	var mu sync.Mutex
	var setups []time.Duration
	// One frame per direction for all calls, as SIPp replays one pcap:
	// the sources only read it.
	toneOut, toneBack := newLoopFrame(400), newLoopFrame(1000)
	active := make([]*softphone.Call, calls)
	answered := make(chan struct{}, 2*calls)
	stopAnswer := make(chan struct{})
	var answerers sync.WaitGroup
	callees := map[*softphone.Phone]bool{}
	for i := range calls {
		callees[phoneOf(2*i+1)] = true
	}
	for callee := range callees {
		answerers.Go(func() {
			for {
				for _, c := range callee.Calls() {
					if c.Direction() == softphone.Incoming && c.State() == softphone.CallIncoming {
						if c.Answer(ctx, &softphone.CallOptions{Source: toneBack}) == nil {
							answered <- struct{}{}
						}
					}
				}
				select {
				case <-stopAnswer:
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		})
	}
	err = measure.ForEach(calls, par, func(i int) error {
		start := time.Now()
		c, err := phoneOf(2*i).Dial(ctx, users[2*i+1].Name, &softphone.CallOptions{Source: toneOut, Line: users[2*i].Name})
		if err != nil {
			return err
		}
		for c.Stats().PacketsReceived == 0 && time.Since(start) < 2*time.Second {
			time.Sleep(2 * time.Millisecond)
		}
		mu.Lock()
		setups = append(setups, time.Since(start))
		active[i] = c
		mu.Unlock()
		return nil
	})
	close(stopAnswer)
	answerers.Wait()
	if err != nil {
		return err
	}
	sort.Slice(setups, func(a, b int) bool { return setups[a] < setups[b] })
	fmt.Printf("call set-up (INVITE to first RTP received) with %d in flight: median %v, p99 %v\n",
		par, setups[len(setups)/2].Round(time.Microsecond), setups[len(setups)*99/100].Round(time.Microsecond))

	time.Sleep(settle)
	mc := measure.MemStats()
	hc, lc := mc.HeapInuse+mc.StackInuse, mc.HeapAlloc
	if heapProfile != "" {
		f, err := os.Create(heapProfile)
		if err != nil {
			return err
		}
		err = pprof.WriteHeapProfile(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	before := totals(phones)
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	if traceFile != "" {
		f, err := os.Create(traceFile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			return err
		}
		time.AfterFunc(3*time.Second, trace.Stop)
	}
	c1, t1 := measure.CPU(), time.Now()
	time.Sleep(dur)
	used, elapsed = measure.CPU()-c1, time.Since(t1)
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	after := totals(phones)
	sent, recv := after.sent-before.sent, after.recv-before.recv
	fmt.Printf("calls: %d concurrent for %v: %d RTP packets sent, %d received (%.0f/s)\n",
		calls, elapsed.Round(time.Millisecond), sent, recv, float64(sent+recv)/elapsed.Seconds())
	ours := float64(used.Nanoseconds()) / 1000 / float64(sent+recv)
	fmt.Printf("  CPU %.1f%% of one core; %.2f µs CPU per RTP packet (sent + received); %d goroutines in all\n",
		100*used.Seconds()/elapsed.Seconds(), ours, runtime.NumGoroutine())
	// diago's figure is from FIELD-NOTES (1,000 calls through kamailio on
	// this kind of machine), not measured in this run.
	fmt.Printf("  ratio to diago's 7.5–8.8 µs (FIELD-NOTES; same run: bench/softphone/diago/run.sh): %.2f–%.2f\n", ours/8.8, ours/7.5)
	fmt.Printf("  sent late (>5 ms): %.3f%%; lost: %.3f%%; concealed: %.3f%%\n",
		measure.Pct(after.late-before.late, sent), measure.Pct(uint64(max(after.lost-before.lost, 0)), recv), measure.Pct(after.concealed-before.concealed, recv))
	perCall := float64(int64(hc)-int64(h1)) / 1024 / float64(calls)
	fmt.Printf("  memory per active call, %v after set-up: %.1f KiB beyond two idle lines (both ends in this process: %.1f KiB per end)\n", settle, perCall, perCall/2)
	liveCall := float64(int64(lc)-int64(l1)) / 1024 / float64(calls)
	fmt.Printf("  of which live heap objects: %.1f KiB per call (%.1f KiB per end); the rest is free space in spans still in use (heap %.1f KiB, stacks %.1f KiB per call)\n",
		liveCall, liveCall/2, (float64(mc.HeapInuse)-float64(m1.HeapInuse)-float64(lc)+float64(l1))/1024/float64(calls), (float64(mc.StackInuse)-float64(m1.StackInuse))/1024/float64(calls))

	// Calls that ended on their own are not in the figures above: say so.
	ended := map[string]int{}
	for _, c := range active {
		if c != nil && c.State() == softphone.CallEnded {
			ended[fmt.Sprint(c.Err())]++
		}
	}
	for why, n := range ended {
		fmt.Printf("  WARNING: %d calls ended before hang-up: %s\n", n, why)
	}
	for _, c := range active {
		if c != nil {
			_ = c.Hangup(ctx)
		}
	}
	if withSipp {
		return sippCalls(ctx, calls, ours)
	}
	return nil
}

// loopFrame is a tone whose period divides a 20 ms frame (400 Hz, 1 kHz
// at 8 kHz), computed once and repeated: a continuous tone at the cost of
// a copy, as SIPp replays a recording rather than synthesising. It is
// only read, so every call may share one.
type loopFrame []int16

func newLoopFrame(hz float64) loopFrame {
	f := make(loopFrame, audio.FrameSamples)
	_ = (&audio.Tone{Frequency: hz}).ReadFrame(f)
	return f
}

func (l loopFrame) ReadFrame(f []int16) error {
	copy(f, l)
	return nil
}

type sum struct {
	sent, recv, late, concealed uint64
	lost                        int64
}

func totals(phones []*softphone.Phone) sum {
	var s sum
	for _, p := range phones {
		for _, c := range p.Calls() {
			if c.Direction() != softphone.Outgoing && c.Direction() != softphone.Incoming {
				continue
			}
			st := c.Stats()
			s.sent += st.PacketsSent
			s.recv += st.PacketsReceived
			s.late += st.SendLate
			s.concealed += st.Concealed
			s.lost += st.PacketsLost
		}
	}
	return s
}

// sippCalls runs SIPp's uac_pcap (236 G.711 A-law packets a call from
// Debian's g711a.pcap) against SIPp's uas echoing RTP, with calls
// concurrent calls, and reports each process's CPU per RTP packet: the
// client's per packet sent, the echoing server's per packet received plus
// sent (the same measure as ours).
func sippCalls(ctx context.Context, calls int, ours float64) error {
	const pcapPackets = 236
	dir, err := os.MkdirTemp("", "sipp-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	uas, err := lab.StartSipp(ctx, lab.SippOptions{Scenario: "uas", RTPEcho: true, Dir: filepath.Join(dir, "uas")})
	if err != nil {
		return err
	}
	defer uas.Close()
	uacDir := filepath.Join(dir, "uac")
	if err := os.MkdirAll(uacDir, 0o755); err != nil {
		return err
	}
	if err := os.Symlink("/usr/share/sip-tester", filepath.Join(uacDir, "pcap")); err != nil {
		return err
	}
	uasBefore := procCPU(uas.PID())
	uac, err := lab.StartSipp(ctx, lab.SippOptions{Scenario: "uac_pcap", Target: uas.Addr, Calls: calls, Rate: 200,
		Dir: uacDir, Args: []string{"-l", strconv.Itoa(calls)}})
	if err != nil {
		return err
	}
	defer uac.Close()
	var uacCPU time.Duration
	done := make(chan error, 1)
	go func() { done <- uac.Wait(ctx) }()
	t0 := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case err := <-done:
			if err != nil {
				return err
			}
			break wait
		case <-tick.C:
			if c := procCPU(uac.PID()); c > 0 {
				uacCPU = c
			}
		}
	}
	elapsed := time.Since(t0)
	uasCPU := procCPU(uas.PID()) - uasBefore
	pk := float64(pcapPackets * calls)
	fmt.Printf("sipp, same run: %d calls of %d RTP packets in %v\n", calls, pcapPackets, elapsed.Round(time.Millisecond))
	uacPer := float64(uacCPU.Nanoseconds()) / 1000 / pk
	fmt.Printf("  sipp uac_pcap: %.2f µs CPU per RTP packet sent\n", uacPer)
	if uacPer > 0 {
		fmt.Printf("  ratio ours / sipp uac_pcap: %.2f\n", ours/uacPer)
	}
	uasPer := float64(uasCPU.Nanoseconds()) / 1000 / (2 * pk)
	fmt.Printf("  sipp uas -rtp_echo: %.2f µs CPU per RTP packet (received + sent)\n", uasPer)
	if uasPer > 0 {
		fmt.Printf("  ratio ours / sipp echo: %.2f\n", ours/uasPer)
	}
	return nil
}

// procCPU reads a process's user plus system CPU from /proc (clock ticks
// of 10 ms).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(u+st) * 10 * time.Millisecond
}
