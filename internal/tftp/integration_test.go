package tftp

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opencsf/opencsf/lab"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// TestIntegrationTftpdHPA reads files from tftpd-hpa: one server for all
// subtests.
func TestIntegrationTftpdHPA(t *testing.T) {
	srv := lab.TFTP(t, nil)
	small := []byte(`<DialRules><DialRule BeginsWith="+" NumDigits="12" DigitsToRemove="1" PrefixWith="00"/></DialRules>`)
	large := randomBytes(t, 1<<20+123)
	exact := randomBytes(t, 1428*3)
	require.NoError(t, srv.Put("CUPC/AppDialRules.xml", small))
	require.NoError(t, srv.Put("large.bin", large))
	require.NoError(t, srv.Put("exact.bin", exact))
	require.NoError(t, srv.Put("empty.xml", nil))

	tests := []struct {
		name    string
		client  Client
		file    string
		want    []byte
		blksize int
		tsize   int64
	}{
		{"small", Client{}, "CUPC/AppDialRules.xml", small, 1428, int64(len(small))},
		{"large default blksize", Client{}, "large.bin", large, 1428, int64(len(large))},
		{"large plain RFC 1350", Client{NoOptions: true}, "large.bin", large, 512, -1},
		{"large max blksize", Client{Blksize: MaxBlksize}, "large.bin", large, MaxBlksize, int64(len(large))},
		{"small blksize", Client{Blksize: 100}, "CUPC/AppDialRules.xml", small, 100, int64(len(small))},
		{"exact multiple of blksize", Client{}, "exact.bin", exact, 1428, int64(len(exact))},
		{"empty", Client{}, "empty.xml", []byte{}, 1428, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, res, err := tc.client.Get(t.Context(), srv.Addr, tc.file)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(tc.want, got), "content differs: %d bytes, want %d", len(got), len(tc.want))
			assert.Equal(t, int64(len(tc.want)), res.Size)
			assert.Equal(t, tc.blksize, res.Blksize)
			assert.Equal(t, tc.tsize, res.TSize)
		})
	}

	t.Run("block number rolls over", func(t *testing.T) {
		if testing.Short() {
			t.Skip("70,000 round trips")
		}
		data := randomBytes(t, 70000*8+3)
		require.NoError(t, srv.Put("rollover.bin", data))
		got, res, err := (&Client{Blksize: 8}).Get(t.Context(), srv.Addr, "rollover.bin")
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, got))
		assert.Equal(t, 8, res.Blksize)
	})

	t.Run("missing file", func(t *testing.T) {
		_, _, err := (&Client{}).Get(t.Context(), srv.Addr, "CSFnobody.cnf.xml")
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrNotFound)
		var te *TransferError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, "CSFnobody.cnf.xml", te.File)
		var se *Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, CodeNotFound, se.Code)
		t.Log(err)
	})

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				got, _, err := (&Client{}).Get(t.Context(), srv.Addr, "large.bin")
				if err == nil && !bytes.Equal(got, large) {
					err = fmt.Errorf("transfer %d: content differs", i)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			assert.NoError(t, err)
		}
	})

	t.Run("server restarted", func(t *testing.T) {
		require.NoError(t, srv.Restart(t.Context()))
		got, _, err := (&Client{}).Get(t.Context(), srv.Addr, "CUPC/AppDialRules.xml")
		require.NoError(t, err)
		assert.Equal(t, small, got)
	})

	t.Run("server down", func(t *testing.T) {
		_, _, err := (&Client{Timeout: 50 * time.Millisecond, Retries: 2}).Get(t.Context(), closedPort(t), "CUPC/AppDialRules.xml")
		assert.True(t, errors.Is(err, ErrTimeout), "%v", err)
	})
}

// BenchmarkIntegrationGet reads a 1 MiB file from tftpd-hpa at several
// block sizes.
func BenchmarkIntegrationGet(b *testing.B) {
	srv := lab.TFTP(b, nil)
	data := randomBytes(b, 1<<20)
	if err := srv.Put("bench.bin", data); err != nil {
		b.Fatal(err)
	}
	for _, bs := range []int{512, 1428, 8192, MaxBlksize} {
		b.Run(fmt.Sprintf("blksize=%d", bs), func(b *testing.B) {
			c := &Client{Blksize: bs}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.Get(b.Context(), srv.Addr, "bench.bin"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
