//go:build unix

package voicemail

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
)

// BenchmarkIntegrationNotifyCyrus measures the new-voicemail notification
// latency with IDLE against Cyrus IMAP, whose idled wakes IDLE sessions as
// soon as lmtpd has stored a message: from the start of an LMTP delivery
// to the MessageArrived event, as BenchmarkIntegrationNotify does against
// dovecot (whose IDLE waits 500 ms before reporting new mail). Each
// iteration delivers one message and waits for its event; the median,
// 90th and 99th percentile go out as metrics, with the median of our own
// share (server notification to event). The peers, measured in the same
// run: "bare-idle", a TLS socket in IDLE that only waits for the EXISTS
// line (the floor any client can reach against this server), and
// "dovecot", our client against dovecot's LMTP. "ratio" lines compare the
// medians of one run.
func BenchmarkIntegrationNotifyCyrus(b *testing.B) {
	cy := lab.Cyrus(b, nil)
	wav := testWAV(EncodingMuLaw, 8000, 1)
	msg := buildMsg(msgSpec{Audio: wav, From: `"Gus" <5550188@vm.example.test>`})
	medians := map[string]time.Duration{}

	b.Run("cyrus", func(b *testing.B) {
		cfg := cyrusConfig(b, cy, "alice", false)
		medians["cyrus"] = notifyLatency(b, cfg, func(b *testing.B) {
			require.NoError(b, cy.Deliver(b.Context(), "alice", msg))
		})
	})
	b.Run("bare-idle", func(b *testing.B) {
		cfg := cyrusConfig(b, cy, "bob", false)
		idle := bareIdle(b, cy.TLSAddr, cy.CA().ClientTLS("example.test"), cfg)
		var lat []time.Duration
		for b.Loop() {
			if !settle(b) {
				return
			}
			began := time.Now()
			require.NoError(b, cy.Deliver(b.Context(), "bob", msg))
			require.NoError(b, idle())
			lat = append(lat, time.Since(began))
		}
		medians["bare-idle"] = reportLatency(b, lat)
	})
	b.Run("dovecot", func(b *testing.B) {
		d := lab.Dovecot(b, nil)
		if d.LMTPAddr == "" {
			b.Skip("dovecot-lmtpd is not installed")
		}
		cfg := labConfig(b, d, "alice", false)
		medians["dovecot"] = notifyLatency(b, cfg, func(b *testing.B) {
			require.NoError(b, d.DeliverLMTP(b.Context(), "alice", msg))
		})
	})
	ours, bare, dove := medians["cyrus"], medians["bare-idle"], medians["dovecot"]
	if ours > 0 && bare > 0 && dove > 0 {
		b.Logf("ratio: LMTP delivery to MessageArrived, median: cyrus %v = %.2f× a bare IDLE socket's %v against cyrus, %.3f× our client against dovecot (%v)",
			ours, float64(ours)/float64(bare), bare, float64(ours)/float64(dove), dove)
	}
}

// bareIdle logs in over TLS, selects INBOX and enters IDLE; the function
// it returns waits for the next "* n EXISTS" and re-enters IDLE, so that
// the next call again waits in IDLE. Nothing is parsed beyond that line.
func bareIdle(b *testing.B, addr string, conf *tls.Config, cfg Config) func() error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	require.NoError(b, err)
	b.Cleanup(func() { conn.Close() })
	r := bufio.NewReader(conn)
	until := func(prefix string) (string, error) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(line, prefix) {
				return line, nil
			}
		}
	}
	cmd := func(tag, line string) {
		_, err := fmt.Fprintf(conn, "%s %s\r\n", tag, line)
		require.NoError(b, err)
		got, err := until(tag + " ")
		require.NoError(b, err)
		require.True(b, strings.HasPrefix(got, tag+" OK"), "%s", got)
	}
	_, err = until("* OK")
	require.NoError(b, err)
	cmd("a", fmt.Sprintf("LOGIN %q %q", cfg.UserName, cfg.Password.Reveal()))
	cmd("b", "SELECT INBOX")
	enter := func() error {
		if _, err := fmt.Fprint(conn, "i IDLE\r\n"); err != nil {
			return err
		}
		_, err := until("+")
		return err
	}
	require.NoError(b, enter())
	return func() error {
		for {
			line, err := until("* ")
			if err != nil {
				return err
			}
			if strings.HasSuffix(strings.TrimRight(line, "\r\n"), " EXISTS") {
				break
			}
		}
		// Leave IDLE and enter it again: outside the timed span's end,
		// which is the EXISTS line.
		if _, err := fmt.Fprint(conn, "DONE\r\n"); err != nil {
			return err
		}
		if _, err := until("i "); err != nil {
			return err
		}
		return enter()
	}
}
