package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingTB records Skipf and Fatalf instead of ending the test.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper()                           {}
func (r *recordingTB) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recordingTB) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestMissingBinarySkipsOrFailsInCI(t *testing.T) {
	t.Run("skip", func(t *testing.T) {
		t.Setenv("CI", "")
		r := &recordingTB{TB: t}
		requireBinaries(r, "opencsf-no-such-server")
		assert.Contains(t, r.skipped, "opencsf-no-such-server is not installed")
		assert.Empty(t, r.failed)
	})
	t.Run("fail in CI", func(t *testing.T) {
		t.Setenv("CI", "true")
		r := &recordingTB{TB: t}
		requireBinaries(r, "opencsf-no-such-server")
		assert.Contains(t, r.failed, "opencsf-no-such-server is not installed")
		assert.Empty(t, r.skipped)
	})
	t.Run("installed", func(t *testing.T) {
		r := &recordingTB{TB: t}
		requireBinaries(r, "sh")
		assert.Empty(t, r.skipped+r.failed)
	})
}

func TestStartRetriesWhenPortTaken(t *testing.T) {
	in, err := newInstance("fake", "", nil)
	require.NoError(t, err)
	defer in.close()
	tries := 0
	err = in.startRetrying(t.Context(), func() error {
		tries++
		in.configure([]string{"/bin/sh", "-c", "echo 'bind: Address already in use' >&2; exit 1"}, nil,
			func(context.Context) error { return errors.New("not listening") })
		return nil
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, errPortTaken)
	assert.Equal(t, startTries, tries)
	assert.Contains(t, err.Error(), "Address already in use", "the error carries the log")
}

func TestStartFailsWithLogWhenServerExits(t *testing.T) {
	in, err := newInstance("fake", "", nil)
	require.NoError(t, err)
	defer in.close()
	tries := 0
	err = in.startRetrying(t.Context(), func() error {
		tries++
		in.configure([]string{"/bin/sh", "-c", "echo 'config error on line 3' >&2; exit 2"}, nil,
			func(context.Context) error { return errors.New("not listening") })
		return nil
	})
	require.Error(t, err)
	assert.Equal(t, 1, tries, "no retry for other failures")
	assert.Contains(t, err.Error(), "exited before it was ready")
	assert.Contains(t, err.Error(), "config error on line 3")
	assert.True(t, strings.HasPrefix(err.Error(), "lab: fake: "), err.Error())
}

func TestCloseKillsProcessIgnoringSIGTERMAndItsGroup(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the SIGKILL timeout")
	}
	in, err := newInstance("fake", "", nil)
	require.NoError(t, err)
	ports, err := freePorts(1)
	require.NoError(t, err)
	// A parent and a child, both deaf to SIGTERM, the child holding nothing open.
	script := fmt.Sprintf("trap '' TERM; (trap '' TERM; sleep 60) & exec python3 -c 'import signal,socket,time; "+
		"signal.signal(signal.SIGTERM, signal.SIG_IGN); s=socket.socket(); "+
		"s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"127.0.0.1\", %d)); s.listen(); time.sleep(60)'", ports[0])
	in.configure([]string{"/bin/sh", "-c", script}, ports, tcpProbe(ports...))
	require.NoError(t, in.start(t.Context()))
	pid := in.pid()
	require.True(t, groupAlive(pid))
	require.NoError(t, in.close())
	assert.False(t, groupAlive(pid), "group left behind")
	assert.ErrorIs(t, in.close(), net.ErrClosed)
}
