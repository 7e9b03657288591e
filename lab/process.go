package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Timeouts for a server child process.
const (
	readyTimeout = 15 * time.Second       // start to listening, when ctx has no earlier deadline
	pollInterval = 20 * time.Millisecond  // between readiness probes
	stopTimeout  = 5 * time.Second        // SIGTERM to SIGKILL
	termRepeat   = 250 * time.Millisecond // SIGTERM again while the process lives
	portsTimeout = 3 * time.Second        // Restart: waiting for the old ports to be free
	logTailBytes = 8 << 10                // how much log an error carries
	startTries   = 3                      // attempts when a picked port was taken meanwhile
	probeTimeout = 250 * time.Millisecond // one readiness probe
)

// errPortTaken marks a start that failed because a port picked as free was taken
// between picking and binding; the caller picks new ports and tries again.
var errPortTaken = errors.New("port taken")

// instance is one server: a directory it owns and, while running, a child process in
// its own process group whose stdout and stderr go to dir/server.log.
type instance struct {
	name      string // "prosody": for errors and logs
	dir       string
	removeDir bool // dir was made by the lab and goes on Close
	logPath   string
	logger    *slog.Logger

	mu     sync.Mutex // guards argv, probe, run and closed
	argv   []string
	probe  func(ctx context.Context) error // nil error: the server is ready
	tcp    []int                           // ports that must be free before a restart
	run    *run
	closed bool
}

// run is one execution of the child process.
type run struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // Wait's result; read only after done is closed

	watchdog *exec.Cmd // nil if it could not be started
	armed    *os.File  // write end of the watchdog's stdin; closing it fires the watchdog
}

// watchdogScript kills process group $1 when its stdin reaches end of file, which
// happens when the test binary exits by any means, even SIGKILL or a test timeout
// that skips cleanup. The kernel's parent-death signal alone is not enough: it reaches
// only the main process, and Kamailio's main process sometimes fails to pass SIGTERM on
// to a worker it has just forked, then waits for it forever.
const watchdogScript = `read -r _; kill -TERM -- "-$1" 2>/dev/null; sleep 1; kill -KILL -- "-$1" 2>/dev/null`

// startWatchdog starts the watchdog of process group pgid, in a group of its own.
func (r *run) startWatchdog(pgid int) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	w := exec.Command("/bin/sh", "-c", watchdogScript, "opencsf-lab-watchdog", strconv.Itoa(pgid))
	w.Stdin = pr
	w.SysProcAttr = groupAttr(false)
	err = w.Start()
	pr.Close()
	if err != nil {
		pw.Close()
		return err
	}
	r.watchdog, r.armed = w, pw
	return nil
}

// disarm stops the watchdog without letting it fire.
func (r *run) disarm() {
	if r.watchdog == nil {
		return
	}
	_ = r.watchdog.Process.Kill()
	_ = r.watchdog.Wait()
	r.armed.Close()
	r.watchdog = nil
}

// newInstance prepares the directory of a server: dir if set, else a fresh temporary
// directory removed on close. As root, the directory is made traversable (0711) for
// servers that drop privileges.
func newInstance(name, dir string, logger *slog.Logger) (*instance, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	in := &instance{name: name, logger: logger.With("server", name)}
	if dir == "" {
		d, err := os.MkdirTemp("", "opencsf-lab-"+name+"-")
		if err != nil {
			return nil, fmt.Errorf("lab: %s: %w", name, err)
		}
		dir, in.removeDir = d, true
	} else if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("lab: %s: %w", name, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", name, err)
	}
	in.dir = abs
	in.logPath = filepath.Join(abs, "server.log")
	if err := os.Chmod(abs, 0o711); err != nil {
		in.cleanup()
		return nil, fmt.Errorf("lab: %s: %w", name, err)
	}
	if err := traversableTempParents(abs); err != nil {
		in.cleanup()
		return nil, fmt.Errorf("lab: %s: %w", name, err)
	}
	return in, nil
}

// traversableTempParents lets other users pass through the parents of dir that lie
// inside the temporary directory, when running as root: t.TempDir() returns a 0700
// directory inside another 0700 one, which servers that drop privileges (Dovecot's
// auth and mail processes) cannot enter. It adds search permission only, not read.
func traversableTempParents(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	tmp, err := filepath.Abs(os.TempDir())
	if err != nil {
		return err
	}
	for p := filepath.Dir(dir); strings.HasPrefix(p, tmp+string(filepath.Separator)); p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o011); err != nil {
				return err
			}
		}
	}
	return nil
}

func (in *instance) path(elem ...string) string {
	return filepath.Join(append([]string{in.dir}, elem...)...)
}

// mkdirs makes directories under the instance directory.
func (in *instance) mkdirs(mode os.FileMode, elems ...string) error {
	for _, e := range elems {
		if err := os.MkdirAll(in.path(e), mode); err != nil {
			return err
		}
		if err := os.Chmod(in.path(e), mode); err != nil {
			return err
		}
	}
	return nil
}

// configure sets what the next start runs and how readiness is seen.
func (in *instance) configure(argv []string, tcp []int, probe func(ctx context.Context) error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.argv, in.tcp, in.probe = argv, tcp, probe
}

// start runs the configured command and waits until the probe succeeds, the process
// exits, ctx ends or readyTimeout passes. On failure nothing is left running and the
// error carries the tail of the server log.
func (in *instance) start(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return fmt.Errorf("lab: %s: %w", in.name, net.ErrClosed)
	}
	if in.run != nil {
		return fmt.Errorf("lab: %s: already running", in.name)
	}
	began := time.Now()
	logf, err := os.OpenFile(in.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("lab: %s: %w", in.name, err)
	}
	offset, _ := logf.Seek(0, io.SeekEnd)
	cmd := exec.Command(in.argv[0], in.argv[1:]...)
	cmd.Dir = in.dir
	cmd.Stdout, cmd.Stderr = logf, logf // files, so no copying goroutines outlive the process
	cmd.SysProcAttr = groupAttr(true)
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return fmt.Errorf("lab: %s: start %s: %w", in.name, in.argv[0], err)
	}
	r := &run{cmd: cmd, done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	if err := r.startWatchdog(cmd.Process.Pid); err != nil {
		// The parent-death signal still covers the main process.
		in.logger.Warn("lab server without watchdog", "err", err.Error())
	}

	if err := in.waitReady(ctx, r); err != nil {
		r.stop()
		tail := in.logSince(offset)
		if strings.Contains(tail, "in use") || strings.Contains(tail, "Failed to open server port") {
			err = fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return fmt.Errorf("lab: %s: %w\n--- %s log ---\n%s", in.name, err, in.name, tail)
	}
	in.run = r
	in.logger.Info("lab server started", "pid", cmd.Process.Pid, "dir", in.dir, "took", time.Since(began))
	return nil
}

func (in *instance) waitReady(ctx context.Context, r *run) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		pctx, pcancel := context.WithTimeout(ctx, probeTimeout)
		err := in.probe(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-r.done:
			return fmt.Errorf("exited before it was ready: %v", r.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last probe: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// stop ends a run: SIGTERM to the main process, SIGKILL after stopTimeout, then
// SIGKILL to whatever is left of its process group. It returns once the main process
// has been reaped.
func (r *run) stop() {
	r.disarm()
	pid := r.cmd.Process.Pid
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	// A worker still setting up may miss the SIGTERM its master passes on (Kamailio's
	// main process then waits for it forever): say it again to the whole group.
	again := time.NewTicker(termRepeat)
	defer again.Stop()
wait:
	for {
		select {
		case <-r.done:
			break wait
		case <-again.C:
			_ = killGroup(pid, syscall.SIGTERM)
		case <-t.C:
			_ = r.cmd.Process.Kill()
			<-r.done
			break wait
		}
	}
	// Workers that outlived their master (or were slow to notice) go too. The group id
	// is the old main pid; the group exists as long as any member does.
	_ = killGroup(pid, syscall.SIGKILL)
	waitGroupGone(pid, stopTimeout)
}

// waitGroupGone waits until no live process is left in process group pgid, or timeout.
// Zombies do not count: orphans are reaped by init, which may be slow or never do it
// in a container, and they hold no ports or files.
func waitGroupGone(pgid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if !groupAlive(pgid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval) // no event tells us when another process's orphans die
	}
}

// groupAlive reports whether /proc lists a live process in group pgid.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	want := strconv.Itoa(pgid)
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 2 && f[2] == want && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// stop ends the running process, if any. Safe to call when not running.
func (in *instance) stop() {
	in.mu.Lock()
	r := in.run
	in.run = nil
	in.mu.Unlock()
	if r != nil {
		r.stop()
		in.logger.Info("lab server stopped", "pid", r.cmd.Process.Pid)
	}
}

// restart stops the process and starts it again with the same command, once the
// listening ports are free again.
func (in *instance) restart(ctx context.Context) error {
	in.stop()
	in.mu.Lock()
	ports := in.tcp
	in.mu.Unlock()
	if err := waitPortsFree(ctx, ports); err != nil {
		return fmt.Errorf("lab: %s: restart: %w", in.name, err)
	}
	return in.start(ctx)
}

// close stops the process and removes the directory when the lab made it. A second
// call returns an error matching net.ErrClosed.
func (in *instance) close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return fmt.Errorf("lab: %s: %w", in.name, net.ErrClosed)
	}
	in.closed = true
	in.mu.Unlock()
	in.stop()
	return in.cleanup()
}

func (in *instance) cleanup() error {
	if !in.removeDir {
		return nil
	}
	if err := os.RemoveAll(in.dir); err != nil {
		return fmt.Errorf("lab: %s: %w", in.name, err)
	}
	return nil
}

// pid returns the main process id, or 0 when not running.
func (in *instance) pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.run == nil {
		return 0
	}
	return in.run.cmd.Process.Pid
}

// log returns everything the server wrote to stdout and stderr, over all its runs.
func (in *instance) log() string { return in.logSince(0) }

func (in *instance) logSince(offset int64) string {
	b, err := os.ReadFile(in.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if offset > int64(len(b)) {
		offset = 0
	}
	b = b[offset:]
	if len(b) > logTailBytes {
		b = append([]byte("…"), b[len(b)-logTailBytes:]...)
	}
	return string(b)
}

// startRetrying calls setup (which picks ports and writes config) and starts, picking
// new ports when one was taken between picking and binding.
func (in *instance) startRetrying(ctx context.Context, setup func() error) error {
	var err error
	for range startTries {
		if err = setup(); err != nil {
			return fmt.Errorf("lab: %s: %w", in.name, err)
		}
		if err = in.start(ctx); err == nil || !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return err
}

// tcpProbe is ready when every port accepts a TCP connection on 127.0.0.1.
func tcpProbe(ports ...int) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		for _, p := range ports {
			c, err := d.DialContext(ctx, "tcp", hostPort(p))
			if err != nil {
				return err
			}
			c.Close()
		}
		return nil
	}
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", fmt.Sprint(port)) }

// The ports handed out by this process, so that servers started in parallel never get
// the same one: the kernel may return a port again as soon as its probe socket closes.
var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// freePorts returns n ports on 127.0.0.1 that are free for both TCP and UDP now.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100 {
			return nil, errors.New("no free port on 127.0.0.1")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick port: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", hostPort(p))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		portsMu.Lock()
		taken := portsGiven[p]
		portsGiven[p] = true
		portsMu.Unlock()
		if !taken {
			ports = append(ports, p)
		}
	}
	return ports, nil
}

// waitPortsFree waits until every TCP port can be bound on 127.0.0.1 again.
func waitPortsFree(ctx context.Context, ports []int) error {
	ctx, cancel := context.WithTimeout(ctx, portsTimeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		busy := 0
		for _, p := range ports {
			l, err := net.Listen("tcp", hostPort(p))
			if err != nil {
				busy = p
				break
			}
			l.Close()
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("port %d still in use: %w", busy, ctx.Err())
		case <-tick.C:
		}
	}
}

// binary finds a server program on PATH or in the sbin directories, which are not on
// every user's PATH.
func lookBinary(name string) (string, error) {
	if !supported {
		return "", fmt.Errorf("lab: %s: the lab runs servers on Linux only: %w", name, exec.ErrNotFound)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("lab: %s not installed: %w", name, exec.ErrNotFound)
}

func writeFile(path, content string, mode os.FileMode) error {
	return os.WriteFile(path, []byte(content), mode)
}
