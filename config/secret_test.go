package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	type wrapper struct {
		User string
		Pass Secret
	}
	for _, tc := range []struct {
		name string
		got  string
	}{
		{"String", s.String()},
		{"GoString", s.GoString()},
		{"%s", fmt.Sprintf("%s", s)},
		{"%v", fmt.Sprintf("%v", s)},
		{"%q", fmt.Sprintf("%q", s)},
		{"%x", fmt.Sprintf("%x", s)},
		{"%#v", fmt.Sprintf("%#v", s)},
		{"%+v struct", fmt.Sprintf("%+v", wrapper{"alice", s})},
		{"%#v struct", fmt.Sprintf("%#v", wrapper{"alice", s})},
		{"Println", fmt.Sprintln(s)},
		{"json", func() string { b, _ := json.Marshal(wrapper{"alice", s}); return string(b) }()},
		{"text", func() string { b, _ := s.MarshalText(); return string(b) }()},
		{"slog", func() string {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("login", "password", s)
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("login", "password", s)
			return buf.String()
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.NotContains(t, tc.got, "hunter2")
			assert.Contains(t, tc.got, "[redacted]")
		})
	}
	assert.Equal(t, "hunter2", s.Reveal())
}
