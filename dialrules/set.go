package dialrules

import (
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Set holds the rules in force and replaces them on reload without a
// restart: the CSF client of CUCM 8.6 read its dial rules only at start.
// Transforms read the current rules through an atomic pointer and never
// wait for a reload; a reload that fails keeps the previous rules and
// records why, for diagnostics.
//
// The zero Set is ready to use and holds no rules (numbers are only
// normalised). A Set must not be copied after first use.
type Set struct {
	// Now returns the time recorded in [Status]; nil means time.Now. Set it
	// before first use.
	Now func() time.Time

	cur atomic.Pointer[Rules]

	mu     sync.Mutex // guards status, and orders the stores to cur with it
	status Status
}

// Status describes a [Set] for diagnostics.
type Status struct {
	Source   string    // name of the rules in force; empty before the first load
	Loaded   time.Time // when they were put in force; zero before the first load
	Rules    int       // how many rules are in force
	Warnings []Warning // warnings from parsing the rules in force

	// LastError is the error of the most recent failed reload, or nil if
	// none failed. It is kept after a later successful reload; compare
	// LastErrorTime with Loaded to tell whether it is current.
	LastError       error
	LastErrorTime   time.Time
	LastErrorSource string
}

func (s *Set) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Rules returns the rules in force, nil if none were loaded. The value is
// immutable: later reloads do not change it.
func (s *Set) Rules() *Rules { return s.cur.Load() }

// Store puts rs in force, as a successful reload named rs.Name() would.
func (s *Set) Store(rs *Rules) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.storeLocked(rs, nil)
}

func (s *Set) storeLocked(rs *Rules, warnings []Warning) {
	s.cur.Store(rs)
	s.status.Source = rs.Name()
	s.status.Loaded = s.now()
	s.status.Rules = rs.Len()
	s.status.Warnings = warnings
}

// Reload parses r with [Parse] and, if it succeeds, puts the new rules in
// force atomically. On error the rules in force stay, and the error, its
// time and name are recorded in [Status]. Reload does not block
// transforms; concurrent reloads apply in the order they finish parsing.
func (s *Set) Reload(name string, r io.Reader) ([]Warning, error) {
	rs, warnings, err := Parse(name, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.status.LastError = err
		s.status.LastErrorTime = s.now()
		s.status.LastErrorSource = name
		return warnings, err
	}
	s.storeLocked(rs, warnings)
	return warnings, nil
}

// Status returns a snapshot of the Set's diagnostics.
func (s *Set) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Warnings = append([]Warning(nil), st.Warnings...)
	return st
}

// Transform applies the rules in force; see [Rules.Transform].
func (s *Set) Transform(number string) (string, error) {
	return s.cur.Load().Transform(number)
}

// AppendTransform applies the rules in force; see [Rules.AppendTransform].
func (s *Set) AppendTransform(dst, number []byte) ([]byte, bool, error) {
	return s.cur.Load().AppendTransform(dst, number)
}

// Explain explains the rules in force; see [Rules.Explain].
func (s *Set) Explain(number string) Explanation {
	return s.cur.Load().Explain(number)
}
