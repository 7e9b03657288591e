package main

import (
	"archive/zip"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReportRedactsSecrets(t *testing.T) {
	cfg := writeTemp(t, "c.yaml", "UserName: alice\nPassword: hunter2\nUsers:\n  bob: {UserName: bob, Password: s3cr3t-bob}\n")
	out := filepath.Join(t.TempDir(), "report.zip")
	code, stdout, stderr := runCmd(t, nil, "report", "--config", cfg, "--user", "bob", "--out", out)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "SERVICE")

	zr, err := zip.OpenReader(out)
	require.NoError(t, err)
	defer zr.Close()
	var all strings.Builder
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
		rc, err := f.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		all.Write(b)
	}
	assert.Equal(t, map[string]bool{"about.txt": true, "snapshot.json": true, "config.json": true, "log.txt": true}, names)
	assert.Contains(t, all.String(), `"UserName": "bob"`)
	assert.NotContains(t, all.String(), "hunter2")
	assert.NotContains(t, all.String(), "s3cr3t-bob")

	code, _, _ = runCmd(t, nil, "report", "--user", "bob")
	assert.Equal(t, 2, code, "--user without --config is a usage error")
}
