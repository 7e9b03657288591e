package main

import (
	"flag"
	"fmt"

	"github.com/opencsf/opencsf/config"
)

// commonFlags are taken by every subcommand.
type commonFlags struct {
	configFile string
	user       string
}

func addCommonFlags(fs *flag.FlagSet) *commonFlags {
	c := &commonFlags{}
	fs.StringVar(&c.configFile, "config", "", "config `FILE` (YAML or .reg)")
	fs.StringVar(&c.user, "user", "", "use the profile `NAME` from the config file's Users map")
	return c
}

// store loads the layers every subcommand sees: defaults, the config file
// (with the chosen profile), then OPENCSF_* variables. Warnings go to
// stderr; they never stop a command.
func (c *commonFlags) store(env *cmdEnv) (*config.Store, error) {
	st := config.NewStore()
	if c.configFile != "" {
		ws, err := st.LoadFile(c.configFile, &config.LoadOptions{Profile: c.user})
		warn(env, ws)
		if err != nil {
			return nil, err
		}
	} else if c.user != "" {
		return nil, &usageError{"--user needs --config"}
	}
	ws, err := st.LoadEnv(env.environ)
	warn(env, ws)
	if err != nil {
		return nil, err
	}
	return st, nil
}

func warn(env *cmdEnv, ws []config.Warning) {
	for _, w := range ws {
		fmt.Fprintf(env.stderr, "warning: %s\n", w)
	}
}

// parseFlags parses args and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, env *cmdEnv, args []string) error {
	fs.SetOutput(env.stderr)
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	return nil
}

// multiFlag collects a repeated flag in order.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
