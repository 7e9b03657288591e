package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/softphone"
	"github.com/opencsf/opencsf/softphone/audio"
)

func init() {
	register(&command{
		path:    "call",
		summary: "place a call: call DEST [--play F] [--record F] [--dtmf 123#] [--hangup-after D]",
		run:     runCall,
	})
	register(&command{
		path:    "answer",
		summary: "answer incoming calls: answer [--play F] [--record F] [--calls N]",
		run:     runAnswer,
	})
	register(&command{
		path:    "tone",
		summary: "write a tone as a WAV file to play: tone FILE [--hz 440] [--duration 10s]",
		run:     runTone,
	})

}

// phoneSession is a registered phone with its event stream.
type phoneSession struct {
	phone *softphone.Phone
	fw    *csf.Framework
	sub   *csf.Subscription
}

// startPhone registers the configured user and returns the phone.
func startPhone(ctx context.Context, env *cmdEnv, cf *commonFlags) (*phoneSession, error) {
	st, err := cf.store(env)
	if err != nil {
		return nil, err
	}
	snap := st.Effective()
	cfg := softphone.ConfigFromSettings(snap)
	if cfg.Registrar == "" {
		return nil, &usageError{"no SipRegistrar configured (use --config and --user)"}
	}
	trust, err := csf.TrustFromSettings(snap)
	if err != nil {
		return nil, err
	}
	cfg.Trust = trust
	cfg.TLS = trust.TLSConfig(cfg.Account.Domain)
	fw := csf.New(csf.Config{})
	cfg.Events = fw.Bus().NewPublisher("softphone")
	p, err := softphone.New(cfg)
	if err != nil {
		fw.Close()
		return nil, err
	}
	s := &phoneSession{phone: p, fw: fw, sub: fw.Subscribe(&csf.SubscribeOptions{QueueLen: 1024})}
	if err := p.Start(ctx); err != nil {
		s.close(ctx, false)
		return nil, err
	}
	return s, nil
}

// close shuts the phone down (unregistering when shutdown is true),
// printing the last events to w when it is not nil.
func (s *phoneSession) close(ctx context.Context, shutdown bool, w ...io.Writer) error {
	var err error
	if shutdown {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = s.phone.Shutdown(sctx)
		cancel()
	} else {
		s.phone.Close()
	}
	for _, out := range w {
		s.drain(out)
	}
	s.sub.Close()
	s.fw.Close()
	return err
}

// printEvent writes one event line; it returns the event for the caller.
func printEvent(w io.Writer, ev csf.Event) {
	switch e := ev.(type) {
	case softphone.Registered:
		fmt.Fprintf(w, "event registered %s expires=%s refresh=%t\n", e.AOR, e.Expires, e.Refresh)
	case softphone.RegistrationFailed:
		fmt.Fprintf(w, "event registration-failed %s retrying=%t: %v\n", e.AOR, e.Retrying, e.Err)
	case softphone.Unregistered:
		fmt.Fprintf(w, "event unregistered %s\n", e.AOR)
	case softphone.CallReceived:
		fmt.Fprintf(w, "event call-received from %s\n", e.From)
	case softphone.CallStateChanged:
		if e.Err != nil {
			fmt.Fprintf(w, "event call %s %s: %s (%v)\n", e.Call.Direction(), e.Call.Remote(), e.State, e.Err)
		} else {
			fmt.Fprintf(w, "event call %s %s: %s\n", e.Call.Direction(), e.Call.Remote(), e.State)
		}
	case softphone.DTMFReceived:
		fmt.Fprintf(w, "event dtmf %c info=%t\n", e.Digit, e.INFO)
	}
}

func printStats(w io.Writer, c *softphone.Call) {
	st := c.Stats()
	fmt.Fprintf(w, "stats codec=%s sent=%d received=%d lost=%d concealed=%d late=%d jitter=%s rtt=%s remote_lost=%d send_late=%d\n",
		st.Codec, st.PacketsSent, st.PacketsReceived, st.PacketsLost, st.Concealed, st.Late,
		st.Jitter.Round(10*time.Microsecond), st.RTT.Round(10*time.Microsecond), st.RemoteLost, st.SendLate)
}

// drain prints pending events without waiting.
func (s *phoneSession) drain(w io.Writer) {
	for {
		select {
		case ev, ok := <-s.sub.Events():
			if !ok {
				return
			}
			printEvent(w, ev)
		case <-time.After(50 * time.Millisecond):
			// The bus hands events over asynchronously: wait a moment for
			// the last ones.
			return
		}
	}
}

// media opens the play and record files of one call.
type media struct {
	opts   softphone.CallOptions
	closer []func() error
}

func openMedia(play, record string) (*media, error) {
	m := &media{}
	if play != "" {
		f, err := os.Open(play)
		if err != nil {
			return nil, err
		}
		m.closer = append(m.closer, f.Close)
		src, err := audio.NewWAVSource(f)
		if err != nil {
			m.close()
			return nil, fmt.Errorf("%s: %w", play, err)
		}
		m.opts.Source = src
	}
	if record != "" {
		f, err := os.Create(record)
		if err != nil {
			m.close()
			return nil, err
		}
		sink, err := audio.NewWAVSink(f)
		if err != nil {
			f.Close()
			m.close()
			return nil, err
		}
		m.closer = append(m.closer, sink.Close, f.Close)
		m.opts.Sink = sink
	}
	return m, nil
}

func (m *media) close() error {
	var errs []error
	for _, c := range m.closer {
		errs = append(errs, c())
	}
	m.closer = nil
	return errors.Join(errs...)
}

func runCall(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	cf := addCommonFlags(fs)
	play := fs.String("play", "", "WAV `FILE` to send (8 kHz mono 16-bit); default silence")
	record := fs.String("record", "", "write what the far end sends to WAV `FILE`")
	dtmf := fs.String("dtmf", "", "send these `DIGITS` (0-9*#A-D) once answered")
	hangupAfter := fs.Duration("hangup-after", 0, "hang up after `DURATION`; 0 waits for the far end or Ctrl-C")
	pos, err := parseInterleaved(fs, env, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{"want one DEST (a user, user@domain or SIP URI)"}
	}
	dest := pos[0]
	m, err := openMedia(*play, *record)
	if err != nil {
		return err
	}
	defer m.close()
	s, err := startPhone(ctx, env, cf)
	if err != nil {
		return err
	}
	s.drain(env.stdout)
	began := time.Now()
	call, err := s.phone.Dial(ctx, dest, &m.opts)
	s.drain(env.stdout)
	if err != nil {
		s.close(ctx, true)
		return err
	}
	fmt.Fprintf(env.stdout, "answered after %s\n", time.Since(began).Round(time.Millisecond))
	if *dtmf != "" {
		if err := call.SendDTMF(ctx, *dtmf); err != nil {
			fmt.Fprintf(env.stderr, "dtmf: %v\n", err)
		}
	}
	var timer <-chan time.Time
	if *hangupAfter > 0 {
		t := time.NewTimer(*hangupAfter)
		defer t.Stop()
		timer = t.C
	}
	hungUp := false
	for !hungUp {
		select {
		case ev := <-s.sub.Events():
			printEvent(env.stdout, ev)
		case <-call.Done():
			hungUp = true
		case <-timer:
			hungUp = true
		case <-ctx.Done():
			hungUp = true
		}
	}
	printStats(env.stdout, call)
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if err := call.Hangup(hctx); err != nil && !errors.Is(err, softphone.ErrCallEnded) {
		fmt.Fprintf(env.stderr, "hangup: %v\n", err)
	}
	cancel()
	err = s.close(ctx, true, env.stdout)
	return errors.Join(err, m.close())
}

func runAnswer(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("answer", flag.ContinueOnError)
	cf := addCommonFlags(fs)
	play := fs.String("play", "", "WAV `FILE` to send in each call; default silence")
	record := fs.String("record", "", "record each call to WAV `FILE` (call N > 1 goes to FILE-N.wav)")
	calls := fs.Int("calls", 1, "answer `N` calls, then unregister and exit; 0 means until Ctrl-C")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{"answer takes no arguments"}
	}
	s, err := startPhone(ctx, env, cf)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "ready %s\n", s.phone.AOR())
	answered := 0
	type active struct {
		call *softphone.Call
		m    *media
	}
	var current []active
	var errs []error
	for *calls == 0 || answered < *calls || len(current) > 0 {
		var done <-chan struct{}
		if len(current) > 0 {
			done = current[0].call.Done()
		}
		select {
		case ev := <-s.sub.Events():
			printEvent(env.stdout, ev)
			rc, ok := ev.(softphone.CallReceived)
			if !ok {
				continue
			}
			if *calls > 0 && answered >= *calls {
				_ = rc.Call.Reject(ctx, 486)
				continue
			}
			answered++
			rec := *record
			if rec != "" && answered > 1 {
				rec = strings.TrimSuffix(rec, ".wav") + "-" + strconv.Itoa(answered) + ".wav"
			}
			m, err := openMedia(*play, rec)
			if err != nil {
				errs = append(errs, err)
				_ = rc.Call.Reject(ctx, 500)
				continue
			}
			if err := rc.Call.Answer(ctx, &m.opts); err != nil {
				errs = append(errs, err)
				m.close()
				continue
			}
			current = append(current, active{rc.Call, m})
		case <-done:
			printStats(env.stdout, current[0].call)
			errs = append(errs, current[0].m.close())
			current = current[1:]
		case <-ctx.Done():
			for _, a := range current {
				printStats(env.stdout, a.call)
			}
			err := s.close(ctx, true, env.stdout)
			for _, a := range current {
				a.m.close()
			}
			return err
		}
	}
	errs = append(errs, s.close(ctx, true, env.stdout))
	return errors.Join(errs...)
}

func runTone(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("tone", flag.ContinueOnError)
	hz := fs.Float64("hz", 440, "frequency in `HZ`")
	dur := fs.Duration("duration", 10*time.Second, "length")
	pos, err := parseInterleaved(fs, env, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{"want FILE"}
	}
	f, err := os.Create(pos[0])
	if err != nil {
		return err
	}
	sink, err := audio.NewWAVSink(f)
	if err != nil {
		f.Close()
		return err
	}
	src := &audio.Tone{Frequency: *hz}
	frame := make([]int16, audio.FrameSamples)
	for range int(*dur / (20 * time.Millisecond)) {
		_ = src.ReadFrame(frame)
		if err := sink.WriteFrame(frame); err != nil {
			f.Close()
			return err
		}
	}
	return errors.Join(sink.Close(), f.Close())
}

// parseInterleaved parses flags that may come before or after the
// positional arguments, which it returns in order.
func parseInterleaved(fs *flag.FlagSet, env *cmdEnv, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, env, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
