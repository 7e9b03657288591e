package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"text/tabwriter"
	"time"

	"github.com/opencsf/opencsf/config"
	"github.com/opencsf/opencsf/csf"
	"github.com/opencsf/opencsf/voicemail"
)

// Visual voicemail:
//
//	csfctl voicemail list [--json]
//	csfctl voicemail play ID          decode and report length and level (no sound device)
//	csfctl voicemail export ID FILE.wav
//	csfctl voicemail delete ID
//
// each with --config FILE and --user NAME; the server and account come from
// the Voicemail… keys (VoicemailUserName falls back to UserName@Domain).
func init() {
	register(&command{path: "voicemail list", summary: "list voice messages (--json for scripts)", run: vmList})
	register(&command{path: "voicemail play", summary: "decode a voice message and report its length and level", run: vmPlay})
	register(&command{path: "voicemail export", summary: "save a voice message as a 16-bit PCM WAV file", run: vmExport})
	register(&command{path: "voicemail delete", summary: "delete a voice message (to Trash when there is one)", run: vmDelete})
	registerService("voicemail", func(snap *config.Snapshot) (csf.ServiceSpec, bool) {
		if snap.String("VoicemailPrimaryServer") == "" {
			return csf.ServiceSpec{}, false
		}
		return voicemail.Spec(voicemail.Config{}), true
	})
}

// vmFlags parses flags anywhere among the arguments and returns the
// positional ones.
func vmFlags(fs *flag.FlagSet, env *cmdEnv, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, env, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// vmDial loads the configuration and opens a voicemail session.
func vmDial(ctx context.Context, env *cmdEnv, common *commonFlags) (*voicemail.Conn, error) {
	st, err := common.store(env)
	if err != nil {
		return nil, err
	}
	cfg, err := voicemail.ConfigFrom(st.Effective())
	if err != nil {
		return nil, err
	}
	if cfg.Server == "" {
		return nil, &usageError{"no voicemail server: set VoicemailPrimaryServer in the config"}
	}
	return voicemail.Dial(ctx, cfg)
}

// vmJSON is one message in `voicemail list --json`.
type vmJSON struct {
	ID              string    `json:"id"`
	CallerName      string    `json:"caller_name"`
	CallerNumber    string    `json:"caller_number"`
	Subject         string    `json:"subject,omitempty"`
	Date            time.Time `json:"date"`
	DurationSeconds float64   `json:"duration_seconds"`
	Format          string    `json:"format"`
	Heard           bool      `json:"heard"`
	Urgent          bool      `json:"urgent"`
	Private         bool      `json:"private"`
	Size            int64     `json:"size"`
	HasAudio        bool      `json:"has_audio"`
	Error           *string   `json:"error"`
}

func vmList(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("voicemail list", flag.ContinueOnError)
	common := addCommonFlags(fs)
	asJSON := fs.Bool("json", false, "print a JSON array")
	trash := fs.Bool("trash", false, "list the Trash folder instead")
	pos, err := vmFlags(fs, env, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return &usageError{"usage: csfctl voicemail list [--json] [--trash]"}
	}
	c, err := vmDial(ctx, env, common)
	if err != nil {
		return err
	}
	defer c.Close()
	var list []voicemail.Voicemail
	if *trash {
		list, err = c.ListTrash(ctx)
	} else {
		list, err = c.List(ctx)
	}
	if err != nil && list == nil {
		return err
	}
	if *asJSON {
		out := make([]vmJSON, 0, len(list))
		for _, v := range list {
			j := vmJSON{ID: v.ID.String(), CallerName: v.CallerName, CallerNumber: v.CallerNumber, Subject: v.Subject,
				Date: v.Date, DurationSeconds: v.Duration.Seconds(), Format: v.Format.String(), Heard: v.Heard,
				Urgent: v.Urgent, Private: v.Private, Size: v.Size, HasAudio: v.HasAudio}
			if v.Err != nil {
				s := v.Err.Error()
				j.Error = &s
			}
			out = append(out, j)
		}
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(out); jerr != nil {
			return jerr
		}
	} else {
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tFLAGS\tDATE\tCALLER\tNUMBER\tLENGTH\tFORMAT\tERROR")
		for _, v := range list {
			flags := []byte("---")
			if !v.Heard {
				flags[0] = 'N'
			}
			if v.Urgent {
				flags[1] = 'U'
			}
			if v.Private {
				flags[2] = 'P'
			}
			e := ""
			if v.Err != nil {
				e = v.Err.Error()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.ID, flags, v.Date.Local().Format("2006-01-02 15:04"),
				v.CallerName, v.CallerNumber, v.Duration.Round(100*time.Millisecond), v.Format, e)
		}
		tw.Flush()
		fmt.Fprintf(env.stderr, "%d messages, %d unheard\n", len(list), voicemail.Unheard(list))
	}
	if err != nil {
		return err
	}
	return c.Logout(ctx)
}

// vmID parses the message ID argument.
func vmID(s string) (voicemail.ID, error) {
	id, err := voicemail.ParseID(s)
	if err != nil {
		return 0, &usageError{err.Error()}
	}
	return id, nil
}

func vmPlay(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("voicemail play", flag.ContinueOnError)
	common := addCommonFlags(fs)
	markHeard := fs.Bool("mark-heard", true, "mark the message heard once played")
	pos, err := vmFlags(fs, env, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{"usage: csfctl voicemail play ID"}
	}
	id, err := vmID(pos[0])
	if err != nil {
		return err
	}
	c, err := vmDial(ctx, env, common)
	if err != nil {
		return err
	}
	defer c.Close()
	began := time.Now()
	a, err := c.Audio(ctx, id)
	if err != nil {
		return err
	}
	dec, err := voicemail.NewDecoder(a)
	if err != nil {
		a.Close()
		return err
	}
	st, err := voicemail.Measure(dec)
	cerr := a.Close()
	if err = errors.Join(err, cerr); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "message %s: %s, %d samples, %.2f s, peak %.1f dBFS, rms %.1f dBFS (decoded in %s)\n",
		id, st.Format, st.Samples, st.Duration.Seconds(), dbfs(st.Peak), dbfs(st.RMS), time.Since(began).Round(time.Millisecond))
	if *markHeard {
		if err := c.SetHeard(ctx, id, true); err != nil {
			return err
		}
	}
	return c.Logout(ctx)
}

func dbfs(x float64) float64 {
	if x <= 0 {
		return -120
	}
	return 20 * math.Log10(x)
}

func vmExport(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("voicemail export", flag.ContinueOnError)
	common := addCommonFlags(fs)
	pos, err := vmFlags(fs, env, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return &usageError{"usage: csfctl voicemail export ID FILE.wav"}
	}
	id, err := vmID(pos[0])
	if err != nil {
		return err
	}
	c, err := vmDial(ctx, env, common)
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := os.Create(pos[1])
	if err != nil {
		return err
	}
	n, err := c.Export(ctx, id, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(pos[1])
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s (%d bytes, 16-bit PCM)\n", pos[1], n)
	return c.Logout(ctx)
}

func vmDelete(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("voicemail delete", flag.ContinueOnError)
	common := addCommonFlags(fs)
	pos, err := vmFlags(fs, env, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{"usage: csfctl voicemail delete ID"}
	}
	id, err := vmID(pos[0])
	if err != nil {
		return err
	}
	c, err := vmDial(ctx, env, common)
	if err != nil {
		return err
	}
	defer c.Close()
	tid, err := c.Delete(ctx, id)
	if err != nil {
		return err
	}
	if tid != 0 {
		fmt.Fprintf(env.stdout, "message %s moved to Trash as %s\n", id, tid)
	} else {
		fmt.Fprintf(env.stdout, "message %s deleted\n", id)
	}
	return c.Logout(ctx)
}
