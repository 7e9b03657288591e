package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
)

// serviceFactories are the services csfctl can run in a framework, added by
// the files of the subcommands that use them.
var serviceFactories = map[string]func(snap *config.Snapshot) (csf.ServiceSpec, bool){}

// registerService adds a service factory; the factory reports false when
// the configuration does not set the service up (no server named).
func registerService(name string, f func(snap *config.Snapshot) (csf.ServiceSpec, bool)) {
	serviceFactories[name] = f
}

func init() {
	register(&command{
		path:    "report",
		summary: "start the configured services, print their state and write a problem report",
		run:     report,
	})
}

// newFramework builds a framework with every configured service.
func newFramework(env *cmdEnv, st *config.Store, logger *slog.Logger) (*csf.Framework, error) {
	snap := st.Effective()
	trust, err := csf.TrustFromSettings(snap)
	if err != nil {
		return nil, err
	}
	fw := csf.New(csf.Config{Logger: logger, Settings: snap, Trust: trust, Version: version})
	names := make([]string, 0, len(serviceFactories))
	for n := range serviceFactories {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		spec, ok := serviceFactories[n](snap)
		if !ok {
			continue
		}
		if err := fw.Register(spec); err != nil {
			fw.Close()
			return nil, err
		}
	}
	return fw, nil
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func report(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	common := addCommonFlags(fs)
	out := fs.String("out", "", "write the problem report zip to `FILE`")
	asJSON := fs.Bool("json", false, "print the snapshot as JSON")
	timeout := fs.Duration("timeout", 15*time.Second, "bound the start of the services")
	verbose := fs.Bool("v", false, "log to stderr")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	st, err := common.store(env)
	if err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(env.stderr, nil))
	}
	fw, err := newFramework(env, st, logger)
	if err != nil {
		return err
	}
	defer fw.Close()
	sctx, cancel := context.WithTimeout(ctx, *timeout)
	startErr := fw.Start(sctx)
	cancel()
	snap := fw.Snapshot()
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(snap); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERVICE\tSTATE\tSERVER\tTLS PEER\tLAST ERROR")
		for _, s := range snap.Services {
			server, peer := "", ""
			if s.Health != nil {
				server = s.Health.Server
				if s.Health.TLS != nil {
					peer = fmt.Sprintf("%s (expires %s)", s.Health.TLS.Subject, s.Health.TLS.NotAfter.Format(time.DateOnly))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.State, server, peer, strings.ReplaceAll(s.LastError, "\n", "; "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(snap.Services) == 0 {
			fmt.Fprintln(env.stdout, "(no service configured)")
		}
	}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		if err := fw.WriteProblemReport(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "problem report written to %s\n", *out)
	}
	sdCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := fw.Shutdown(sdCtx); err != nil {
		fmt.Fprintf(env.stderr, "shutdown: %v\n", err)
	}
	if startErr != nil {
		return fmt.Errorf("some services failed: %w", startErr)
	}
	return nil
}
