package voicemail

import (
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/stretchr/testify/assert"
)

// parseMailDate must agree with time.Parse on every input it accepts.
func checkMailDate(t *testing.T, s string) {
	got, ok := parseMailDate(s)
	want, err := time.Parse("Mon, 2 Jan 2006 15:04:05 -0700", s)
	if !ok {
		return
	}
	if assert.NoError(t, err, "%q accepted by the fast path only", s) {
		assert.True(t, want.Equal(got), "%q: %v, time.Parse %v", s, got, want)
		_, wo := want.Zone()
		_, go_ := got.Zone()
		assert.Equal(t, wo, go_, "%q: zone offset", s)
		assert.Equal(t, want.Location() == time.Local, got.Location() == time.Local, "%q: local zone", s)
	}
}

func TestParseMailDate(t *testing.T) {
	for _, s := range []string{
		"Wed, 25 Nov 2026 09:30:00 +0000", "Wed, 5 Nov 2026 09:30:00 -0530", "Sat, 29 Feb 2028 23:59:59 +1400",
		"Sun, 31 Dec 1999 00:00:00 +0100",
	} {
		_, ok := parseMailDate(s)
		assert.True(t, ok, s)
		checkMailDate(t, s)
	}
	for _, s := range []string{
		"", "Wed, 25 Nov 2026 09:30:00", "Wed, 31 Nov 2026 09:30:00 +0000", "Wed, 25 Nov 2026 24:00:00 +0000",
		"25 Nov 2026 09:30:00 +0000", "Wed, 25 nov 2026 09:30:00 +0000", "Wed, 25 Nov 2026 09:30:00 +0000 (UTC)",
		"Xyz, 25 Nov 2026 09:30:00 +0000", "Wed, 29 Feb 2027 09:30:00 +0000",
	} {
		_, ok := parseMailDate(s)
		assert.False(t, ok, s)
	}
}

// civilDays must count days as time does, across leap years, centuries
// and year 0.
func TestCivilDays(t *testing.T) {
	for _, year := range []int{0, 1, 4, 99, 100, 1600, 1899, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 9999} {
		for _, md := range [][2]int{{1, 1}, {2, 28}, {2, 29}, {3, 1}, {12, 31}} {
			if md[1] > daysIn(time.Month(md[0]), year) {
				continue
			}
			want := time.Date(year, time.Month(md[0]), md[1], 0, 0, 0, 0, time.UTC).Unix() / 86400 // midnight: exact
			assert.Equal(t, want, civilDays(year, md[0], md[1]), "%04d-%02d-%02d", year, md[0], md[1])
		}
	}
}

func FuzzMailDate(f *testing.F) {
	for _, s := range []string{"Wed, 25 Nov 2026 09:30:00 +0000", "Mon, 1 Jan 2001 00:00:00 -1200", "Fri, 99 Feb 2001 00:00:00 -1200",
		"Tue, 29 Feb 2000 23:59:59 +0000", "Sat, 1 Jan 0000 00:00:00 +0000", "Fri, 31 Dec 9999 23:59:59 -2359"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkMailDate(t, s) })
}

// The local zone's offset is cached per summer-time period: dates on both
// sides of a change, in either order, must still read as time.Parse reads
// them.
func TestParseMailDateAcrossSummerTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err) // time/tzdata is linked into this test
	}
	saved := time.Local
	time.Local = berlin
	lastLocalZone.Store(nil)
	t.Cleanup(func() { time.Local = saved; lastLocalZone.Store(nil) })
	for _, s := range []string{
		"Wed, 25 Nov 2026 09:30:00 +0100", "Sun, 29 Mar 2026 01:59:59 +0100", "Sun, 29 Mar 2026 03:00:00 +0200",
		"Wed, 1 Jul 2026 12:00:00 +0200", "Wed, 1 Jul 2026 12:00:00 +0100", "Wed, 25 Nov 2026 09:30:00 +0200",
		"Sun, 25 Oct 2026 02:59:59 +0200", "Sun, 25 Oct 2026 02:00:00 +0100", "Wed, 25 Nov 2026 09:30:00 +0100",
	} {
		_, ok := parseMailDate(s)
		assert.True(t, ok, s)
		checkMailDate(t, s)
	}
}
