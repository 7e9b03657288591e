package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/opencsf/opencsf/config"
)

func init() {
	register(&command{
		path:    "config explain",
		summary: "show each key's effective value, layer and source",
		run:     configExplain,
	})
}

// configExplain loads the given sources over the defaults, in command-line
// order within their layers, and explains the effective configuration.
func configExplain(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("config explain", flag.ContinueOnError)
	common := addCommonFlags(fs)
	var files, regs multiFlag
	fs.Var(&files, "file", "YAML config `FILE` for the user layer (repeatable)")
	fs.Var(&regs, "reg", "regedit export `FILE`; AdminData keys go to the user layer, Policies to the policy layer (repeatable)")
	policy := fs.String("policy", "", "YAML config `FILE` for the policy layer")
	asJSON := fs.Bool("json", false, "print a JSON array of {key, value, layer, source, line, shadowed}")
	all := fs.Bool("all", false, "also list keys left at their defaults")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return &usageError{"at most one KEY"}
	}
	st, err := common.store(env)
	if err != nil {
		return err
	}
	load := func(path string, opts *config.LoadOptions) error {
		if _, err := os.Stat(path); err != nil {
			return err
		}
		ws, err := st.LoadFile(path, opts)
		warn(env, ws)
		return err
	}
	for _, f := range files {
		if err := load(f, &config.LoadOptions{Layer: config.LayerUser}); err != nil {
			return err
		}
	}
	for _, f := range regs {
		if err := load(f, &config.LoadOptions{Reg: true}); err != nil {
			return err
		}
	}
	if *policy != "" {
		if err := load(*policy, &config.LoadOptions{Layer: config.LayerPolicy}); err != nil {
			return err
		}
	}
	snap := st.Effective()
	var out []config.Explanation
	if key := fs.Arg(0); key != "" {
		e, ok := snap.Explain(key)
		if !ok {
			return fmt.Errorf("unknown key %q", key)
		}
		out = append(out, e)
	} else {
		for _, e := range snap.ExplainAll() {
			if *all || e.Layer != config.LayerDefault {
				out = append(out, e)
			}
		}
	}
	if *asJSON {
		if out == nil {
			out = []config.Explanation{}
		}
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tLAYER\tSOURCE\tSHADOWS")
	for _, e := range out {
		src := e.Source
		if e.Line > 0 {
			src = fmt.Sprintf("%s:%d", src, e.Line)
		}
		var shadows []string
		for _, o := range e.Shadowed {
			if o.Layer != config.LayerDefault {
				shadows = append(shadows, fmt.Sprintf("%s=%q (%s)", o.Layer, o.Value, o.Source))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Key, e.Value, e.Layer, src, strings.Join(shadows, "; "))
	}
	return tw.Flush()
}
