package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
)

const configUsage = `Usage: flinkfn config [--json] [worker|pool|serve|embed] [FLAGS]

Prints the effective configuration of a command (default: pool) as it
would start here: each setting, its value and where the value came from.
Precedence: a flag (--name), then the environment (the first variable
set), then the Flink configuration (--flink-conf, FLINKFN_FLINK_CONF or
FLINK_CONF_DIR) for the settings Flink has a key for, then the default.
FLAGS are the command's own (flinkfn config pool --memory-limit 2gb). The
worker is the process Flink starts: it has no flags, only the environment
Flink gives it (run flinkfn config worker in the TaskManager's environment).
A bad value is an error naming the setting, its source and the fix (exit 2).

  --json       one JSON object: {"command": ..., "settings": [{name, value, source, flag, env, flink_key}]}
  --markdown   the table of every setting below as Markdown (README.md's Configuration section)

Settings (commands: w worker, p pool, s serve, e embed, t functions/models/tokenize/plan):
`

// runConfig is `flinkfn config`.
func runConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	asJSON := false
	for len(args) > 0 && (args[0] == "--json" || args[0] == "-json") {
		asJSON, args = true, args[1:]
	}
	if len(args) == 1 && (args[0] == "--markdown" || args[0] == "-markdown") {
		writeSettingsMarkdown(stdout)
		return nil
	}
	command := cmdPool
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		command, args = args[0], args[1:]
		known := false
		for _, c := range configCommands {
			known = known || c == command
		}
		if !known {
			return exitError{code: 2, msg: fmt.Sprintf("flinkfn config: unknown command %q; want one of %s", command, strings.Join(configCommands, ", "))}
		}
	}
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { writeConfigHelp(stderr) }
	var cf *configFlags
	if command != cmdWorker {
		cf = addConfigFlags(fs, command)
	}
	fs.BoolVar(&asJSON, "json", asJSON, "print JSON")
	if err := parseArgs(fs, args, ""); err != nil {
		return err
	}
	cfg, err := loadConfig(command, cf, getenv)
	if err != nil {
		return exitError{code: 2, msg: fmt.Sprintf("flinkfn config %s: %v", command, err)}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Command  string       `json:"command"`
			Settings []shownValue `json:"settings"`
		}{command, cfg.values})
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "SETTING\tVALUE\tSOURCE\n")
	for _, v := range cfg.values {
		val := v.Value
		if val == "" {
			val = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", v.Name, val, v.Source)
	}
	return w.Flush()
}

// logSettings is the settings not left at their defaults, for a start-up
// log line: a group of "value (source)" by setting.
func (c *config) logSettings() slog.Attr {
	var attrs []any
	for _, v := range c.values {
		if v.Source == string(fromDefault) || v.Source == "unset" {
			continue
		}
		attrs = append(attrs, slog.String(v.Name, v.Value+" ("+v.Source+")"))
	}
	return slog.Group("config", attrs...)
}

// writeConfigHelp prints the usage and the table of every setting.
func writeConfigHelp(out io.Writer) {
	fmt.Fprint(out, configUsage)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "  SETTING\tFOR\tFLAG\tENV\tFLINK KEY\tDEFAULT\n")
	for _, s := range settings() {
		flagName, def := "-", s.def
		if s.flag {
			flagName = "--" + s.name
		}
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", s.name, commandLetters(s), flagName, orDash(strings.Join(s.env, ", ")), orDash(s.flinkKey), def)
	}
	w.Flush()
	fmt.Fprint(out, "\n")
	for _, s := range settings() {
		fmt.Fprintf(out, "  %-26s %s\n", s.name, s.usage)
	}
}

// commandLetters are the commands of a setting as the tables write them.
func commandLetters(s setting) string {
	var b strings.Builder
	for _, c := range s.commands {
		b.WriteByte(c[0])
	}
	return b.String()
}

// writeSettingsMarkdown writes the table of every setting as Markdown.
func writeSettingsMarkdown(out io.Writer) {
	code := func(s string) string {
		if s == "" {
			return ""
		}
		parts := strings.Split(s, ", ")
		for i, p := range parts {
			parts[i] = "`" + p + "`"
		}
		return strings.Join(parts, ", ")
	}
	fmt.Fprintln(out, "| setting | for | flag | environment | Flink key | default | what |")
	fmt.Fprintln(out, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, s := range settings() {
		flagName := ""
		if s.flag {
			flagName = "--" + s.name
		}
		usage := strings.ReplaceAll(s.usage, "|", `\|`)
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s | %s |\n", s.name, commandLetters(s), code(flagName), code(strings.Join(s.env, ", ")),
			code(s.flinkKey), code(s.def), usage)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
