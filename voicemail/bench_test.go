//go:build unix

package voicemail

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
)

// benchMessages is how many voicemails the listing benchmarks hold;
// VOICEMAIL_BENCH_N overrides it.
func benchMessages() int {
	if n, err := strconv.Atoi(os.Getenv("VOICEMAIL_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return 10000
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fillMailbox delivers n voicemails of half a second of µ-law audio, each
// from a different caller, and warms dovecot's index and cache with one
// listing.
func fillMailbox(b *testing.B, n int) (*lab.DovecotServer, Config) {
	d := lab.Dovecot(b, nil)
	wav := testWAV(EncodingMuLaw, 8000, 0.5)
	for i := range n {
		msg := buildMsg(msgSpec{Audio: wav, From: fmt.Sprintf(`"Caller %d" <555%04d@vm.example.test>`, i, i),
			Headers: "X-Priority: 3\r\nContent-Duration: 1"})
		require.NoError(b, d.Deliver("alice", msg))
	}
	cfg := labConfig(b, d, "alice", false)
	c := dialLab(b, cfg)
	list, err := c.List(b.Context())
	require.NoError(b, err)
	require.Len(b, list, n)
	return d, cfg
}

// BenchmarkIntegrationList lists n voicemails over TLS: the full List
// (one UID FETCH 1:* of metadata, one of the audio headers), and the
// metadata FETCH alone. Besides time it reports the test process's CPU
// per message.
func BenchmarkIntegrationList(b *testing.B) {
	n := benchMessages()
	_, cfg := fillMailbox(b, n)
	c := dialLab(b, cfg)
	for _, mode := range []struct {
		name  string
		probe bool
	}{{"goimap-metadata-fetch", false}, {"goimap-full-list", true}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0, iters := cpuTime(), 0
			for b.Loop() {
				var list []Voicemail
				err := c.withLock(b.Context(), func() (err error) {
					var set imap.UIDSet
					set.AddRange(1, 0)
					list, err = c.fetchMetaOpts(set, mode.probe)
					return err
				})
				if err != nil || len(list) != n {
					b.Fatalf("%d messages, %v", len(list), err)
				}
				iters++
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(iters*n), "cpu-µs/msg")
		})
	}
	chk, err := cfg.check()
	require.NoError(b, err)
	rc, err := dialRaw(b.Context(), chk)
	require.NoError(b, err)
	defer rc.close()
	require.NoError(b, rc.command("EXAMINE INBOX", nil))
	for _, mode := range []struct {
		name  string
		probe bool
	}{{"wire-metadata-fetch", false}, {"wire-full-list", true}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0, iters := cpuTime(), 0
			for b.Loop() {
				list, err := rc.fetchAll(false, n)
				if err == nil && mode.probe {
					err = rc.probe(list, &rc.arena)
				}
				if err != nil || len(list) != n {
					b.Fatalf("%d messages, %v", len(list), err)
				}
				iters++
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(iters*n), "cpu-µs/msg")
		})
	}
	b.Run("List", func(b *testing.B) {
		b.ReportAllocs()
		cpu0, iters := cpuTime(), 0
		for b.Loop() {
			list, err := c.List(b.Context())
			if err != nil || len(list) != n {
				b.Fatalf("%d messages, %v", len(list), err)
			}
			iters++
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(iters*n), "cpu-µs/msg")
	})
}

// BenchmarkIntegrationRawRead reads the response to the same UID FETCH
// as the metadata listing over a bare TLS socket, without parsing: the
// floor a client can reach.
func BenchmarkIntegrationRawRead(b *testing.B) {
	n := benchMessages()
	d, cfg := fillMailbox(b, n)
	conn, err := tls.Dial("tcp", d.TLSAddr, d.CA().ClientTLS("127.0.0.1"))
	require.NoError(b, err)
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	cmd := func(tag, line string) int {
		_, err := fmt.Fprintf(conn, "%s %s\r\n", tag, line)
		require.NoError(b, err)
		total := 0
		for {
			l, err := r.ReadSlice('\n')
			total += len(l)
			if err == bufio.ErrBufferFull {
				continue
			}
			require.NoError(b, err)
			if bytes.HasPrefix(l, []byte(tag+" ")) {
				require.True(b, bytes.HasPrefix(l, []byte(tag+" OK")), "%s", l)
				return total
			}
		}
	}
	_, err = r.ReadString('\n')
	require.NoError(b, err)
	cmd("a1", fmt.Sprintf("LOGIN %q %q", cfg.UserName, cfg.Password.Reveal()))
	cmd("a2", "SELECT INBOX")
	fetch := "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (" +
		strings.Join(listHeaders, " ") + ")])"
	b.ReportAllocs()
	cpu0, iters, bytesRead := cpuTime(), 0, 0
	for b.Loop() {
		bytesRead = cmd("f", fetch)
		iters++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(iters*n), "cpu-µs/msg")
	b.ReportMetric(float64(bytesRead)/float64(n), "bytes/msg")
}

// BenchmarkCacheLoad reads a cached list of n voicemails: what a restart
// shows before the server answers.
func BenchmarkCacheLoad(b *testing.B) {
	n := benchMessages()
	s := &Snapshot{UIDValidity: 1, UIDNext: uint32(n + 1)}
	for i := range n {
		s.Messages = append(s.Messages, Voicemail{ID: ID(i + 1), CallerName: fmt.Sprintf("Caller %d", i),
			CallerNumber: fmt.Sprintf("555%04d", i), Date: time.Now(), Duration: time.Second, HasAudio: true,
			Format: AudioFormat{MIMEType: "audio/wav", Encoding: EncodingMuLaw, SampleRate: 8000, Channels: 1, BitsPerSample: 8},
			Size:   6000, AudioSize: 5500, part: []int{2}, encoding: "base64"})
	}
	cfg := Config{Server: "127.0.0.1:993", UserName: "alice", Folder: "INBOX"}
	path := filepath.Join(b.TempDir(), "cache.json")
	require.NoError(b, saveCache(path, cfg, s))
	b.ReportAllocs()
	for b.Loop() {
		got, err := loadCache(path, cfg)
		if err != nil || len(got.Messages) != n {
			b.Fatal(err)
		}
	}
}
