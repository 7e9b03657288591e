package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencsf/opencsf/dialrules"
)

// provisionFlags are the flags of the commands that read provisioned files.
type provisionFlags struct {
	config, user, cache *string
}

func addProvisionFlags(fs *flag.FlagSet) *provisionFlags {
	return &provisionFlags{
		config: fs.String("config", "", "config file (YAML)"),
		user:   fs.String("user", "", "profile in the config file"),
		cache:  fs.String("cache", "", "provisioning cache directory; empty means the user cache directory"),
	}
}

// cacheDir is --cache, or opencsf/provision under the user cache directory
// found from env's environment.
func (pf *provisionFlags) cacheDir(env *cmdEnv) string {
	if *pf.cache != "" {
		return *pf.cache
	}
	get := func(k string) string {
		for _, kv := range env.environ {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	base := get("XDG_CACHE_HOME")
	if base == "" {
		base = filepath.Join(get("HOME"), ".cache")
	}
	return filepath.Join(base, "opencsf", "provision")
}

// provisionedRules loads the dial rules last fetched by provision fetch.
func provisionedRules(ctx context.Context, env *cmdEnv, pf *provisionFlags, lookup bool) (*dialrules.Rules, error) {
	name := "CUPC/AppDialRules.xml"
	if lookup {
		name = "CUPC/DirLookupDialRules.xml"
	}
	p := filepath.Join(pf.cacheDir(env), filepath.FromSlash(name))
	if _, err := os.Stat(p); err != nil {
		return nil, errNoProvisionedRules
	}
	return loadRulesFile(env, p)
}
