package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Snapshot is the effective configuration at one moment. It is immutable
// and safe for concurrent use. Getters take key names in any case. A getter
// called with an unknown key, or with a key of another type, returns the
// zero value: key names are constants in code, and the tests of the code
// using them catch a typo. The zero Snapshot holds the schema defaults.
type Snapshot struct {
	vals []resolved // by index in schema; nil means defaultSnapshot's
}

// defaultSnapshot holds the defaults alone.
var defaultSnapshot = resolve(&[numLayers][]*Source{})

// values returns s.vals, or the defaults for the zero Snapshot.
func (s *Snapshot) values() []resolved {
	if s.vals == nil {
		return defaultSnapshot.vals
	}
	return s.vals
}

type resolved struct {
	value   any
	origins []Origin // winner first, then the values it shadows, highest first
}

// Origin is one place that sets a key.
type Origin struct {
	Layer  Layer  `json:"layer"`
	Source string `json:"source"`         // file path, "env", "code" or "default"
	Line   int    `json:"line,omitempty"` // 1-based; 0 when the source has no lines
	Value  string `json:"value"`          // text form; a non-empty secret is "[redacted]"
}

// String formats the origin as `"value" (layer source:line)`, leaving out
// the source when it is named after its layer ("default", "code").
func (o Origin) String() string {
	return fmt.Sprintf("%q (%s)", o.Value, o.where())
}

func (o Origin) where() string {
	w := o.Layer.String()
	if o.Source != "" && o.Source != w {
		w += " " + o.Source
		if o.Line > 0 {
			w += fmt.Sprintf(":%d", o.Line)
		}
	}
	return w
}

// Explanation says where a key's effective value comes from and which
// values it shadows.
type Explanation struct {
	Key      string   `json:"key"`    // canonical name
	Value    string   `json:"value"`  // text form; a non-empty secret is "[redacted]"
	Layer    Layer    `json:"layer"`  // layer of the winning source
	Source   string   `json:"source"` // winning source: file path, "env", "code" or "default"
	Line     int      `json:"line,omitempty"`
	Shadowed []Origin `json:"shadowed,omitempty"` // lower-priority values, highest first; ends with the default
}

// String formats the explanation on one line, such as
//
//	SipTransport = "tcp" (policy both.reg:9); shadows "udp" (user both.reg:5), "tls" (default)
func (e Explanation) String() string {
	var b strings.Builder
	w := Origin{Layer: e.Layer, Source: e.Source, Line: e.Line, Value: e.Value}
	fmt.Fprintf(&b, "%s = %s", e.Key, w)
	for i, o := range e.Shadowed {
		if i == 0 {
			b.WriteString("; shadows ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(o.String())
	}
	return b.String()
}

// resolve computes a snapshot: code sources first (the last put first), down
// to the server layer, then the default.
func resolve(layers *[numLayers][]*Source) *Snapshot {
	snap := &Snapshot{vals: make([]resolved, len(schema))}
	for i := range schema {
		var r resolved
		for l := LayerCode; l > LayerDefault; l-- {
			srcs := layers[l]
			for j := len(srcs) - 1; j >= 0; j-- {
				e, ok := srcs[j].values[i]
				if !ok {
					continue
				}
				if r.origins == nil {
					r.value = e.value
				}
				r.origins = append(r.origins, Origin{Layer: l, Source: srcs[j].name, Line: e.line, Value: display(e.value)})
			}
		}
		if r.origins == nil {
			r.value = defaults[i]
		}
		r.origins = append(r.origins, Origin{Layer: LayerDefault, Source: "default", Value: display(defaults[i])})
		snap.vals[i] = r
	}
	return snap
}

func (s *Snapshot) get(key string) (any, bool) {
	i, ok := byFold[strings.ToLower(key)]
	if !ok {
		return nil, false
	}
	return s.values()[i].value, true
}

// String returns the text form of key's value. For string, hostport, url,
// path and enum keys that is the value itself; for others it is the text
// form ("true", "5m0s", "a,b"); for a secret it is "[redacted]" (use
// [Snapshot.Secret]). An unknown key gives "".
func (s *Snapshot) String(key string) string {
	v, ok := s.get(key)
	if !ok {
		return ""
	}
	if sec, ok := v.(Secret); ok {
		return sec.String()
	}
	return format(v)
}

// Secret returns the value of a secret key.
func (s *Snapshot) Secret(key string) Secret {
	v, _ := s.get(key)
	sec, _ := v.(Secret)
	return sec
}

// Bool returns the value of a bool key.
func (s *Snapshot) Bool(key string) bool {
	v, _ := s.get(key)
	b, _ := v.(bool)
	return b
}

// Int returns the value of an int key.
func (s *Snapshot) Int(key string) int {
	v, _ := s.get(key)
	n, _ := v.(int)
	return n
}

// Duration returns the value of a duration key.
func (s *Snapshot) Duration(key string) time.Duration {
	v, _ := s.get(key)
	d, _ := v.(time.Duration)
	return d
}

// List returns a copy of the value of a list key; nil when empty.
func (s *Snapshot) List(key string) []string {
	v, _ := s.get(key)
	l, _ := v.([]string)
	return slices.Clone(l)
}

// Explain says where key's value comes from. ok is false for a key not in
// the schema.
func (s *Snapshot) Explain(key string) (e Explanation, ok bool) {
	i, ok := byFold[strings.ToLower(key)]
	if !ok {
		return Explanation{}, false
	}
	return s.explain(i), true
}

func (s *Snapshot) explain(i int) Explanation {
	r := s.values()[i]
	w := r.origins[0]
	var sh []Origin
	if len(r.origins) > 1 {
		sh = slices.Clone(r.origins[1:])
	}
	return Explanation{Key: schema[i].Name, Value: w.Value, Layer: w.Layer, Source: w.Source, Line: w.Line, Shadowed: sh}
}

// ExplainAll explains every key of the schema, sorted by key name.
func (s *Snapshot) ExplainAll() []Explanation {
	es := make([]Explanation, len(schema))
	for i := range schema {
		es[i] = s.explain(i)
	}
	slices.SortFunc(es, func(a, b Explanation) int { return strings.Compare(a.Key, b.Key) })
	return es
}

// Redacted returns every key's text form by canonical name, with non-empty
// secrets as "[redacted]", for diagnostics and problem reports.
func (s *Snapshot) Redacted() map[string]string {
	m := make(map[string]string, len(schema))
	for i := range schema {
		m[schema[i].Name] = display(s.values()[i].value)
	}
	return m
}

// Changed returns the canonical names of the keys whose values differ
// between s and other, sorted. Changes of provenance alone do not count.
func (s *Snapshot) Changed(other *Snapshot) []string {
	var keys []string
	a, b := s.values(), other.values()
	for i := range schema {
		if !equalValue(a[i].value, b[i].value) {
			keys = append(keys, schema[i].Name)
		}
	}
	slices.Sort(keys)
	return keys
}

func equalValue(a, b any) bool {
	la, okA := a.([]string)
	lb, okB := b.([]string)
	if okA || okB {
		return okA && okB && slices.Equal(la, lb)
	}
	return a == b
}
