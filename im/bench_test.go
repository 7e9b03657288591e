package im

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/opencsf/opencsf/im/internal/xmltok"
)

// BenchmarkReceiveMessage is the client's receive path for one chat
// message, from bytes to the MessageReceived event (no bus subscriber),
// without network and TLS.
func BenchmarkReceiveMessage(b *testing.B) {
	c := newOfflineClient(b)
	const msg = `<message from='bob@example.test/desk' to='alice@example.test/opencsf' type='chat' id='%08d'>` +
		`<body>Hello Alice, lunch at noon?</body><active xmlns='http://jabber.org/protocol/chatstates'/>` +
		`<stanza-id xmlns='urn:xmpp:sid:0' by='alice@example.test' id='aBcDeFgH%08d'/></message>`
	var stream bytes.Buffer
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if stream.Len() == 0 {
			b.StopTimer()
			for range 1000 {
				stream.WriteString(fmtMsg(msg, n))
				n++
			}
			b.StartTimer()
		}
		b.StopTimer()
		br := bufio.NewReaderSize(&stream, 1024)
		sr := newStanzaReader(xmltok.NewReader(br, nsClient, nil))
		b.StartTimer()
		for range 1000 {
			if err := c.readStanza(sr); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000/1000, "µs/msg")
}

func fmtMsg(format string, n int) string {
	b := []byte(format)
	for range 2 {
		i := bytes.Index(b, []byte("%08d"))
		b = append(b[:i], append([]byte(pad8(n)), b[i+4:]...)...)
	}
	return string(b)
}

func pad8(n int) string {
	s := []byte("00000000")
	for i := 7; i >= 0 && n > 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}
