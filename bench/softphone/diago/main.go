//go:build linux

// Command diago-bench measures diago (github.com/emiago/diago), the Go SIP
// and RTP library our soft phone is compared with, carrying calls through a
// lab Kamailio to SIPp's RTP echo: CPU per RTP packet (sent plus received,
// getrusage of this process over the media window), memory per active call
// (heap spans and stacks after GC), frames sent late and packets not echoed.
// It is its own module so that the main module never depends on diago.
//
//	go run . -calls 1000 -duration 10s
//
// run.sh runs it and our bench/softphone with the same calls in one go and
// prints the ratio.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/opencsf/opencsf/bench/internal/measure"
	"github.com/opencsf/opencsf/lab"
)

const (
	frame    = 20 * time.Millisecond
	lateness = 5 * time.Millisecond // a frame written later than this after it fell due is late
)

func main() {
	calls := flag.Int("calls", 1000, "concurrent calls")
	dur := flag.Duration("duration", 10*time.Second, "how long the calls carry RTP (the measured window)")
	par := flag.Int("parallel", 32, "call set-ups in flight at once")
	flag.Parse()
	if err := run(*calls, *dur, *par); err != nil {
		log.Fatal(err)
	}
}

func run(calls int, dur time.Duration, par int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Quiet: diago logs through this; sipgo's transports warn through their
	// package's logger, which a program (not a library) may set.
	logger := slog.New(slog.DiscardHandler)
	sip.SetDefaultLogger(logger)

	caller := lab.NewUser("caller", "caller-pw")
	echo := lab.NewUser("echo", "echo-pw")
	k, err := lab.StartKamailio(ctx, lab.KamailioOptions{Users: []lab.User{caller, echo}})
	if err != nil {
		return err
	}
	defer k.Close()
	uas, err := lab.StartSipp(ctx, lab.SippOptions{Scenario: uasScenario, RTPEcho: true})
	if err != nil {
		return err
	}
	defer uas.Close()
	fmt.Printf("machine: %d CPUs, %s, diago v0.42.1\n", runtime.NumCPU(), runtime.Version())

	// Kamailio forwards calls to registered contacts only: register
	// SIPp's address as user echo's contact (a third-party registration),
	// so that every call goes through the proxy as our bench's do.
	if err := registerContact(ctx, k, echo, uas.Addr); err != nil {
		return fmt.Errorf("register sipp's contact: %w", err)
	}

	port, err := freeUDPPort()
	if err != nil {
		return err
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(caller.Name), sipgo.WithUserAgentHostname(k.Domain))
	if err != nil {
		return err
	}
	defer ua.Close()
	dg := diago.NewDiago(ua, diago.WithLogger(logger),
		diago.WithMediaConfig(diago.MediaConfig{Codecs: []media.Codec{media.CodecAudioUlaw}}),
		diago.WithTransport(diago.Transport{Transport: "udp", BindHost: "127.0.0.1", BindPort: port}))
	if err := dg.ServeBackground(ctx, func(*diago.DialogServerSession) {}); err != nil {
		return err
	}

	m0 := measure.MemStats()
	kHost, kPort, err := net.SplitHostPort(k.UDPAddr)
	if err != nil {
		return err
	}
	kp, _ := strconv.Atoi(kPort)
	to := sip.Uri{Scheme: "sip", User: echo.Name, Host: kHost, Port: kp}
	tone := ulawTone(400)

	legs := make([]*leg, calls)
	var setups []time.Duration
	var mu sync.Mutex
	err = measure.ForEach(calls, par, func(i int) error {
		t0 := time.Now()
		d, med, err := dg.Invite(ctx, to, diago.InviteOptions{Username: caller.Name, Password: caller.Password})
		if err != nil {
			return fmt.Errorf("call %d: %w", i, err)
		}
		l, err := startLeg(ctx, d, med, tone)
		if err != nil {
			return fmt.Errorf("call %d: %w", i, err)
		}
		mu.Lock()
		legs[i] = l
		setups = append(setups, time.Since(t0))
		mu.Unlock()
		return nil
	})
	defer func() {
		hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer hcancel()
		_ = measure.ForEach(len(legs), par, func(i int) error {
			if legs[i] != nil {
				legs[i].close(hctx)
			}
			return nil
		})
	}()
	if err != nil {
		return err
	}
	sort.Slice(setups, func(a, b int) bool { return setups[a] < setups[b] })
	fmt.Printf("diago call set-up (INVITE, 407, INVITE, 200, ACK through kamailio) with %d in flight: median %v, p99 %v\n",
		par, setups[len(setups)/2].Round(time.Microsecond), setups[len(setups)*99/100].Round(time.Microsecond))

	// Let every leg's first echoed packets arrive before measuring.
	time.Sleep(time.Second)
	m1 := measure.MemStats()
	before := totals(legs)
	c1, t1 := measure.CPU(), time.Now()
	time.Sleep(dur)
	used, elapsed := measure.CPU()-c1, time.Since(t1)
	after := totals(legs)
	sent, recv := after.sent-before.sent, after.recv-before.recv
	fmt.Printf("diago calls: %d concurrent for %v: %d RTP packets sent, %d received (%.0f/s); %d goroutines\n",
		calls, elapsed.Round(time.Millisecond), sent, recv, float64(sent+recv)/elapsed.Seconds(), runtime.NumGoroutine())
	fmt.Printf("  diago CPU %.1f%% of one core; %.2f µs CPU per RTP packet (sent + received)\n",
		100*used.Seconds()/elapsed.Seconds(), float64(used.Nanoseconds())/1000/float64(sent+recv))
	nominal := uint64(calls) * uint64(elapsed/frame)
	fmt.Printf("  diago sent late (>5 ms): %.3f%%; not sent (ticks dropped): %.3f%%; not echoed back: %.3f%%\n",
		measure.Pct(after.late-before.late, sent), measure.Pct(uint64(max(int64(nominal)-int64(sent), 0)), nominal),
		measure.Pct(uint64(max(int64(sent)-int64(recv), 0)), sent))
	perCall := (float64(m1.HeapInuse+m1.StackInuse) - float64(m0.HeapInuse+m0.StackInuse)) / 1024 / float64(calls)
	fmt.Printf("  diago memory per active call (one end; heap in use + stacks after GC): %.1f KiB (live heap %.1f KiB)\n",
		perCall, (float64(m1.HeapAlloc)-float64(m0.HeapAlloc))/1024/float64(calls))
	if failed := after.failed; failed > 0 {
		fmt.Printf("  WARNING: %d calls' media stopped with an error during the run\n", failed)
	}
	return nil
}

// uasScenario is SIPp's built-in uas (answer with PCMU, wait for BYE)
// with the Record-Route the proxy added copied into its responses, as a
// UAS must (RFC 3261 section 12.1.1): the built-in one leaves it out, so
// ACK and BYE would bypass Kamailio and SIPp's 200 to BYE, sent to where
// the INVITE came from, would be dropped by Kamailio as not its own.
const uasScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas with Record-Route, RTP echo">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv request="ACK" optional="true" crlf="true"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
  <timewait milliseconds="4000"/>
</scenario>
`

// leg is one diago call: a writer goroutine sending a 20 ms µ-law frame on
// a ticker and a reader goroutine reading what SIPp echoes, which is how
// diago's own playback and the FIELD-NOTES measurement use it.
type leg struct {
	d                *diago.DialogClientSession
	sent, recv, late atomic.Uint64
	failed           atomic.Bool
	stop             chan struct{}
	wg               sync.WaitGroup
}

func startLeg(ctx context.Context, d *diago.DialogClientSession, med *diago.DialogMedia, tone []byte) (*leg, error) {
	w, err := med.AudioWriter()
	if err != nil {
		return nil, err
	}
	r, err := med.AudioReader()
	if err != nil {
		return nil, err
	}
	l := &leg{d: d, stop: make(chan struct{})}
	l.wg.Go(func() {
		t := time.NewTicker(frame)
		defer t.Stop()
		for {
			var due time.Time
			select {
			case <-l.stop:
				return
			case <-ctx.Done():
				return
			case due = <-t.C:
			}
			// The tick carries the time it fell due. A ticker drops the
			// ticks a slow reader missed: those frames are never sent,
			// which the run reports as frames short of 50 a second.
			if time.Since(due) > lateness {
				l.late.Add(1)
			}
			if _, err := w.Write(tone); err != nil {
				l.failed.Store(true)
				return
			}
			l.sent.Add(1)
		}
	})
	l.wg.Go(func() {
		buf := make([]byte, media.RTPBufSize)
		for {
			if _, err := r.Read(buf); err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					select {
					case <-l.stop:
					default:
						l.failed.Store(true)
					}
				}
				return
			}
			l.recv.Add(1)
		}
	})
	return l, nil
}

// close hangs up (BYE through kamailio), which closes the media session and
// so ends the reader.
func (l *leg) close(ctx context.Context) {
	close(l.stop)
	_ = l.d.Hangup(ctx)
	_ = l.d.Close()
	l.wg.Wait()
}

type sum struct {
	sent, recv, late, failed uint64
}

func totals(legs []*leg) sum {
	var s sum
	for _, l := range legs {
		s.sent += l.sent.Load()
		s.recv += l.recv.Load()
		s.late += l.late.Load()
		if l.failed.Load() {
			s.failed++
		}
	}
	return s
}

// registerContact registers addr as u's contact at Kamailio (digest
// authenticated), so that calls to u are forwarded to addr.
func registerContact(ctx context.Context, k *lab.KamailioServer, u lab.User, addr string) error {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(u.Name), sipgo.WithUserAgentHostname(k.Domain))
	if err != nil {
		return err
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		return err
	}
	defer client.Close()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	p, _ := strconv.Atoi(port)
	kHost, kPort, err := net.SplitHostPort(k.UDPAddr)
	if err != nil {
		return err
	}
	kp, _ := strconv.Atoi(kPort)
	aor := sip.Uri{Scheme: "sip", User: u.Name, Host: k.Domain}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: kHost, Port: kp})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: u.Name, Host: host, Port: p}})
	req.AppendHeader(sip.NewHeader("Expires", "3600"))
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := client.Do(rctx, req)
	if err != nil {
		return err
	}
	if res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired {
		res, err = client.DoDigestAuth(rctx, req, res, sipgo.DigestAuth{Username: u.Name, Password: u.Password})
		if err != nil {
			return err
		}
	}
	if res.StatusCode != sip.StatusOK {
		return fmt.Errorf("REGISTER answered %d %s", res.StatusCode, res.Reason)
	}
	return nil
}

// ulawTone is one 20 ms G.711 µ-law frame of a tone whose period divides
// 20 ms, so that repeating the frame is a continuous tone (as our bench
// and SIPp replay one recording).
func ulawTone(hz float64) []byte {
	f := make([]byte, 160)
	for i := range f {
		f[i] = linearToUlaw(int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000)))
	}
	return f
}

// linearToUlaw encodes one 16-bit sample as G.711 µ-law (ITU-T G.711:
// bias 132, segment from the highest set bit, bits inverted).
func linearToUlaw(s int16) byte {
	const bias, clip = 0x84, 32635
	x := int(s)
	sign := 0
	if x < 0 {
		x, sign = -x, 0x80
	}
	x = min(x, clip) + bias
	seg := 7
	for mask := 0x4000; x&mask == 0 && seg > 0; mask >>= 1 {
		seg--
	}
	return byte(^(sign | seg<<4 | (x>>(seg+3))&0x0f))
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
