//go:build !linux

package softphone

import "net"

// gsoMaxSegments: no UDP segmentation offload outside Linux.
const gsoMaxSegments = 1

func gsoSupported(*net.UDPConn) bool { return false }

var gsoControlLen = 0

func putGSOControl([]byte, int) {}
