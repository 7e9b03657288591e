package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/opencsf/opencsf/dialrules"
)

func init() {
	register(&command{
		path:    "dial",
		summary: "transform numbers with dial rules: dial [--rules FILE] [--lookup] [--explain] NUMBER…",
		run:     runDial,
	})
}

// runDial transforms each number with the application dial rules (with
// --lookup, the directory-lookup rules) and prints one result a line, in
// the order given. The rules come from --rules FILE or, without it, from
// the provisioning cache. A number that cannot be dialled leaves its line
// empty, so that line N still belongs to number N, and makes the command
// fail once every number is printed.
func runDial(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rulesFile := fs.String("rules", "", "dial rules file (AppDialRules.xml, or DirLookupDialRules.xml with --lookup)")
	lookup := fs.Bool("lookup", false, "apply directory-lookup rules instead of application dial rules")
	explain := fs.Bool("explain", false, "say which rule matched and why the others did not")
	pf := addProvisionFlags(fs)
	if err := fs.Parse(args); err != nil {
		return &usageError{msg: err.Error()}
	}
	if pf.common.user != "" && pf.common.configFile == "" {
		return &usageError{msg: "--user needs --config"}
	}
	numbers := fs.Args()
	if len(numbers) == 0 {
		return &usageError{msg: "want at least one NUMBER"}
	}

	var rules *dialrules.Rules
	var err error
	if *rulesFile != "" {
		rules, err = loadRulesFile(env, *rulesFile)
	} else {
		rules, err = provisionedRules(ctx, env, pf, *lookup)
	}
	if err != nil {
		return err
	}

	var bad []string
	for _, n := range numbers {
		if *explain {
			e := rules.Explain(n)
			fmt.Fprint(env.stdout, e.String())
			if e.Err != nil {
				bad = append(bad, n)
			}
			continue
		}
		out, err := rules.Transform(n)
		if err != nil {
			fmt.Fprintln(env.stdout)
			fmt.Fprintln(env.stderr, err)
			bad = append(bad, n)
			continue
		}
		fmt.Fprintln(env.stdout, out)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d of %d numbers cannot be dialled: %s", len(bad), len(numbers), strings.Join(bad, ", "))
	}
	return nil
}

// loadRulesFile parses a dial-rules file, printing its warnings to stderr.
func loadRulesFile(env *cmdEnv, name string) (*dialrules.Rules, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rules, warnings, err := dialrules.Parse(name, f)
	for _, w := range warnings {
		fmt.Fprintf(env.stderr, "warning: %s\n", w)
	}
	if err != nil {
		return nil, err
	}
	return rules, nil
}

// errNoProvisionedRules says that neither --rules nor a provisioning cache
// gave rules.
var errNoProvisionedRules = errors.New("no --rules FILE and no provisioned rules in the cache (run csfctl provision fetch)")
