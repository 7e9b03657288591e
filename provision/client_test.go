package provision

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		has  string
	}{
		{"no server", Config{}, "no provisioning server"},
		{"bad TFTP", Config{TftpServer1: "cucm"}, "TftpServer1"},
		{"bad TFTP 2", Config{TftpServer1: "a:69", TftpServer2: "b"}, "TftpServer2"},
		{"bad URL", Config{HTTPFileServer: "ftp://x/"}, "HTTPFileServer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			assert.ErrorContains(t, err, tc.has)
		})
	}
	_, err := New(Config{})
	assert.ErrorIs(t, err, ErrNoServer)
}

func TestFiles(t *testing.T) {
	c, err := New(Config{TftpServer1: "127.0.0.1:69", UserName: "alice", CacheDir: "-"})
	require.NoError(t, err)
	assert.Equal(t, []string{AppDialRulesFile, DirLookupDialRulesFile, JabberConfigFile, "CSFalice.cnf.xml"}, c.Files())
	c, err = New(Config{TftpServer1: "127.0.0.1:69", DeviceName: "CSFBOB", UserName: "alice", CacheDir: "-"})
	require.NoError(t, err)
	assert.Equal(t, "CSFBOB.cnf.xml", c.Files()[3])
	c, err = New(Config{TftpServer1: "127.0.0.1:69", CacheDir: "-"})
	require.NoError(t, err)
	assert.Len(t, c.Files(), 3, "no device without a name")
}

func TestCloseTwice(t *testing.T) {
	c, err := New(Config{TftpServer1: "127.0.0.1:69", CacheDir: "-"})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.ErrorIs(t, c.Close(), net.ErrClosed)
	assert.ErrorIs(t, c.Start(t.Context()), net.ErrClosed)
}

func TestCachePaths(t *testing.T) {
	c := cache{dir: t.TempDir()}
	for _, bad := range []string{"", "../x", "/etc/passwd", "a/../../b", "index.json", "a//b"} {
		assert.Error(t, c.store(bad, []byte("x"), CacheEntry{}), bad)
	}
	require.NoError(t, c.store("CUPC/AppDialRules.xml", []byte("<DialRules/>"), CacheEntry{SHA256: "x"}))
	idx, err := c.index()
	require.NoError(t, err)
	assert.Equal(t, "x", idx["CUPC/AppDialRules.xml"].SHA256)
}
