package voicemail

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// parseMailDate reads the Date header in the form voicemail systems write
// it, "Mon, 2 Jan 2006 15:04:05 -0700", and returns what time.Parse with
// that layout returns: the local zone when its offset matches, else a
// fixed zone of the offset. It reports false for anything else (another
// form, a bad day of the week is not checked by time.Parse either), which
// then goes through time.Parse and net/mail. A listing calls it for every
// message; time.Parse costs several times more and allocates a zone for
// every offset that is not local.
func parseMailDate(s string) (time.Time, bool) {
	// "Mon, " weekday, then day of 1 or 2 digits.
	if len(s) < len("Mon, 2 Jan 2006 15:04:05 -0700") || s[3] != ',' || s[4] != ' ' {
		return time.Time{}, false
	}
	if !isWeekday(s[:3]) {
		return time.Time{}, false
	}
	s = s[5:]
	day, ok := digits(s[:1])
	if !ok {
		return time.Time{}, false
	}
	if s[1] != ' ' {
		d2, ok := digits(s[1:2])
		if !ok {
			return time.Time{}, false
		}
		day = day*10 + d2
		s = s[1:]
	}
	// s = " Jan 2006 15:04:05 -0700"
	if len(s) != len(" Jan 2006 15:04:05 -0700")+1 || s[1] != ' ' || s[5] != ' ' || s[10] != ' ' ||
		s[13] != ':' || s[16] != ':' || s[19] != ' ' {
		return time.Time{}, false
	}
	month := monthIndex(s[2:5])
	year, ok1 := digits(s[6:10])
	hour, ok2 := digits(s[11:13])
	minute, ok3 := digits(s[14:16])
	sec, ok4 := digits(s[17:19])
	offH, ok5 := digits(s[21:23])
	offM, ok6 := digits(s[23:25])
	sign := s[20]
	if month == 0 || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || (sign != '+' && sign != '-') ||
		day < 1 || day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 || offM > 59 || offH > 23 {
		return time.Time{}, false
	}
	offset := (offH*60 + offM) * 60
	if sign == '-' {
		offset = -offset
	}
	// time.Unix gives the local zone; time.Date with its normalisation
	// cost more than the rest of the parse.
	return inZone(time.Unix(civilDays(year, month, day)*86400+int64(hour*3600+minute*60+sec-offset), 0), offset), true
}

// inZone is t in the local zone when that has offset (seconds east of
// UTC) at t, as time.Parse does, else in a shared fixed zone of offset.
func inZone(t time.Time, offset int) time.Time {
	if localOffset(t) == offset {
		return t
	}
	return t.In(fixedZone(offset))
}

// localZone is the local zone's offset over one period of it (between two
// changes to or from summer time): the voicemails of a listing mostly fall
// in one, and looking the zone up costs more than the rest of the parsing.
type localZone struct {
	loc        *time.Location // the time.Local it was found in
	start, end int64          // Unix seconds; the period is [start, end)
	offset     int
}

var lastLocalZone atomic.Pointer[localZone]

// localOffset returns the local zone's offset at t, in seconds east of UTC.
func localOffset(t time.Time) int {
	u := t.Unix()
	if z := lastLocalZone.Load(); z != nil && z.loc == time.Local && z.start <= u && u < z.end {
		return z.offset
	}
	lt := t.In(time.Local)
	_, offset := lt.Zone()
	start, end := lt.ZoneBounds()
	z := &localZone{loc: time.Local, start: math.MinInt64, end: math.MaxInt64, offset: offset}
	if !start.IsZero() {
		z.start = start.Unix()
	}
	if !end.IsZero() {
		z.end = end.Unix()
	}
	lastLocalZone.Store(z)
	return offset
}

func isWeekday(s string) bool {
	switch s {
	case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
		return true
	}
	return false
}

func monthIndex(s string) int {
	switch s {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

// civilDays counts the days from 1970-01-01 to the given date of the
// proleptic Gregorian calendar, by 400-year eras whose years start on
// 1 March (so that the leap day ends a year).
func civilDays(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	if year < 0 {
		era = (year - 399) / 400
	}
	yoe := year - era*400 // [0, 399]
	m := month - 3
	if month <= 2 {
		m = month + 9
	}
	doy := (153*m+2)/5 + day - 1           // [0, 365], from 1 March
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return int64(era)*146097 + int64(doe) - 719468
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, len(s) > 0
}

// zones holds the fixed zones made so far, by offset in seconds: there are
// only a few dozen offsets in use.
var zones sync.Map

func fixedZone(offset int) *time.Location {
	if z, ok := zones.Load(offset); ok {
		return z.(*time.Location)
	}
	z, _ := zones.LoadOrStore(offset, time.FixedZone("", offset))
	return z.(*time.Location)
}
