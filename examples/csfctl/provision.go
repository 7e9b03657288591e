package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opencsf/opencsf/dialrules"
	"github.com/opencsf/opencsf/provision"
)

func init() {
	register(&command{
		path:    "provision fetch",
		summary: "fetch the provisioned files into the cache: provision fetch [--tftp H:P]… [--http URL] [--device NAME]",
		run:     provisionFetch,
	})
	register(&command{
		path:    "provision show",
		summary: "show the provisioned files in the cache: dial rules, device, jabber-config",
		run:     provisionShow,
	})
}

// provisionFlags are the flags of the commands that read provisioned files.
type provisionFlags struct {
	common *commonFlags
	cache  string
}

func addProvisionFlags(fs *flag.FlagSet) *provisionFlags {
	pf := &provisionFlags{common: addCommonFlags(fs)}
	fs.StringVar(&pf.cache, "cache", "", "provisioning cache `DIR`; empty means opencsf/provision in the user cache directory")
	return pf
}

// cacheDir is --cache, or opencsf/provision under the user cache directory
// found from env's environment (as os.UserCacheDir does on Unix).
func (pf *provisionFlags) cacheDir(env *cmdEnv) string {
	if pf.cache != "" {
		return pf.cache
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
	name := provision.AppDialRulesFile
	if lookup {
		name = provision.DirLookupDialRulesFile
	}
	p := filepath.Join(pf.cacheDir(env), filepath.FromSlash(name))
	if _, err := os.Stat(p); err != nil {
		return nil, errNoProvisionedRules
	}
	return loadRulesFile(env, p)
}

// provisionFetch fetches every file once, as the framework does at start,
// and prints what is in force. It fails when no server answered and
// nothing was cached.
func provisionFetch(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("provision fetch", flag.ContinueOnError)
	pf := addProvisionFlags(fs)
	var tftpServers multiFlag
	fs.Var(&tftpServers, "tftp", "TFTP server `HOST:PORT` (repeat for a fallback); overrides TftpServer1/2")
	httpURL := fs.String("http", "", "HTTP file service `URL`; overrides HttpFileServer")
	device := fs.String("device", "", "device `NAME` (CSF…); overrides DeviceName")
	timeout := fs.Duration("timeout", time.Second, "TFTP retransmission timeout")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return &usageError{"provision fetch takes no arguments"}
	}
	st, err := pf.common.store(env)
	if err != nil {
		return err
	}
	var cfg provision.Config
	if err := st.Effective().Decode(&cfg); err != nil {
		return err
	}
	if len(tftpServers) > 2 {
		return &usageError{"at most two --tftp servers"}
	}
	if len(tftpServers) > 0 {
		cfg.TftpServer1, cfg.TftpServer2 = tftpServers[0], ""
		if len(tftpServers) == 2 {
			cfg.TftpServer2 = tftpServers[1]
		}
	}
	if *httpURL != "" {
		cfg.HTTPFileServer = *httpURL
	}
	if *device != "" {
		cfg.DeviceName = *device
	}
	cfg.CacheDir = pf.cacheDir(env)
	cfg.PollInterval = -1
	cfg.TFTPTimeout = *timeout
	c, err := provision.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	startErr := c.Start(ctx)
	printStatus(env, c.Status())
	if startErr != nil {
		return startErr
	}
	if h := c.Health(); !h.Healthy {
		fmt.Fprintf(env.stderr, "warning: %s\n", h.Status)
	}
	var problems int
	for _, s := range c.Status() {
		if s.LastError != nil {
			problems++
		}
	}
	if problems > 0 {
		return fmt.Errorf("%d of %d files not fetched or rejected (last good versions kept)", problems, len(c.Status()))
	}
	return nil
}

func printStatus(env *cmdEnv, sts []provision.FileStatus) {
	tw := tabwriter.NewWriter(env.stdout, 2, 8, 2, ' ', 0)
	for _, s := range sts {
		state := "absent"
		if s.InForce {
			state = fmt.Sprintf("%d bytes\tsha256 %.12s\t%s", s.Size, s.SHA256, s.Source)
		}
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, state)
		if s.LastError != nil {
			fmt.Fprintf(env.stderr, "%s: %v\n", s.Name, s.LastError)
		}
	}
	tw.Flush()
}

// provisionShow prints the cached files, parsed: it needs no server.
func provisionShow(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("provision show", flag.ContinueOnError)
	pf := addProvisionFlags(fs)
	device := fs.String("device", "", "device `NAME`; empty means DeviceName, or CSF+UserName")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	dir := pf.cacheDir(env)
	name := *device
	if name == "" && (pf.common.configFile != "" || pf.common.user != "") {
		st, err := pf.common.store(env)
		if err != nil {
			return err
		}
		var cfg provision.Config
		if err := st.Effective().Decode(&cfg); err != nil {
			return err
		}
		name = cfg.DeviceName
		if name == "" && cfg.UserName != "" {
			name = "CSF" + cfg.UserName
		}
	}
	read := func(f string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
	}
	found := 0
	for _, f := range []string{provision.AppDialRulesFile, provision.DirLookupDialRulesFile} {
		data, err := read(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		found++
		rules, _, err := dialrules.Parse(f, bytes.NewReader(data))
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s: %d rules\n", f, rules.Len())
		for i, r := range rules.List() {
			fmt.Fprintf(env.stdout, "  %d. %s\n", i+1, r)
		}
	}
	if data, err := read(provision.JabberConfigFile); err == nil {
		found++
		j, err := provision.ParseJabberConfig(provision.JabberConfigFile, bytes.NewReader(data))
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s: %d entries\n", provision.JabberConfigFile, len(j.Entries))
		for _, e := range j.Entries {
			v := e.Value
			if strings.Contains(strings.ToLower(e.Key), "password") {
				v = "[redacted]"
			}
			fmt.Fprintf(env.stdout, "  %s/%s = %q\n", e.Group, e.Key, v)
		}
	}
	if name != "" {
		f := provision.DeviceFile(name)
		if data, err := read(f); err == nil {
			found++
			d, err := provision.ParseDevice(f, bytes.NewReader(data))
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "%s: registrar %s, transport %s\n", f, d.Registrar(), orDefault(string(d.Transport), "unset"))
			for _, cm := range d.CallManagers {
				fmt.Fprintf(env.stdout, "  call manager %s (priority %d): %s\n", orDefault(cm.Name, cm.Host), cm.Priority, cm.Addr(d.Transport))
			}
			for _, l := range d.Lines {
				fmt.Fprintf(env.stdout, "  line %d: %s %q auth %s\n", l.Button, l.DN, l.DisplayName, orDefault(l.AuthName, l.DN))
			}
		}
	}
	if found == 0 {
		return fmt.Errorf("no provisioned files in %s (run csfctl provision fetch)", dir)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
