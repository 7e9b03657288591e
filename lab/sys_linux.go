package lab

import "syscall"

const supported = true

// groupAttr puts a child in a process group of its own, so that Close can
// stop the server's workers with it. With deathSignal, the child also gets
// SIGTERM when the test binary dies without cleanup (timeout, kill -9):
// SIGTERM rather than SIGKILL, because Kamailio's workers outlive a killed
// master but a terminated one takes them down.
func groupAttr(deathSignal bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if deathSignal {
		a.Pdeathsig = syscall.SIGTERM
	}
	return a
}

// killGroup signals every process in group pgid.
func killGroup(pgid int, sig syscall.Signal) error { return syscall.Kill(-pgid, sig) }
