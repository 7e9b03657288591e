//go:build !linux

package voicemail

import "net"

// lowWaterFor: other systems' pollers do not all honour SO_RCVLOWAT, so
// only the large read buffer batches there.
func lowWaterFor(*net.TCPConn) lowWater { return nil }
