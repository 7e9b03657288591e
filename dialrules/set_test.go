package dialrules

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSetZero(t *testing.T) {
	var s Set
	assert.Nil(t, s.Rules())
	got, err := s.Transform("555 1234")
	require.NoError(t, err)
	assert.Equal(t, "5551234", got)
	assert.Equal(t, Status{}, s.Status())
}

func TestSetReload(t *testing.T) {
	clock := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	s := &Set{Now: func() time.Time { clock = clock.Add(time.Minute); return clock }}

	warnings, err := s.Reload("AppDialRules.xml", strings.NewReader(`<DialRules><DialRule NumDigits="7" PrefixWith="9" Site="hq"/></DialRules>`))
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	got, err := s.Transform("555-1234")
	require.NoError(t, err)
	assert.Equal(t, "95551234", got)
	st := s.Status()
	assert.Equal(t, "AppDialRules.xml", st.Source)
	assert.Equal(t, 1, st.Rules)
	assert.Equal(t, time.Date(2026, 11, 25, 9, 1, 0, 0, time.UTC), st.Loaded)
	assert.Equal(t, warnings, st.Warnings)
	assert.NoError(t, st.LastError)

	// A bad file keeps the rules in force and is recorded.
	old := s.Rules()
	_, err = s.Reload("AppDialRules.xml.new", strings.NewReader(`<DialRules><DialRule NumDigits="7" DigitsToRemove="9"/></DialRules>`))
	require.ErrorIs(t, err, ErrInvalidRule)
	assert.Same(t, old, s.Rules())
	got, err = s.Transform("555-1234")
	require.NoError(t, err)
	assert.Equal(t, "95551234", got)
	st = s.Status()
	assert.Equal(t, "AppDialRules.xml", st.Source)
	assert.Equal(t, time.Date(2026, 11, 25, 9, 1, 0, 0, time.UTC), st.Loaded)
	assert.ErrorIs(t, st.LastError, ErrInvalidRule)
	assert.Equal(t, "AppDialRules.xml.new", st.LastErrorSource)
	assert.Equal(t, time.Date(2026, 11, 25, 9, 2, 0, 0, time.UTC), st.LastErrorTime)

	// A good file replaces them; the old failure stays visible but older.
	_, err = s.Reload("AppDialRules.xml", strings.NewReader(`<DialRules><DialRule NumDigits="7" PrefixWith="8"/></DialRules>`))
	require.NoError(t, err)
	got, err = s.Transform("555-1234")
	require.NoError(t, err)
	assert.Equal(t, "85551234", got)
	st = s.Status()
	assert.Empty(t, st.Warnings)
	assert.True(t, st.Loaded.After(st.LastErrorTime))
	assert.Equal(t, "95551234", must(old.Transform("5551234")), "old rules are immutable")

	// Status is a snapshot.
	st.Warnings = append(st.Warnings, Warning{})
	assert.Empty(t, s.Status().Warnings)

	s.Store(nil)
	got, err = s.Transform("555-1234")
	require.NoError(t, err)
	assert.Equal(t, "5551234", got)
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// TestSetConcurrentReload transforms from several goroutines while others
// reload good and bad files; run with -race. Every result must come from one
// rule set or the other, never a mixture.
func TestSetConcurrentReload(t *testing.T) {
	files := []string{
		`<DialRules><DialRule NumDigits="7" PrefixWith="9"/><DialRule NumDigits="10" PrefixWith="91"/></DialRules>`,
		`<DialRules><DialRule NumDigits="7" PrefixWith="8"/><DialRule NumDigits="10" PrefixWith="81"/></DialRules>`,
		`<DialRules><DialRule NumDigits="7" DigitsToRemove="8"/></DialRules>`,
	}
	var s Set
	_, err := s.Reload("a", strings.NewReader(files[0]))
	require.NoError(t, err)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan string, 8)
	for range 4 {
		wg.Go(func() {
			dst := make([]byte, 0, 2*MaxLen)
			for {
				select {
				case <-stop:
					return
				default:
				}
				rs := s.Rules()
				a, _ := rs.Transform("5551234")
				b, _ := rs.Transform("4085551234")
				if a[0] != b[0] {
					errs <- a + " " + b
					return
				}
				dst, _, _ = s.AppendTransform(dst[:0], []byte("555-1234"))
				if dst[0] != '9' && dst[0] != '8' {
					errs <- string(dst)
					return
				}
				_ = s.Status()
			}
		})
	}
	for i := range 300 {
		_, _ = s.Reload("f", strings.NewReader(files[i%len(files)]))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error("mixed result:", e)
	}
	assert.ErrorIs(t, s.Status().LastError, ErrInvalidRule)
}
