package voicemail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/lab"
)

const fetchHeader = "From: \"Bob\" <5551234@vm>\r\nX-CallerID: \"Bob Q\" <+1555>\r\n\r\n"

var goodFetch = `* 1 FETCH (UID 7 FLAGS (\Seen $Label1) RFC822.SIZE 4711 INTERNALDATE " 5-Nov-2026 09:30:00 +0000" ` +
	`BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 31 1 NIL NIL NIL NIL)` +
	`(("text" "plain" NIL NIL NIL "7bit" 12 1 NIL NIL NIL NIL)("audio" "x-wav" ("name" "msg.wav") NIL NIL "base64" 4000 NIL ("attachment" ("filename" "msg.wav")) NIL NIL) "mixed" ("boundary" "inner") NIL NIL NIL)` +
	` "mixed" ("boundary" "outer") NIL NIL NIL) BODY[HEADER.FIELDS (FROM DATE X-CALLERID)] {` +
	fmt.Sprint(len(fetchHeader)) + "}\r\n" + fetchHeader + ")\r\n"

func TestParseFetch(t *testing.T) {
	r := bufio.NewReader(strings.NewReader(goodFetch))
	resp, err := readResponse(r, nil)
	require.NoError(t, err)
	var a arena
	var f fetched
	ok, err := a.parseFetch(resp, &f)
	require.True(t, ok)
	require.NoError(t, err)
	v := f.voicemail()
	assert.Equal(t, ID(7), v.ID)
	assert.True(t, v.Heard)
	assert.Equal(t, int64(4711), v.Size)
	assert.Equal(t, "Bob Q", v.CallerName)
	assert.Equal(t, "+1555", v.CallerNumber)
	assert.Equal(t, time.Date(2026, 11, 5, 9, 30, 0, 0, time.UTC), v.Date.UTC())
	assert.Equal(t, []int{2, 2}, v.part)
	assert.Equal(t, "audio/x-wav", v.Format.MIMEType)
	assert.Equal(t, "base64", v.encoding)
	assert.Equal(t, int64(4000), v.AudioSize)
	assert.NoError(t, v.Err)

	bad := strings.Replace(goodFetch, `"mixed" ("boundary" "outer")`, `"mixed" ("boundary" "outer"`, 1)
	resp, err = readResponse(bufio.NewReader(strings.NewReader(bad)), nil)
	require.NoError(t, err, "framing survives a syntax error")
	ok, err = a.parseFetch(resp, &f)
	assert.True(t, ok)
	assert.Error(t, err)
	assert.Equal(t, uint32(7), f.uid, "the UID is salvaged")
	assert.Error(t, f.voicemail().Err)
}

func TestReadResponseLimits(t *testing.T) {
	for name, in := range map[string]string{
		"absurd literal":    "* 1 FETCH (UID 1 BODY[] {99999999999}\r\n",
		"huge literal":      fmt.Sprintf("* 1 FETCH (UID 1 BODY[] {%d}\r\n", maxLiteral+1),
		"truncated literal": "* 1 FETCH (UID 1 BODY[] {100}\r\nshort",
		"no line end":       "* 1 FETCH (UID 1",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := readResponse(bufio.NewReader(strings.NewReader(in)), nil)
			assert.Error(t, err)
		})
	}
}

// FuzzFetchResponse feeds arbitrary server output to the listing reader.
// Properties: no panic; and header bytes sent as a literal come back
// exactly, whatever they hold.
func FuzzFetchResponse(f *testing.F) {
	f.Add([]byte(goodFetch), []byte("From: a\r\n"))
	f.Add([]byte("* 1 FETCH (UID 1 BODYSTRUCTURE (\"audio\" \"wav\" NIL NIL NIL \"base64\" 1 NIL NIL NIL NIL))\r\n"), []byte{})
	f.Add([]byte("* 1 FETCH (UID 2 BODY[HEADER.FIELDS (FROM)] {5}\r\nab\r\nc)\r\n* 2 FETCH ((((((\r\n"), []byte("\x00{3}\r\n"))
	f.Fuzz(func(t *testing.T, stream, header []byte) {
		r := bufio.NewReader(bytes.NewReader(stream))
		var a arena
		var fe fetched
		for range 100 {
			resp, err := readResponse(r, nil)
			if len(resp) > 0 {
				if ok, _ := a.parseFetch(resp, &fe); ok {
					_ = fe.voicemail()
				}
			}
			if err != nil {
				break
			}
		}
		// Framing in place agrees with framing by copy.
		if n, ok := wholeResponse(stream); ok {
			resp, err := readResponse(bufio.NewReader(bytes.NewReader(stream)), nil)
			if err != nil || !bytes.Equal(resp, stream[:n]) {
				t.Fatalf("in place %q, by copy %q (%v)", stream[:n], resp, err)
			}
		}
		msg := fmt.Sprintf("* 3 FETCH (UID 9 BODY[HEADER.FIELDS (FROM)] {%d}\r\n%s)\r\n", len(header), header)
		resp, err := readResponse(bufio.NewReader(strings.NewReader(msg)), nil)
		if err != nil {
			t.Fatalf("framing: %v", err)
		}
		ok, err := a.parseFetch(resp, &fe)
		if !ok || err != nil || fe.uid != 9 || !bytes.Equal(fe.header, header) {
			t.Fatalf("literal round trip: ok=%v err=%v uid=%d", ok, err, fe.uid)
		}
	})
}

// fakeIMAP serves one scripted session over TLS from a throwaway lab CA.
func fakeIMAP(t *testing.T, fetch string, hangUp bool) (Config, func()) {
	ca, err := lab.NewCA(t.TempDir())
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(ca.ServerCertPEM(), ca.ServerKeyPEM())
	require.NoError(t, err)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		io.WriteString(conn, "* OK fake ready\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			tag, cmd, _ := strings.Cut(strings.TrimSpace(line), " ")
			switch {
			case strings.HasPrefix(cmd, "EXAMINE"):
				io.WriteString(conn, "* 3 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\n* OK [UIDNEXT 10] ok\r\n"+tag+" OK [READ-ONLY] done\r\n")
			case strings.HasPrefix(cmd, "UID FETCH 1:*"):
				io.WriteString(conn, fetch)
				if hangUp {
					return
				}
				io.WriteString(conn, tag+" OK done\r\n")
			case strings.HasPrefix(cmd, "UID FETCH"):
				io.WriteString(conn, tag+" OK done\r\n")
			default:
				io.WriteString(conn, tag+" OK done\r\n")
			}
		}
	})
	pool := ca.CertPool()
	cfg := Config{Server: l.Addr().String(), UserName: "alice", Password: config.Secret("pw"),
		TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	cfg, err = cfg.check()
	require.NoError(t, err)
	return cfg, func() { l.Close(); wg.Wait() }
}

func TestRawListBadServer(t *testing.T) {
	second := strings.Replace(strings.Replace(goodFetch, "UID 7", "UID 8", 1), `"mixed" ("boundary" "outer")`, `"mixed" ("boundary" "outer"`, 1)
	third := strings.Replace(goodFetch, "UID 7", "UID 9", 1)
	t.Run("malformed message", func(t *testing.T) {
		cfg, stop := fakeIMAP(t, goodFetch+second+third, false)
		defer stop()
		snap, err := rawList(t.Context(), cfg, false)
		require.NoError(t, err)
		assert.Equal(t, uint32(42), snap.UIDValidity)
		require.Len(t, snap.Messages, 3, "the bad message is listed, not dropped")
		assert.NoError(t, snap.Messages[0].Err)
		assert.Error(t, snap.Messages[1].Err)
		assert.NoError(t, snap.Messages[2].Err)
	})
	t.Run("disconnect mid-fetch", func(t *testing.T) {
		half := third[:len(third)/2]
		cfg, stop := fakeIMAP(t, goodFetch+half, true)
		defer stop()
		snap, err := rawList(t.Context(), cfg, false)
		require.Error(t, err)
		require.NotNil(t, snap)
		assert.Len(t, snap.Messages, 1, "what was read before the cut is kept")
	})
	t.Run("cancel", func(t *testing.T) {
		cfg, stop := fakeIMAP(t, goodFetch, false)
		defer stop()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := rawList(ctx, cfg, false)
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// listingResponse builds the response to a listing's UID FETCH of n
// messages as dovecot 2.3 writes it (the short body structure of a text +
// audio/wav attachment, the header fields as a literal after the echoed
// field list), each with its own UID and caller.
func listingResponse(n int) []byte {
	tmpl := "* %d FETCH (UID %d FLAGS () RFC822.SIZE 6058 INTERNALDATE \"25-Nov-2026 11:00:49 +0000\" " +
		"BODY ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 29 0)" +
		"(\"audio\" \"wav\" (\"name\" \"msg0001.wav\") NIL NIL \"base64\" 5532) \"mixed\") " +
		"BODY[HEADER.FIELDS (" + strings.ToUpper(strings.Join(listHeaders, " ")) + ")] {%d}\r\n%s)\r\n"
	var out []byte
	for i := 1; i <= n; i++ {
		h := fmt.Sprintf("From: \"Caller %d\" <555%04d@vm.example.test>\r\nDate: Wed, 25 Nov 2026 09:30:00 +0000\r\n"+
			"Subject: Voice message from Bob\r\nX-Priority: 3\r\nContent-Duration: 1\r\n\r\n", i, i%10000)
		out = fmt.Appendf(out, tmpl, i, i, len(h), h)
	}
	return append(out, "f OK Fetch completed.\r\n"...)
}

// parseListing frames and reads a listing response held in memory as
// fetchSet does: framing, parsing and typed results.
func parseListing(rc *rawConn, resp []byte, n int) ([]Voicemail, error) {
	rc.r = bufio.NewReaderSize(bytes.NewReader(resp), 64<<10)
	var f fetched
	msgs := make([]Voicemail, 0, n)
	for {
		r, used, err := nextResponse(rc.r, rc.buf)
		if used == 0 {
			rc.buf = r
		}
		if err != nil {
			return msgs, err
		}
		if bytes.HasPrefix(r, []byte("f ")) {
			return msgs, nil
		}
		if ok, _ := rc.arena.parseFetch(r, &f); ok && f.uid != 0 {
			msgs = f.appendTo(msgs, &rc.arena)
		}
		_, _ = rc.r.Discard(used)
	}
}

// TestListingParseAllocs holds a listing to a few allocations in all, not
// one per message: the results' slice, and the chunks its strings are
// carved from. The strings of one listing must survive the next on the
// same session, since the chunk is shared.
func TestListingParseAllocs(t *testing.T) {
	const n = 3000
	resp := listingResponse(n)
	rc := &rawConn{}
	first, err := parseListing(rc, resp, n)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(5, func() {
		msgs, err := parseListing(rc, resp, n)
		if err != nil || len(msgs) != n {
			t.Fatalf("%d messages, %v", len(msgs), err)
		}
	})
	if !raceEnabled {
		assert.LessOrEqual(t, allocs, float64(n)/100, "allocations per listing of %d", n)
	}
	require.Len(t, first, n)
	for i, v := range first {
		num := fmt.Sprintf("555%04d", (i+1)%10000)
		if v.CallerName != fmt.Sprintf("Caller %d", i+1) || v.CallerNumber != num || v.Subject != "Voice message from Bob" {
			t.Fatalf("message %d changed after later listings: %q %q %q", i+1, v.CallerName, v.CallerNumber, v.Subject)
		}
	}
}

// BenchmarkListingParse is the CPU of a listing without the network:
// framing, parsing and typed results for n messages of a listing
// response held in memory (VOICEMAIL_BENCH_N, default 10,000).
func BenchmarkListingParse(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("VOICEMAIL_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	resp := listingResponse(n)
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	rc := &rawConn{}
	for b.Loop() {
		msgs, err := parseListing(rc, resp, n)
		if err != nil {
			b.Fatal(err)
		}
		if len(msgs) != n || msgs[n-1].CallerNumber == "" || !msgs[n-1].HasAudio {
			b.Fatalf("%d messages, last %+v", len(msgs), msgs[len(msgs)-1])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1000, "µs/msg")
}
