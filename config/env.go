package config

import (
	"strings"
)

// EnvPrefix starts the name of every environment variable [ParseEnv] reads.
const EnvPrefix = "OPENCSF_"

// ParseEnv reads the variables of environ (as from [os.Environ]) named
// EnvPrefix followed by a key name. The key part ignores case and
// underscores, so OPENCSF_SIPREGISTRAR, OPENCSF_SIP_REGISTRAR and
// OPENCSF_SipRegistrar all set SipRegistrar. The result is a source called
// "env", meant for the user layer after the config files. A variable naming
// no key is a [Warning]; a bad value is an [*Error] with Source "env".
// When environ sets a variable twice, the last one wins.
func ParseEnv(environ []string) (*Source, []Warning, error) {
	src := NewSource("env")
	var ws []Warning
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key := strings.ReplaceAll(name[len(EnvPrefix):], "_", "")
		i, ok := byFold[strings.ToLower(key)]
		if !ok {
			ws = append(ws, Warning{Key: name, Source: "env", Msg: "unknown key, ignored"})
			continue
		}
		if err := src.setText(i, val, 0); err != nil {
			return nil, ws, err
		}
	}
	return src, ws, nil
}
