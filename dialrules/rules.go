package dialrules

import (
	"cmp"
	"math"
	"slices"
)

// Rules is an ordered, validated and compiled list of dial rules. It is
// immutable and safe for concurrent use. A nil *Rules holds no rules: it
// normalises numbers and changes nothing else.
type Rules struct {
	name  string
	rules []Rule // in the order they apply
	pos   []int  // pos[i] is the position of rules[i] in the input, from 1
	nodes []node // trie over BeginsWith; nodes[0] is the root
}

// New validates rules, orders them (explicit priorities first, lowest
// first; ties and rules without a priority keep their order in the slice)
// and compiles them. An invalid rule gives a [*RuleError] whose Rule is its
// position in the slice, counting from 1. New does not keep rules.
func New(rules []Rule) (*Rules, error) {
	return build("", rules)
}

func build(name string, rules []Rule) (*Rules, error) {
	rs := &Rules{name: name, rules: make([]Rule, len(rules)), pos: make([]int, len(rules))}
	for i := range rules {
		if attr, err := rules[i].validate(); err != nil {
			return nil, &RuleError{File: name, Line: rules[i].Line, Attribute: attr, Rule: i + 1, Err: err}
		}
		rs.pos[i] = i + 1
	}
	slices.SortStableFunc(rs.pos, func(a, b int) int {
		return cmp.Compare(sortKey(&rules[a-1]), sortKey(&rules[b-1]))
	})
	for i, p := range rs.pos {
		rs.rules[i] = rules[p-1]
	}
	rs.compile()
	return rs, nil
}

func sortKey(r *Rule) int64 {
	if r.HasPriority {
		return int64(r.Priority)
	}
	return math.MaxInt64
}

// Name returns the name the rules were parsed under, or "" for rules made by
// [New].
func (rs *Rules) Name() string {
	if rs == nil {
		return ""
	}
	return rs.name
}

// Len returns the number of rules.
func (rs *Rules) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.rules)
}

// List returns a copy of the rules in the order they apply.
func (rs *Rules) List() []Rule {
	if rs == nil {
		return nil
	}
	return slices.Clone(rs.rules)
}

// Transform normalises number (see [Normalize]) and applies the first rule
// that matches it. With no match it returns the normalised number. The error
// matches [ErrInvalidNumber].
func (rs *Rules) Transform(number string) (string, error) {
	var out [2 * MaxLen]byte
	res, _, err := appendTransform(rs, out[:0], number)
	if err != nil {
		return "", err
	}
	return string(res), nil
}

// AppendTransform is [Rules.Transform] for hot paths: it appends the result
// to dst and reports whether a rule matched. It does not allocate when dst
// has room for the result (at most 2*[MaxLen] bytes). On error dst is
// returned unchanged and the error matches [ErrInvalidNumber].
func (rs *Rules) AppendTransform(dst, number []byte) ([]byte, bool, error) {
	return appendTransform(rs, dst, number)
}

func appendTransform[S ~string | ~[]byte](rs *Rules, dst []byte, number S) ([]byte, bool, error) {
	var buf numBuf
	n, err := normalize(&buf, number)
	if err != nil {
		return dst, false, err
	}
	num := buf[:n]
	i := rs.match(num)
	if i < 0 {
		return append(dst, num...), false, nil
	}
	r := &rs.rules[i]
	dst = append(dst, r.PrefixWith...)
	return append(dst, num[r.DigitsToRemove:]...), true, nil
}

// The engine is a trie over BeginsWith. Each node holds the rules whose
// BeginsWith ends there: those with NumDigits set, indexed by length, and
// those without. A number walks down the trie along its own characters; the
// rules found on the way are exactly those whose BeginsWith it starts with,
// and the one that comes first in rule order wins. subtreeMin lets the walk
// stop as soon as no deeper rule could come before the best one found.

const noRule = math.MaxInt32

type node struct {
	next       [11]int32 // children for '0'..'9' and '+'; 0 means none
	lenMask    uint64    // bit n-1 set when exact holds a rule for length n
	subtreeMin int32     // lowest rule index at or below this node
	exact      []lenRule // first rule for each NumDigits, sorted by length
	anyLen     []lenRule // rules with NumDigits 0, in order; n is DigitsToRemove
}

type lenRule struct {
	n    int32
	rule int32
}

func symbol(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case c == '+':
		return 10
	}
	return -1
}

func (rs *Rules) compile() {
	rs.nodes = []node{{subtreeMin: noRule}}
	for i := range rs.rules {
		r := &rs.rules[i]
		nd := int32(0)
		rs.nodes[0].subtreeMin = min(rs.nodes[0].subtreeMin, int32(i))
		for j := 0; j < len(r.BeginsWith); j++ {
			sym := symbol(r.BeginsWith[j])
			child := rs.nodes[nd].next[sym]
			if child == 0 {
				child = int32(len(rs.nodes))
				rs.nodes = append(rs.nodes, node{subtreeMin: noRule})
				rs.nodes[nd].next[sym] = child
			}
			nd = child
			rs.nodes[nd].subtreeMin = min(rs.nodes[nd].subtreeMin, int32(i))
		}
		n := &rs.nodes[nd]
		if r.NumDigits == 0 {
			// A rule after one that removes no more digits can never win
			// at this node.
			if k := len(n.anyLen); k == 0 || n.anyLen[k-1].n > int32(r.DigitsToRemove) {
				n.anyLen = append(n.anyLen, lenRule{int32(r.DigitsToRemove), int32(i)})
			}
			continue
		}
		bit := uint64(1) << (r.NumDigits - 1)
		if n.lenMask&bit != 0 {
			continue // an earlier rule has the same conditions
		}
		n.lenMask |= bit
		n.exact = append(n.exact, lenRule{int32(r.NumDigits), int32(i)})
	}
	for i := range rs.nodes {
		slices.SortFunc(rs.nodes[i].exact, func(a, b lenRule) int { return cmp.Compare(a.n, b.n) })
	}
}

// match returns the index of the first rule that applies to num, or -1.
func (rs *Rules) match(num []byte) int {
	if rs == nil || len(rs.rules) == 0 {
		return -1
	}
	best := int32(noRule)
	length := int32(len(num))
	bit := uint64(1) << (length - 1)
	nodes := rs.nodes
	nd := &nodes[0]
	for depth := 0; ; depth++ {
		if nd.lenMask&bit != 0 {
			for _, e := range nd.exact {
				if e.n == length {
					best = min(best, e.rule)
					break
				}
			}
		}
		for _, e := range nd.anyLen {
			if e.rule >= best {
				break
			}
			if e.n <= length {
				best = e.rule
				break
			}
		}
		if depth == len(num) {
			break
		}
		sym := symbol(num[depth])
		if sym < 0 {
			break
		}
		child := nd.next[sym]
		if child == 0 {
			break
		}
		nd = &nodes[child]
		if nd.subtreeMin >= best {
			break
		}
	}
	if best == noRule {
		return -1
	}
	return int(best)
}
