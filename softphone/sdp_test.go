package softphone

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNegotiate(t *testing.T) {
	ours := []codec{{"PCMU", 0, 8000}, {"PCMA", 8, 8000}}
	for _, tc := range []struct {
		name    string
		sdp     string
		codec   string
		dtmf    int
		dir     direction
		wantErr error
	}{
		{"pcma first", "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", "PCMA", 101, sendrecv, nil},
		{"static without rtpmap", "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n", "PCMU", -1, sendonly, nil},
		{"media-level connection", "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\na=inactive\r\n", "PCMU", -1, inactive, nil},
		{"only opus", "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n", "", -1, sendrecv, ErrNoCodec},
		{"no audio", "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n", "", -1, sendrecv, ErrBadSDP},
		{"no address", "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n", "", -1, sendrecv, ErrBadSDP},
		{"garbage", "hello", "", -1, sendrecv, ErrBadSDP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rm, err := parseSDP([]byte(tc.sdp))
			if err == nil {
				var cd codec
				cd, err = choose(rm, ours)
				if err == nil {
					assert.Equal(t, tc.codec, cd.name)
					assert.Equal(t, tc.dtmf, rm.dtmfPT)
					assert.Equal(t, tc.dir, rm.dir)
				}
			}
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestAnswerDirection(t *testing.T) {
	for _, tc := range []struct{ offer, want, got direction }{
		{sendrecv, sendrecv, sendrecv},
		{sendonly, sendrecv, recvonly},
		{recvonly, sendrecv, sendonly},
		{inactive, sendrecv, inactive},
		{sendrecv, sendonly, sendonly},
		{sendonly, sendonly, inactive},
	} {
		assert.Equal(t, tc.got, tc.offer.answer(tc.want), "offer %s, want %s", tc.offer, tc.want)
	}
}

// FuzzSDP checks that any description is either refused with ErrBadSDP or
// negotiated into an answer that parses back to what we chose.
func FuzzSDP(f *testing.F) {
	f.Add("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp:4005\r\n")
	f.Add("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\na=recvonly\r\n")
	ours := []codec{{"PCMU", 0, 8000}, {"PCMA", 8, 8000}}
	f.Fuzz(func(t *testing.T, s string) {
		rm, err := parseSDP([]byte(s))
		if err != nil {
			require.ErrorIs(t, err, ErrBadSDP)
			return
		}
		cd, err := choose(rm, ours)
		if err != nil {
			require.ErrorIs(t, err, ErrNoCodec)
			return
		}
		ans := localMedia{sessionID: 1, version: 2, ip: "127.0.0.1", port: 5000, codecs: []codec{cd}, dtmfPT: rm.dtmfPT, dir: rm.dir.answer(sendrecv)}
		back, err := parseSDP(ans.marshal())
		require.NoError(t, err)
		got, err := choose(back, ours)
		require.NoError(t, err)
		assert.Equal(t, cd, got)
		assert.Equal(t, ans.dir, back.dir)
		assert.Equal(t, rm.dtmfPT, back.dtmfPT)
	})
}
