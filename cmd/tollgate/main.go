// Command tollgate is the Tollgate server and its administration tool: the
// only place where the store, the core service, the token codec, the
// limiters, the audit log and the HTTP API are wired together.
//
//	tollgate serve [--dev] [--config file.toml]
//	tollgate migrate
//	tollgate users create --username NAME [--email ADDR] [--password-stdin]
//	tollgate users list | deactivate NAME | import dumpdata.json
//	tollgate tokens flush
//	tollgate version
//
// Settings come from TOLLGATE_* environment variables and an optional TOML
// file (see the config package). Exit status: 0 success, 1 failure,
// 2 usage error (unknown command or flag, missing argument).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/tollgate/tollgate/config"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand. run receives the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, a *app, args []string) error
}

// commands are the top-level subcommands, filled by register from each
// file's init function. It is written only before main runs.
var commands = map[string]command{}

// register adds a top-level subcommand. Adding one is one line in the init
// function of the file that implements it:
//
//	func init() { register("keys", "manage signing keys: rotate, list, retire", runKeys) }
func register(name, summary string, run func(ctx context.Context, a *app, args []string) error) {
	if _, dup := commands[name]; dup {
		panic("tollgate: command registered twice: " + name)
	}
	commands[name] = command{name: name, summary: summary, run: run}
}

// app is what a command may touch of the outside world; tests replace it.
type app struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)
	// isTerminal reports whether stdin is an interactive terminal (for
	// the password prompt).
	isTerminal func() bool
	// readPassword reads a line from the terminal without echo.
	readPassword func() ([]byte, error)
}

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookupEnv: os.LookupEnv,
		isTerminal: stdinIsTerminal, readPassword: readTerminalPassword,
	}
	code := a.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// main runs one command line and returns the exit status.
func (a *app) main(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.printUsage()
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(a.stderr, "tollgate: unknown command %q\n\n", args[0])
		a.printUsage()
		return exitUsage
	}
	return a.exit(cmd.run(ctx, a, args[1:]))
}

// exit prints err and turns it into an exit status.
func (a *app) exit(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(a.stderr, "tollgate: %s\n", ue.msg)
		return exitUsage
	}
	fmt.Fprintf(a.stderr, "tollgate: %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	return exitFail
}

func (a *app) printUsage() {
	fmt.Fprintln(a.stderr, "Usage: tollgate <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(a.stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(a.stderr, "\nRun 'tollgate <command> -h' for a command's flags. Settings come from TOLLGATE_* variables\nor a TOML file (--config or TOLLGATE_CONFIG).")
}

// subcommands dispatches the second word of a command line ("users create").
func (a *app) subcommands(ctx context.Context, parent string, args []string, subs []command) error {
	list := func() string {
		var b strings.Builder
		for _, s := range subs {
			fmt.Fprintf(&b, "\n  %s %-11s %s", parent, s.name, s.summary)
		}
		return b.String()
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		if len(args) == 0 {
			return usagef("%s needs a subcommand:%s", parent, list())
		}
		fmt.Fprintf(a.stderr, "Usage:%s\n", list())
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, a, args[1:])
		}
	}
	return usagef("unknown command %q for %s; use one of:%s", args[0], parent, list())
}

// flagSet returns a FlagSet that reports to stderr and returns errors
// rather than exiting, with the --config flag every command shares.
func (a *app) flagSet(name, usage string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("tollgate "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "Usage: tollgate %s %s\n\nFlags:\n", name, usage)
		fs.PrintDefaults()
	}
	path := fs.String("config", "", "TOML settings file (default: $TOLLGATE_CONFIG); environment variables override it")
	return fs, path
}

// parse parses args, turning flag mistakes into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()}
	}
	return nil
}

// loadConfig loads and validates the settings; dev forces DEV on.
func (a *app) loadConfig(path string, dev bool) (*config.Config, error) {
	cfg, err := config.Load(a.lookupEnv, path)
	if err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	if dev {
		cfg.Dev = true
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	return cfg, nil
}
