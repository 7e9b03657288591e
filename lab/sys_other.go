//go:build !linux

package lab

import (
	"errors"
	"syscall"
)

// The lab's servers are Debian packages run as Linux process groups; on
// other systems every server reports itself as not installed, so tests
// skip (or fail under CI=true) with that message.
const supported = false

func groupAttr(bool) *syscall.SysProcAttr { return nil }

func killGroup(int, syscall.Signal) error { return errors.New("lab: process groups need Linux") }
