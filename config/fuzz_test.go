package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// addFiles adds the files matching pattern to the seed corpus.
func addFiles(f *testing.F, pattern string) {
	f.Helper()
	names, err := filepath.Glob(pattern)
	if err != nil || len(names) == 0 {
		f.Fatalf("no seed files %s: %v", pattern, err)
	}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkError asserts the contract for errors: an *Error naming the source,
// with a line, matching one of the sentinels.
func checkError(t *testing.T, err error, name string, needLine bool) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is a %T, not *Error", err, err)
	}
	if ce.Source != name {
		t.Fatalf("error %v names source %q", err, ce.Source)
	}
	if needLine && ce.Line < 1 {
		t.Fatalf("error %v has no line", err)
	}
	if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrBadEncoding) && !errors.Is(err, ErrBadValue) {
		t.Fatalf("error %v matches no sentinel", err)
	}
}

// checkValues asserts that every value of src is of a schema key and has a
// faithful text form: parsing format(v) gives v back.
func checkValues(t *testing.T, src *Source) {
	t.Helper()
	for i, e := range src.values {
		if i < 0 || i >= len(schema) {
			t.Fatalf("value for key index %d outside the schema", i)
		}
		back, err := schema[i].parse(format(e.value))
		if err != nil {
			t.Fatalf("key %s: text form %q of %#v does not parse: %v", schema[i].Name, format(e.value), e.value, err)
		}
		if !equalValue(back, e.value) {
			t.Fatalf("key %s: %#v becomes %#v through its text form", schema[i].Name, e.value, back)
		}
	}
}

func sameValues(t *testing.T, what string, a, b *Source) {
	t.Helper()
	if len(a.values) != len(b.values) {
		t.Fatalf("%s: %d values became %d: %v vs %v", what, len(a.values), len(b.values), a.Keys(), b.Keys())
	}
	for i, e := range a.values {
		if !equalValue(e.value, b.values[i].value) {
			t.Fatalf("%s: key %s: %#v became %#v", what, schema[i].Name, e.value, b.values[i].value)
		}
	}
}

// writeReg writes sources back as a regedit export: REGEDIT4 in UTF-8, or
// version 5 in UTF-16LE. Strings holding a CR are written as hex(1), since
// CRLF in a quoted string reads back as LF.
func writeReg(user, policy *Source, v5 bool) []byte {
	var b strings.Builder
	if v5 {
		b.WriteString(regHeader5 + "\r\n\r\n")
	} else {
		b.WriteString(regHeader4 + "\r\n\r\n")
	}
	for _, s := range []struct {
		key string
		src *Source
	}{{userKey, user}, {policyKey, policy}} {
		b.WriteString(s.key + "\r\n")
		for _, k := range s.src.Keys() {
			text := format(s.src.values[byFold[strings.ToLower(k)]].value)
			if !strings.Contains(text, "\r") {
				text = strings.ReplaceAll(text, `\`, `\\`)
				text = strings.ReplaceAll(text, `"`, `\"`)
				b.WriteString(`"` + k + `"="` + text + "\"\r\n")
				continue
			}
			raw := []byte(text + "\x00")
			if v5 {
				raw = utf16File(text + "\x00")[2:]
			}
			b.WriteString(`"` + k + `"=hex(1):`)
			for i, c := range raw {
				if i > 0 {
					b.WriteString(",")
					if i%20 == 0 {
						b.WriteString("\\\r\n  ")
					}
				}
				fmt.Fprintf(&b, "%02x", c)
			}
			b.WriteString("\r\n")
		}
		b.WriteString("\r\n")
	}
	if v5 {
		return utf16File(b.String())
	}
	return []byte(b.String())
}

func FuzzParseReg(f *testing.F) {
	addFiles(f, "testdata/*.reg")
	addFiles(f, "testdata/fuzz/reg/*")
	f.Add(reg4(userKey, `"UserName"="alice"`, `"SipTransport"=hex(2):74,63,70,00`))
	f.Add(reg5(policyKey, `"PresencePriority"=hex(7):61,00,00,00,62,00,00,00,00,00`, `"Password"=-`))
	f.Add(reg4(userKey, `"ProvisionPollInterval"=hex(b):3c,00,00,00,00,00,00,00`, `@="x"`, "[-"+userKey[1:]))
	f.Add(reg4(userKey, `"LdapBindDN"="cn=a,\`, ` dc=b"`, `"UseSystemTrustStore"=dword:1`))
	f.Fuzz(func(t *testing.T, data []byte) {
		user, policy, ws, err := ParseReg("f.reg", data)
		for _, w := range ws {
			if w.Source != "f.reg" || w.Line < 1 {
				t.Fatalf("warning %+v lacks source or line", w)
			}
			if _, known := LookupKey(w.Key); known {
				t.Fatalf("warning %+v about a schema key", w)
			}
		}
		if err != nil {
			checkError(t, err, "f.reg", true)
			return
		}
		checkValues(t, user)
		checkValues(t, policy)
		for _, v5 := range []bool{false, true} {
			out := writeReg(user, policy, v5)
			u2, p2, _, err := ParseReg("f.reg", out)
			if err != nil {
				t.Fatalf("rewritten file (v5 %v) does not parse: %v\n%q", v5, err, out)
			}
			sameValues(t, "user", user, u2)
			sameValues(t, "policy", policy, p2)
		}
	})
}

// yamlDoc turns a source back into a YAML document of text values.
func yamlDoc(src *Source) map[string]any {
	m := map[string]any{}
	for i, e := range src.values {
		m[schema[i].Name] = format(e.value)
	}
	if len(src.profiles) > 0 {
		users := map[string]any{}
		for n, p := range src.profiles {
			users[n] = yamlDoc(p)
		}
		m[usersKey] = users
	}
	return m
}

func FuzzLoadYAML(f *testing.F) {
	addFiles(f, "testdata/*.yaml")
	addFiles(f, "testdata/fuzz/yaml/*")
	f.Add([]byte("UserName: alice\nPassword: secret1\nSipRegistrar: 127.0.0.1:5060\n"))
	f.Add([]byte("PresencePriority: [a, b]\nUseSystemTrustStore: no\nProvisionPollInterval: 90\nNope: 1\n"))
	f.Add([]byte("base: &b {UserName: x}\n<<: *b\nUsers:\n  bob: {<<: *b, Domain: d}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, ws, err := ParseYAML("f.yaml", data)
		for _, w := range ws {
			if w.Source != "f.yaml" || w.Line < 1 {
				t.Fatalf("warning %+v lacks source or line", w)
			}
			if _, known := LookupKey(w.Key); known {
				t.Fatalf("warning %+v about a schema key", w)
			}
		}
		if err != nil {
			checkError(t, err, "f.yaml", false)
			return
		}
		checkValues(t, src)
		for _, n := range src.Profiles() {
			p, _ := src.Profile(n)
			checkValues(t, p)
		}

		// Every top-level key is in the schema, is Users or a merge key, or
		// was warned about.
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) == nil && doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
			if root := doc.Content[0]; root.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(root.Content); i += 2 {
					k := deref(root.Content[i])
					if _, known := LookupKey(k.Value); known || strings.EqualFold(k.Value, usersKey) || k.ShortTag() == "!!merge" {
						continue
					}
					warned := false
					for _, w := range ws {
						warned = warned || w.Key == k.Value
					}
					if !warned {
						t.Fatalf("unknown key %q loaded without a warning", k.Value)
					}
				}
			}
		}

		// The values survive a trip through YAML.
		out, err := yaml.Marshal(yamlDoc(src))
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		src2, _, err := ParseYAML("f.yaml", out)
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v\n%s", err, out)
		}
		sameValues(t, "top level", src, src2)
		if strings.Join(src.Profiles(), "\x00") != strings.Join(src2.Profiles(), "\x00") {
			t.Fatalf("profiles %q became %q", src.Profiles(), src2.Profiles())
		}
		for _, n := range src.Profiles() {
			p1, _ := src.Profile(n)
			p2, _ := src2.Profile(n)
			sameValues(t, "profile "+n, p1, p2)
		}
	})
}
