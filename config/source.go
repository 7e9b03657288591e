package config

import (
	"maps"
	"slices"
	"strings"
)

// Source is a set of values with provenance: the name of where they came
// from (a file path, "env", "code") and the 1-based line of each value
// (0 when the source has no lines). Values are parsed to their key's type
// as they are set, so a Source only holds valid values of schema keys.
//
// A Source is not safe for concurrent modification. A [Store] copies the
// sources handed to it, so changing one afterwards has no effect on the
// store. The zero Source is empty and has no name.
type Source struct {
	name     string
	values   map[int]entry      // by index in schema
	profiles map[string]*Source // YAML "Users:" entries; nil if none
}

type entry struct {
	value any
	line  int
}

// NewSource returns an empty source with the given name.
func NewSource(name string) *Source {
	return &Source{name: name, values: map[int]entry{}}
}

// Name returns the name the source was created with.
func (s *Source) Name() string { return s.name }

// Set sets key (any case) to value at no particular line. The value is text
// as in a file (parsed to the key's type) or a value of the key's Go type:
// bool, int, time.Duration, []string or Secret. Errors are [*Error] wrapping
// [ErrUnknownKey] or [ErrBadValue]; the source is unchanged on error.
func (s *Source) Set(key string, value any) error {
	return s.setAt(key, value, 0)
}

func (s *Source) setAt(key string, value any, line int) error {
	i, ok := byFold[strings.ToLower(key)]
	if !ok {
		return &Error{Key: key, Source: s.name, Line: line, Err: ErrUnknownKey}
	}
	v, err := schema[i].convert(value)
	if err != nil {
		return &Error{Key: schema[i].Name, Source: s.name, Line: line, Err: err}
	}
	if s.values == nil {
		s.values = map[int]entry{}
	}
	s.values[i] = entry{value: v, line: line}
	return nil
}

// setText parses text for a key already known to be in the schema.
func (s *Source) setText(i int, text string, line int) error {
	v, err := schema[i].parse(text)
	if err != nil {
		return &Error{Key: schema[i].Name, Source: s.name, Line: line, Err: err}
	}
	if s.values == nil {
		s.values = map[int]entry{}
	}
	s.values[i] = entry{value: v, line: line}
	return nil
}

// Delete removes key from the source; lower layers then show through.
func (s *Source) Delete(key string) {
	if i, ok := byFold[strings.ToLower(key)]; ok {
		delete(s.values, i)
	}
}

// Keys returns the canonical names of the keys set in the source, sorted.
func (s *Source) Keys() []string {
	ks := make([]string, 0, len(s.values))
	for i := range s.values {
		ks = append(ks, schema[i].Name)
	}
	slices.Sort(ks)
	return ks
}

// Get returns the text form of key's value and its line. A secret is
// redacted as in [Snapshot.Redacted]; ok is false if the key is not set.
func (s *Source) Get(key string) (text string, line int, ok bool) {
	i, found := byFold[strings.ToLower(key)]
	if !found {
		return "", 0, false
	}
	e, ok := s.values[i]
	if !ok {
		return "", 0, false
	}
	return display(e.value), e.line, true
}

// Profiles returns the names of the profiles under "Users:" in a YAML
// file, sorted; nil for other sources.
func (s *Source) Profiles() []string {
	return slices.Sorted(maps.Keys(s.profiles))
}

// Profile returns the values of one "Users:" entry of a YAML file as a
// source named "FILE#Users.NAME", meant to be put in the same layer after
// the file's own source. The name is matched exactly.
func (s *Source) Profile(name string) (*Source, bool) {
	p, ok := s.profiles[name]
	if !ok {
		return nil, false
	}
	return p.clone(), true
}

func (s *Source) clone() *Source {
	c := &Source{name: s.name, values: maps.Clone(s.values)}
	if c.values == nil {
		c.values = map[int]entry{}
	}
	if s.profiles != nil {
		c.profiles = make(map[string]*Source, len(s.profiles))
		for n, p := range s.profiles {
			c.profiles[n] = p.clone()
		}
	}
	return c
}
