package tftp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Opcodes, RFC 1350 section 5 and RFC 2347.
const (
	opRRQ   uint16 = 1
	opWRQ   uint16 = 2
	opDATA  uint16 = 3
	opACK   uint16 = 4
	opERROR uint16 = 5
	opOACK  uint16 = 6
)

// Error codes, RFC 1350 appendix and RFC 2347.
const (
	CodeNotDefined        = 0 // see the message
	CodeNotFound          = 1 // file not found
	CodeAccessViolation   = 2
	CodeDiskFull          = 3 // disk full or allocation exceeded
	CodeIllegalOperation  = 4
	CodeUnknownTransferID = 5
	CodeFileExists        = 6
	CodeNoSuchUser        = 7
	CodeOptionsRefused    = 8 // option negotiation refused, RFC 2347
)

// Option limits, RFC 2348 and RFC 2349.
const (
	MinBlksize     = 8
	MaxBlksize     = 65464
	DefaultBlksize = 512 // without the blksize option
)

// maxPacket is the largest packet the decoder accepts: a DATA packet of
// MaxBlksize bytes.
const maxPacket = 4 + MaxBlksize

// errMalformed marks a packet that does not decode.
var errMalformed = errors.New("malformed packet")

// packet is a decoded TFTP packet. Which fields are set depends on op.
type packet struct {
	op      uint16
	file    string            // RRQ, WRQ
	mode    string            // RRQ, WRQ
	options map[string]string // RRQ, WRQ, OACK; names lower case
	block   uint16            // DATA, ACK
	data    []byte            // DATA; aliases the decoded buffer
	code    uint16            // ERROR
	msg     string            // ERROR
}

// parsePacket decodes b. Errors match errMalformed and say what is wrong.
// DATA payloads alias b.
func parsePacket(b []byte) (packet, error) {
	if len(b) < 2 {
		return packet{}, fmt.Errorf("%w: %d bytes", errMalformed, len(b))
	}
	if len(b) > maxPacket {
		return packet{}, fmt.Errorf("%w: %d bytes exceed %d", errMalformed, len(b), maxPacket)
	}
	p := packet{op: binary.BigEndian.Uint16(b)}
	body := b[2:]
	switch p.op {
	case opRRQ, opWRQ:
		fields, err := splitStrings(body)
		if err != nil {
			return packet{}, err
		}
		if len(fields) < 2 || len(fields)%2 != 0 {
			return packet{}, fmt.Errorf("%w: request with %d strings", errMalformed, len(fields))
		}
		p.file, p.mode = fields[0], strings.ToLower(fields[1])
		if p.file == "" {
			return packet{}, fmt.Errorf("%w: empty file name", errMalformed)
		}
		if p.options, err = optionMap(fields[2:]); err != nil {
			return packet{}, err
		}
	case opDATA:
		if len(body) < 2 {
			return packet{}, fmt.Errorf("%w: DATA without block number", errMalformed)
		}
		p.block = binary.BigEndian.Uint16(body)
		p.data = body[2:]
	case opACK:
		if len(body) != 2 {
			return packet{}, fmt.Errorf("%w: ACK of %d bytes", errMalformed, len(b))
		}
		p.block = binary.BigEndian.Uint16(body)
	case opERROR:
		if len(body) < 2 {
			return packet{}, fmt.Errorf("%w: ERROR without code", errMalformed)
		}
		p.code = binary.BigEndian.Uint16(body)
		msg := body[2:]
		// RFC 1350 wants a terminating NUL; servers in the field omit it.
		if i := bytes.IndexByte(msg, 0); i >= 0 {
			msg = msg[:i]
		}
		p.msg = strings.ToValidUTF8(string(msg), "\uFFFD")
	case opOACK:
		fields, err := splitStrings(body)
		if err != nil {
			return packet{}, err
		}
		if len(fields)%2 != 0 {
			return packet{}, fmt.Errorf("%w: OACK with an option without value", errMalformed)
		}
		if p.options, err = optionMap(fields); err != nil {
			return packet{}, err
		}
	default:
		return packet{}, fmt.Errorf("%w: unknown opcode %d", errMalformed, p.op)
	}
	return p, nil
}

// splitStrings splits NUL-terminated strings. Every string must be
// terminated.
func splitStrings(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return nil, fmt.Errorf("%w: string without NUL terminator", errMalformed)
		}
		out = append(out, string(b[:i]))
		b = b[i+1:]
	}
	return out, nil
}

func optionMap(kv []string) (map[string]string, error) {
	if len(kv) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k := strings.ToLower(kv[i])
		if k == "" {
			return nil, fmt.Errorf("%w: empty option name", errMalformed)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%w: option %q twice", errMalformed, k)
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// option names in the order they are sent.
var optionOrder = []string{"blksize", "tsize", "timeout"}

// appendRequest appends a read or write request with the options in
// optionOrder first, then any others sorted.
func appendRequest(dst []byte, op uint16, file, mode string, options map[string]string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, op)
	dst = append(append(dst, file...), 0)
	dst = append(append(dst, mode...), 0)
	return appendOptions(dst, options)
}

func appendOptions(dst []byte, options map[string]string) []byte {
	done := 0
	for _, k := range optionOrder {
		if v, ok := options[k]; ok {
			dst = append(append(dst, k...), 0)
			dst = append(append(dst, v...), 0)
			done++
		}
	}
	if done < len(options) {
		var rest []string
		for k := range options {
			if !slices.Contains(optionOrder, k) {
				rest = append(rest, k)
			}
		}
		slices.Sort(rest)
		for _, k := range rest {
			dst = append(append(dst, k...), 0)
			dst = append(append(dst, options[k]...), 0)
		}
	}
	return dst
}

func appendOACK(dst []byte, options map[string]string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, opOACK)
	return appendOptions(dst, options)
}

func appendData(dst []byte, block uint16, data []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, opDATA)
	dst = binary.BigEndian.AppendUint16(dst, block)
	return append(dst, data...)
}

func appendACK(dst []byte, block uint16) []byte {
	dst = binary.BigEndian.AppendUint16(dst, opACK)
	return binary.BigEndian.AppendUint16(dst, block)
}

func appendError(dst []byte, code uint16, msg string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, opERROR)
	dst = binary.BigEndian.AppendUint16(dst, code)
	return append(append(dst, msg...), 0)
}

// parseOptionInt parses an option value as a decimal in [lo, hi].
func parseOptionInt(name, v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("option %s=%q out of range [%d, %d]", name, v, lo, hi)
	}
	return n, nil
}
