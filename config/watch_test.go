package config

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nextChange waits for the watcher's next report.
func nextChange(t *testing.T, w *Watcher) Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	select {
	case c, ok := <-w.Changes():
		require.True(t, ok, "changes channel closed")
		return c
	case <-ctx.Done():
		t.Fatal("no change reported")
		return Change{}
	}
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "opencsf.yaml")
	reg := filepath.Join(dir, "gpo.reg")
	writeFile(t, yml, "UserName: alice\nSipTransport: udp\n")
	writeFile(t, reg, string(reg4(policyKey, `"Domain"="example.test"`)))
	writeFile(t, filepath.Join(dir, "other.yaml"), "x")

	st := NewStore()
	_, err := st.LoadFile(yml, nil)
	require.NoError(t, err)
	_, err = st.LoadFile(reg, nil)
	require.NoError(t, err)
	w, err := st.Watch(&WatchOptions{Debounce: 20 * time.Millisecond})
	require.NoError(t, err)
	defer w.Close()

	t.Run("write", func(t *testing.T) {
		writeFile(t, yml, "UserName: alice\nSipTransport: tcp\nFavouriteColour: red\n")
		c := nextChange(t, w)
		require.NoError(t, c.Err)
		assert.Equal(t, []string{KeySipTransport}, c.Changed)
		assert.Equal(t, "tcp", c.Snapshot.String(KeySipTransport))
		assert.Equal(t, "tcp", st.Effective().String(KeySipTransport))
		require.Len(t, c.Warnings, 1)
		assert.Equal(t, "FavouriteColour", c.Warnings[0].Key)
	})
	t.Run("bad file keeps last good", func(t *testing.T) {
		writeFile(t, yml, "UserName: mallory\nSipTransport: carrier-pigeon\n")
		c := nextChange(t, w)
		var ce *Error
		require.ErrorAs(t, c.Err, &ce)
		assert.Equal(t, yml, ce.Source)
		assert.Equal(t, 2, ce.Line)
		assert.ErrorIs(t, c.Err, ErrBadValue)
		assert.Empty(t, c.Changed)
		assert.Equal(t, "alice", st.Effective().String(KeyUserName))
		assert.Equal(t, "tcp", c.Snapshot.String(KeySipTransport))
	})
	t.Run("fixed file is reported", func(t *testing.T) {
		writeFile(t, yml, "UserName: alice\nSipTransport: tcp\n")
		c := nextChange(t, w)
		assert.NoError(t, c.Err)
		assert.Empty(t, c.Changed)
	})
	t.Run("editor replaces the file", func(t *testing.T) {
		tmp := filepath.Join(dir, ".opencsf.yaml.swp")
		writeFile(t, tmp, "UserName: bob\nSipTransport: tcp\n")
		require.NoError(t, os.Rename(tmp, yml))
		c := nextChange(t, w)
		require.NoError(t, c.Err)
		assert.Equal(t, []string{KeyUserName}, c.Changed)
		assert.Equal(t, "bob", c.Snapshot.String(KeyUserName))
	})
	t.Run("reg file", func(t *testing.T) {
		writeFile(t, reg, string(reg5(policyKey, `"Domain"="example.org"`, `"UserName"="policy"`)))
		c := nextChange(t, w)
		require.NoError(t, c.Err)
		assert.Equal(t, []string{KeyDomain, KeyUserName}, c.Changed)
		e, _ := c.Snapshot.Explain(KeyUserName)
		assert.Equal(t, LayerPolicy, e.Layer)
		assert.Equal(t, 5, e.Line)
	})
	t.Run("truncated reg file", func(t *testing.T) {
		data := reg5(policyKey, `"Domain"="example.net"`)
		require.NoError(t, os.WriteFile(reg, data[:len(data)-5], 0o600))
		c := nextChange(t, w)
		assert.ErrorIs(t, c.Err, ErrBadEncoding)
		assert.Equal(t, "example.org", st.Effective().String(KeyDomain))
	})

	require.NoError(t, w.Close())
	_, open := <-w.Changes()
	assert.False(t, open, "Changes is closed after Close")
	assert.ErrorIs(t, w.Close(), net.ErrClosed)
}

func TestMergeChange(t *testing.T) {
	s1, s2 := &Snapshot{}, &Snapshot{}
	m := mergeChange(nil, Change{Changed: []string{"B"}, Err: ErrSyntax, Snapshot: s1})
	m = mergeChange(m, Change{Changed: []string{"A", "B"}, Warnings: []Warning{{Key: "x"}}, Snapshot: s2})
	assert.Equal(t, &Change{Changed: []string{"A", "B"}, Warnings: []Warning{{Key: "x"}}, Snapshot: s2}, m)
}

func TestWatchNothing(t *testing.T) {
	w, err := NewStore().Watch(nil)
	require.NoError(t, err)
	require.NoError(t, w.Close())
}
