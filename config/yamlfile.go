package config

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// usersKey is the top-level YAML key holding profiles.
const usersKey = "Users"

// ParseYAML parses a YAML config file called name (used in errors and as
// the source name):
//
//	UserName: alice
//	Password: secret1
//	SipRegistrar: 127.0.0.1:5060
//	PresencePriority: [phone, availability]   # or "phone,availability"
//	Users:                                    # optional profiles
//	  bob: {UserName: bob, Password: secret2}
//
// Keys ignore case. A value is parsed to its key's type and keeps its line.
// A null value (`Key:` or `Key: ~`) leaves the key unset in this source. A
// list key takes a sequence or a comma-separated string; other keys take
// scalars. Merge keys (`<<: *anchor`) work in the top level and in profiles.
// The "Users:" entries become profiles of the returned source (see
// [Source.Profile]), each validated like the top level.
//
// Unknown keys are [Warning]s. Errors are [*Error] naming the file and line
// and wrapping [ErrSyntax], [ErrBadEncoding] or [ErrBadValue].
func ParseYAML(name string, data []byte) (*Source, []Warning, error) {
	p := &yamlParser{name: name, merges: new(int)}
	src, err := p.parse(data)
	if err != nil {
		return nil, p.warnings, err
	}
	return src, p.warnings, nil
}

type yamlParser struct {
	name     string
	warnings []Warning
	merges   *int // mappings merged so far, shared with profile parsers
}

// Merge keys may refer to mappings that merge others in turn: a few lines
// can ask for exponential work. These bound the nesting and the total.
const (
	maxMergeDepth = 8
	maxMerges     = 1000
)

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *yamlParser) errorf(line int, err error) error {
	return &Error{Source: p.name, Line: line, Err: err}
}

func (p *yamlParser) parse(data []byte) (*Source, error) {
	bom := bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) ||
		bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF})
	if !bom && !utf8.Valid(data) {
		line := 1
		for len(data) > 0 {
			r, n := utf8.DecodeRune(data)
			if r == utf8.RuneError && n <= 1 {
				break
			}
			if r == '\n' {
				line++
			}
			data = data[n:]
		}
		return nil, p.errorf(line, encodingf("file is not valid UTF-8"))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		return nil, p.errorf(line, syntaxf("%s", msg))
	}
	src := NewSource(p.name)
	if doc.Kind == 0 {
		return src, nil // empty file
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if isNull(root) {
		return src, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root.Line, syntaxf("top level must be a mapping of keys to values"))
	}
	if err := p.mapping(src, root, true, 0); err != nil {
		return nil, err
	}
	return src, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// deref follows an alias; the result keeps no line of its own, so callers
// report the alias's line.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// mapping puts the pairs of n into src. Explicit keys win over merged ones;
// top says whether "Users:" is allowed.
func (p *yamlParser) mapping(src *Source, n *yaml.Node, top bool, depth int) error {
	seen := map[string]int{} // lower-case key → line
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.errorf(n.Content[i].Line, syntaxf("a key must be a plain name"))
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		fold := strings.ToLower(k.Value)
		if first, dup := seen[fold]; dup {
			return p.errorf(n.Content[i].Line, syntaxf("duplicate key %s (first at line %d)", k.Value, first))
		}
		seen[fold] = n.Content[i].Line
		if err := p.pair(src, k.Value, n.Content[i].Line, v, top, depth); err != nil {
			return err
		}
	}
	return p.merge(src, merges, seen, top, depth)
}

// merge applies merge keys: entries of the referenced mappings that the
// mapping does not set itself, the first mapping of a sequence winning.
func (p *yamlParser) merge(src *Source, merges []*yaml.Node, seen map[string]int, top bool, depth int) error {
	if len(merges) == 0 {
		return nil
	}
	if depth >= maxMergeDepth {
		return p.errorf(merges[0].Line, syntaxf("merge keys nested too deeply"))
	}
	var maps []*yaml.Node
	for _, m := range merges {
		switch d := deref(m); d.Kind {
		case yaml.MappingNode:
			maps = append(maps, d)
		case yaml.SequenceNode:
			for _, it := range d.Content {
				if it := deref(it); it.Kind == yaml.MappingNode {
					maps = append(maps, it)
				} else {
					return p.errorf(m.Line, syntaxf("a merge key takes mappings"))
				}
			}
		default:
			return p.errorf(m.Line, syntaxf("a merge key takes mappings"))
		}
	}
	for _, m := range maps {
		if *p.merges++; *p.merges > maxMerges {
			return p.errorf(m.Line, syntaxf("too many merge keys"))
		}
		// Merge into a scratch source, then copy what is not yet set.
		tmp := NewSource(src.name)
		if err := p.mapping(tmp, m, top, depth+1); err != nil {
			return err
		}
		for i, e := range tmp.values {
			fold := strings.ToLower(schema[i].Name)
			if _, ok := seen[fold]; !ok {
				seen[fold] = e.line
				src.values[i] = e
			}
		}
		for name, prof := range tmp.profiles {
			if _, ok := src.profiles[name]; !ok && !seenFold(seen, usersKey) {
				if src.profiles == nil {
					src.profiles = map[string]*Source{}
				}
				src.profiles[name] = prof
			}
		}
	}
	return nil
}

func seenFold(seen map[string]int, key string) bool {
	_, ok := seen[strings.ToLower(key)]
	return ok
}

// pair handles one key: value pair.
func (p *yamlParser) pair(src *Source, key string, keyLine int, v *yaml.Node, top bool, depth int) error {
	if top && strings.EqualFold(key, usersKey) {
		return p.users(src, v, depth)
	}
	i, ok := byFold[strings.ToLower(key)]
	if !ok {
		p.warnings = append(p.warnings, Warning{Key: key, Source: p.name, Line: keyLine, Msg: "unknown key, ignored"})
		return nil
	}
	line := v.Line
	d := deref(v)
	k := &schema[i]
	switch d.Kind {
	case yaml.ScalarNode:
		if isNull(d) {
			delete(src.values, i)
			return nil
		}
		if err := src.setText(i, d.Value, line); err != nil {
			err.(*Error).Source = p.name // a profile's source name is not a file
			return err
		}
		return nil
	case yaml.SequenceNode:
		if k.Type != TypeList {
			return &Error{Key: k.Name, Source: p.name, Line: line, Err: badValuef("a list is not a valid %v value", k.Type)}
		}
		items := make([]string, 0, len(d.Content))
		for _, it := range d.Content {
			it := deref(it)
			if it.Kind != yaml.ScalarNode {
				return &Error{Key: k.Name, Source: p.name, Line: it.Line, Err: badValuef("a list item must be a scalar")}
			}
			if !isNull(it) {
				items = append(items, it.Value)
			}
		}
		lv, err := listValue(items)
		if err != nil {
			return &Error{Key: k.Name, Source: p.name, Line: line, Err: err}
		}
		src.values[i] = entry{value: lv, line: line}
		return nil
	}
	return &Error{Key: k.Name, Source: p.name, Line: line, Err: badValuef("a mapping is not a valid %v value", k.Type)}
}

// users reads the profiles under "Users:".
func (p *yamlParser) users(src *Source, v *yaml.Node, depth int) error {
	d := deref(v)
	if isNull(d) {
		return nil
	}
	if d.Kind != yaml.MappingNode {
		return p.errorf(v.Line, syntaxf("%s must map profile names to keys", usersKey))
	}
	if src.profiles == nil {
		src.profiles = map[string]*Source{}
	}
	for i := 0; i+1 < len(d.Content); i += 2 {
		k, pv := deref(d.Content[i]), d.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.errorf(d.Content[i].Line, syntaxf("a profile name must be a plain name"))
		}
		if _, dup := src.profiles[k.Value]; dup {
			return p.errorf(d.Content[i].Line, syntaxf("duplicate profile %s", k.Value))
		}
		prof := NewSource(src.name + "#" + usersKey + "." + k.Value)
		sub := &yamlParser{name: p.name, merges: p.merges}
		switch pd := deref(pv); {
		case isNull(pd):
		case pd.Kind == yaml.MappingNode:
			if err := sub.mapping(prof, pd, false, depth); err != nil {
				p.warnings = append(p.warnings, sub.warnings...)
				return err
			}
		default:
			return p.errorf(pv.Line, syntaxf("profile %s must be a mapping of keys to values", k.Value))
		}
		p.warnings = append(p.warnings, sub.warnings...)
		src.profiles[k.Value] = prof
	}
	return nil
}
