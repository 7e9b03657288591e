package dialrules

import (
	"bytes"
	"testing"
)

// The benchmarks run the generated rules (112 of them, see genRules) on
// 4096 pasted-style numbers; one op is one number. Compare
// BenchmarkTransform/compiled with BenchmarkTransform/regexp, which applies
// the same rules as anchored regular expressions tried in order, and
// /naive, the first-match scan without the trie.

func benchInputs(b *testing.B) (*Rules, []string, [][]byte) {
	b.Helper()
	rs, err := New(genRules())
	if err != nil {
		b.Fatal(err)
	}
	numbers := genNumbers(4096, 42)
	raw := make([][]byte, len(numbers))
	for i, n := range numbers {
		raw[i] = []byte(n)
	}
	return rs, numbers, raw
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "numbers/s")
}

func BenchmarkTransform(b *testing.B) {
	rs, numbers, raw := benchInputs(b)

	b.Run("compiled", func(b *testing.B) {
		b.ReportAllocs()
		dst := make([]byte, 0, 2*MaxLen)
		i := 0
		for b.Loop() {
			var err error
			dst, _, err = rs.AppendTransform(dst[:0], raw[i&4095])
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
		reportRate(b)
	})

	b.Run("compiled-string", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := rs.Transform(numbers[i&4095]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		reportRate(b)
	})

	b.Run("naive", func(b *testing.B) {
		b.ReportAllocs()
		list := rs.List()
		i := 0
		for b.Loop() {
			if _, _, ok := refTransform(list, numbers[i&4095]); !ok {
				b.Fatal(numbers[i&4095])
			}
			i++
		}
		reportRate(b)
	})

	b.Run("regexp", func(b *testing.B) {
		b.ReportAllocs()
		rr := newRegexpRules(rs.List())
		i := 0
		for b.Loop() {
			if _, ok := rr.transform(numbers[i&4095]); !ok {
				b.Fatal(numbers[i&4095])
			}
			i++
		}
		reportRate(b)
	})
}

func BenchmarkParse(b *testing.B) {
	rs, _, _ := benchInputs(b)
	var doc bytes.Buffer
	if _, err := rs.WriteTo(&doc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(doc.Len()))
	for b.Loop() {
		if _, _, err := Parse("bench", bytes.NewReader(doc.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}
