// Command csfctl is the scriptable command line of OpenCSF: a thin upper
// layer app built only on the public API.
//
//	csfctl lab up [--write-config FILE]
//	csfctl config explain [--file F]… [--reg F]… [--json] [KEY]
//	csfctl dial --rules FILE [--lookup] [--explain] NUMBER…
//
// Every subcommand takes --config FILE and --user NAME (one of the
// profiles in the config file, such as the lab's alice, bob and carol).
// Exit status: 0 on success, 1 on failure (the error on stderr), 2 on
// bad usage.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. Each lives in its own file and adds itself to
// commands in an init function, so that subcommands stay independent.
type command struct {
	// path is the words that select it, e.g. "config explain".
	path    string
	summary string
	run     func(ctx context.Context, env *cmdEnv, args []string) error
}

// cmdEnv is what every subcommand gets.
type cmdEnv struct {
	stdout, stderr io.Writer
	environ        []string
}

var commands = map[string]*command{}

func register(c *command) { commands[c.path] = c }

// usageError makes main exit with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &cmdEnv{stdout: os.Stdout, stderr: os.Stderr, environ: os.Environ()})
	stop()
	os.Exit(code)
}

// run picks the longest command path matching args and runs it.
func run(ctx context.Context, args []string, env *cmdEnv) int {
	var best *command
	var rest []string
	for n := min(len(args), 3); n > 0; n-- {
		if c, ok := commands[strings.Join(args[:n], " ")]; ok {
			best, rest = c, args[n:]
			break
		}
	}
	if best == nil {
		usage(env.stderr)
		return 2
	}
	err := best.run(ctx, env, rest)
	if err == nil {
		return 0
	}
	fmt.Fprintf(env.stderr, "csfctl %s: %v\n", best.path, err)
	if _, ok := err.(*usageError); ok {
		return 2
	}
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: csfctl COMMAND [flags]\n\ncommands:")
	var paths []string
	for p := range commands {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(w, "  %-22s %s\n", p, commands[p].summary)
	}
}
