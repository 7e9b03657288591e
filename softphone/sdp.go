package softphone

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/opencsf/opencsf/softphone/internal/opus"
)

// codec is an audio codec we can carry.
type codec struct {
	name string
	pt   uint8
	rate uint32
}

var knownCodecs = func() []codec {
	cs := []codec{{"PCMU", 0, 8000}, {"PCMA", 8, 8000}}
	if opus.Available {
		// RFC 7587 section 7: always opus/48000/2 in SDP, whatever is sent.
		cs = append(cs, codec{"opus", 111, 48000})
	}
	return cs
}()

// CodecAvailable reports whether codec name ("PCMU", "PCMA", "opus") can
// be listed in Config.Codecs in this build: Opus needs the build tag
// "opus", cgo and libopus.
func CodecAvailable(name string) bool {
	_, ok := codecByName(name)
	return ok
}

// dtmfPT is the payload type we offer for telephone-event (RFC 4733).
const dtmfPT = 101

func codecByName(name string) (codec, bool) {
	for _, c := range knownCodecs {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return codec{}, false
}

// direction is an SDP media direction (RFC 3264 section 5.1).
type direction string

const (
	sendrecv direction = "sendrecv"
	sendonly direction = "sendonly"
	recvonly direction = "recvonly"
	inactive direction = "inactive"
)

func (d direction) sends() bool    { return d == sendrecv || d == sendonly }
func (d direction) receives() bool { return d == sendrecv || d == recvonly }

// reverse is the direction an answerer takes toward an offer, given what
// it wants itself (RFC 3264 section 6.1).
func (d direction) answer(want direction) direction {
	send := want.sends() && d.receives()
	recv := want.receives() && d.sends()
	switch {
	case send && recv:
		return sendrecv
	case send:
		return sendonly
	case recv:
		return recvonly
	}
	return inactive
}

// offerCodec is one payload type of a media line.
type offerCodec struct {
	pt   uint8
	name string
	rate uint32
}

// remoteMedia is what we use from the far end's session description.
type remoteMedia struct {
	ip      string
	port    int
	rtcp    int // RTCP port: a=rtcp, else port+1
	codecs  []offerCodec
	dtmfPT  int // -1 when no telephone-event at 8000 Hz
	dir     direction
	version uint64
	savp    bool // RTP/SAVP: SRTP
	cryptos []sdesCrypto
	// ssrc is the first SSRC the far end names (a=ssrc, RFC 5576), 0 when
	// none; rtcpMux is true when it offers or accepts RTCP on the RTP
	// port (a=rtcp-mux, RFC 5761).
	ssrc    uint32
	rtcpMux bool
}

// parseSDP reads the first audio stream of a session description. Port 0
// means the stream was refused or is disabled.
func parseSDP(b []byte) (*remoteMedia, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadSDP)
	}
	var s sdp.SessionDescription
	if err := s.UnmarshalString(string(b)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	rm := &remoteMedia{dtmfPT: -1, dir: sendrecv, version: s.Origin.SessionVersion}
	if s.ConnectionInformation != nil && s.ConnectionInformation.Address != nil {
		rm.ip = s.ConnectionInformation.Address.Address
	}
	for _, a := range s.Attributes {
		if d, ok := parseDirection(a.Key); ok {
			rm.dir = d
		}
	}
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		if m.ConnectionInformation != nil && m.ConnectionInformation.Address != nil {
			rm.ip = m.ConnectionInformation.Address.Address
		}
		rm.port = m.MediaName.Port.Value
		rm.rtcp = rm.port + 1
		rm.savp = strings.Join(m.MediaName.Protos, "/") == "RTP/SAVP"
		rtpmap := map[uint8]offerCodec{}
		for _, a := range m.Attributes {
			switch {
			case a.Key == "rtpmap":
				pt, name, rate, ok := parseRTPMap(a.Value)
				if ok {
					rtpmap[pt] = offerCodec{pt, name, rate}
				}
			case a.Key == "crypto":
				if c, ok := parseCrypto(a.Value); ok {
					rm.cryptos = append(rm.cryptos, c)
				}
			case a.Key == "ssrc":
				id, _, _ := strings.Cut(a.Value, " ")
				if n, err := strconv.ParseUint(id, 10, 32); err == nil && n != 0 && rm.ssrc == 0 {
					rm.ssrc = uint32(n)
				}
			case a.Key == "rtcp-mux":
				rm.rtcpMux = true
			case a.Key == "rtcp":
				if n, err := strconv.Atoi(strings.Fields(a.Value + " ")[0]); err == nil && n > 0 && n < 65536 {
					rm.rtcp = n
				}
			default:
				if d, ok := parseDirection(a.Key); ok {
					rm.dir = d
				}
			}
		}
		for _, f := range m.MediaName.Formats {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 127 {
				continue
			}
			oc, ok := rtpmap[uint8(n)]
			if !ok {
				// Static payload types need no rtpmap (RFC 3551 table 4).
				switch n {
				case 0:
					oc = offerCodec{0, "PCMU", 8000}
				case 8:
					oc = offerCodec{8, "PCMA", 8000}
				default:
					continue
				}
			}
			if strings.EqualFold(oc.name, "telephone-event") && oc.rate == 8000 && rm.dtmfPT < 0 {
				rm.dtmfPT = int(oc.pt)
				continue
			}
			rm.codecs = append(rm.codecs, oc)
		}
		if rm.ip == "" || (rm.port != 0 && net.ParseIP(rm.ip) == nil) {
			return nil, fmt.Errorf("%w: audio stream without a usable connection address", ErrBadSDP)
		}
		if rm.port < 0 || rm.port > 65535 {
			return nil, fmt.Errorf("%w: port %d", ErrBadSDP, rm.port)
		}
		rm.keepOwnCopies()
		return rm, nil
	}
	return nil, fmt.Errorf("%w: no audio stream", ErrBadSDP)
}

// keepOwnCopies replaces the strings rm shares with the parsed text by
// copies (the codec names we know by our own constants): a call keeps its
// remoteMedia, and a substring would keep the whole description alive.
func (rm *remoteMedia) keepOwnCopies() {
	rm.ip = strings.Clone(rm.ip)
	for i := range rm.codecs {
		oc := &rm.codecs[i]
		if cd, ok := codecByName(oc.name); ok && cd.name == oc.name {
			oc.name = cd.name
		} else {
			oc.name = strings.Clone(oc.name)
		}
	}
	for i := range rm.cryptos {
		rm.cryptos[i].suite = strings.Clone(rm.cryptos[i].suite)
	}
}

// parseDirection returns our constant, not key itself: a call keeps the
// direction, and key is a substring of the whole description.
func parseDirection(key string) (direction, bool) {
	for _, d := range [...]direction{sendrecv, sendonly, recvonly, inactive} {
		if string(d) == key {
			return d, true
		}
	}
	return "", false
}

// parseRTPMap reads "0 PCMU/8000" or "101 telephone-event/8000/1".
func parseRTPMap(v string) (pt uint8, name string, rate uint32, ok bool) {
	num, rest, found := strings.Cut(strings.TrimSpace(v), " ")
	if !found {
		return 0, "", 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > 127 {
		return 0, "", 0, false
	}
	parts := strings.Split(strings.TrimSpace(rest), "/")
	if len(parts) < 2 || parts[0] == "" {
		return 0, "", 0, false
	}
	r, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return 0, "", 0, false
	}
	return uint8(n), parts[0], uint32(r), true
}

// choose picks the codec for an answer: the offerer's first choice among
// ours (RFC 3264 section 6.1 lets the answerer keep the offer's order).
func choose(rm *remoteMedia, ours []codec) (codec, error) {
	for _, oc := range rm.codecs {
		for _, c := range ours {
			if strings.EqualFold(oc.name, c.name) && oc.rate == c.rate {
				c.pt = oc.pt
				return c, nil
			}
		}
	}
	return codec{}, ErrNoCodec
}

// localMedia is what we put in our own session description.
type localMedia struct {
	sessionID uint64
	version   uint64
	ip        string
	port      int
	codecs    []codec
	dtmfPT    int // -1: none
	dir       direction
	crypto    *sdesCrypto // non-nil: RTP/SAVP with this key
	// ssrc, when not 0, is announced (a=ssrc with a CNAME, RFC 5576) so a
	// far end sharing one port among calls can find our stream; rtcpMux
	// offers (or, in an answer, accepts) RTCP on the RTP port (RFC 5761).
	ssrc    uint32
	rtcpMux bool
}

// marshal writes the description: one audio stream, RTP/AVP.
func (l localMedia) marshal() []byte {
	formats := make([]string, 0, len(l.codecs)+1)
	attrs := make([]sdp.Attribute, 0, len(l.codecs)+4)
	for _, c := range l.codecs {
		formats = append(formats, strconv.Itoa(int(c.pt)))
		if c.name == "opus" {
			attrs = append(attrs, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d opus/48000/2", c.pt)))
			continue
		}
		attrs = append(attrs, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/%d", c.pt, c.name, c.rate)))
	}
	if l.dtmfPT >= 0 {
		formats = append(formats, strconv.Itoa(l.dtmfPT))
		attrs = append(attrs,
			sdp.NewAttribute("rtpmap", fmt.Sprintf("%d telephone-event/8000", l.dtmfPT)),
			sdp.NewAttribute("fmtp", fmt.Sprintf("%d 0-16", l.dtmfPT)))
	}
	attrs = append(attrs, sdp.NewAttribute("ptime", "20"), sdp.NewPropertyAttribute(string(l.dir)))
	if l.rtcpMux {
		attrs = append(attrs, sdp.NewPropertyAttribute("rtcp-mux"))
	}
	if l.ssrc != 0 {
		// RFC 7022: a CNAME of no meaning beyond this session.
		attrs = append(attrs, sdp.NewAttribute("ssrc", fmt.Sprintf("%d cname:%x@opencsf", l.ssrc, l.sessionID)))
	}
	protos := []string{"RTP", "AVP"}
	if l.crypto != nil {
		protos = []string{"RTP", "SAVP"}
		attrs = append(attrs, sdp.NewAttribute("crypto", l.crypto.value()))
	}
	addrType := "IP4"
	if ip := net.ParseIP(l.ip); ip != nil && ip.To4() == nil {
		addrType = "IP6"
	}
	s := sdp.SessionDescription{
		Origin: sdp.Origin{Username: "opencsf", SessionID: l.sessionID, SessionVersion: l.version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: l.ip},
		SessionName: "call",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType,
			Address: &sdp.Address{Address: l.ip}},
		TimeDescriptions: []sdp.TimeDescription{{}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: l.port},
				Protos: protos, Formats: formats},
			Attributes: attrs,
		}},
	}
	b, _ := s.Marshal()
	return b
}
