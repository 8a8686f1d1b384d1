package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"golang.org/x/term"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/django"
	"github.com/tollgate/tollgate/password"
)

func init() {
	register("users", "manage users: create, list, deactivate, import", runUsers)
}

func runUsers(ctx context.Context, a *app, args []string) error {
	return a.subcommands(ctx, "users", args, []command{
		{name: "create", summary: "create a user; the password is prompted for, or read from stdin", run: runUsersCreate},
		{name: "list", summary: "list users", run: runUsersList},
		{name: "deactivate", summary: "deactivate a user and revoke all of their sessions", run: runUsersDeactivate},
		{name: "import", summary: "import users from Django's `manage.py dumpdata auth.user` JSON, passwords included", run: runUsersImport},
	})
}

// withAdmin loads the settings, opens the store and builds the service a
// user command needs, and closes the store when f returns.
func (a *app) withAdmin(ctx context.Context, cfgPath string, f func(svc *tollgate.Service) error) error {
	cfg, err := a.loadConfig(cfgPath, false)
	if err != nil {
		return err
	}
	store, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := adminService(cfg, store)
	if err != nil {
		return err
	}
	return f(svc)
}

func runUsersCreate(ctx context.Context, a *app, args []string) error {
	fs, cfgPath := a.flagSet("users create", "--username NAME [--email ADDR] [--staff] [--password-stdin]")
	username := fs.String("username", "", "login name (required)")
	email := fs.String("email", "", "email address")
	staff := fs.Bool("staff", false, "mark the user as staff")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin (for scripts)")
	pw := fs.String("password", "", "the password (discouraged: it stays in shell history and ps; prefer the prompt or --password-stdin)")
	noPassword := fs.Bool("no-password", false, "create the user without a usable password (e.g. social sign-in only)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("users create: unexpected argument %q (use --username)", fs.Arg(0))
	}
	if strings.TrimSpace(*username) == "" {
		return usagef("users create: --username is required")
	}
	passwordSet := false
	fs.Visit(func(f *flag.Flag) { passwordSet = passwordSet || f.Name == "password" })
	if n := count(passwordSet, *fromStdin, *noPassword); n > 1 {
		return usagef("users create: use only one of --password, --password-stdin and --no-password")
	}

	var secret string
	switch {
	case *noPassword:
	case passwordSet:
		fmt.Fprintln(a.stderr, "tollgate: warning: --password leaves the password in shell history and the process list; prefer the prompt or --password-stdin")
		secret = *pw
	case *fromStdin || !a.isTerminal():
		line, err := readLine(a.stdin)
		if err != nil {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		secret = line
	default:
		p, err := a.promptPassword()
		if err != nil {
			return err
		}
		secret = p
	}
	if !*noPassword && secret == "" {
		return errors.New("users create: the password is empty (use --no-password for a user without one)")
	}
	return a.withAdmin(ctx, *cfgPath, func(svc *tollgate.Service) error {
		u, err := svc.CreateUser(ctx, *username, *email, secret, *staff)
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(a.stdout, "created user %q (id %d)\n", u.Username, u.ID)
		return nil
	})
}

// promptPassword asks twice on the terminal, without echo.
func (a *app) promptPassword() (string, error) {
	fmt.Fprint(a.stderr, "Password: ")
	p1, err := a.readPassword()
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	fmt.Fprint(a.stderr, "Password (again): ")
	p2, err := a.readPassword()
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if string(p1) != string(p2) {
		return "", errors.New("the passwords do not match")
	}
	return string(p1), nil
}

func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

func readTerminalPassword() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) }

// readLine reads one line, without its line ending.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no input")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// describe turns a domain error into a message for a terminal: a field
// error names its field and says what is wrong.
func describe(err error) error {
	var e *tollgate.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		if errors.As(err, &e) && e.Err == nil {
			return errors.New(e.Message)
		}
		return err
	}
	fields := make([]string, 0, len(e.Fields))
	for f := range e.Fields {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	var parts []string
	for _, f := range fields {
		parts = append(parts, f+": "+strings.Join(e.Fields[f], " "))
	}
	return errors.New(strings.Join(parts, "; "))
}

func runUsersList(ctx context.Context, a *app, args []string) error {
	fs, cfgPath := a.flagSet("users list", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("users list takes no arguments")
	}
	return a.withAdmin(ctx, *cfgPath, func(svc *tollgate.Service) error {
		users, err := svc.Store().ListUsers(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tUSERNAME\tEMAIL\tACTIVE\tSTAFF\tLAST LOGIN")
		for _, u := range users {
			last := "never"
			if !u.LastLogin.IsZero() {
				last = u.LastLogin.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", u.ID, printable(u.Username), printable(u.Email), yesNo(u.IsActive), yesNo(u.IsStaff), last)
		}
		return w.Flush()
	})
}

// printable quotes a stored name that holds anything but printable
// characters and plain spaces, so an imported or hostile username cannot
// send escape sequences to the administrator's terminal.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '\t' {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func runUsersDeactivate(ctx context.Context, a *app, args []string) error {
	fs, cfgPath := a.flagSet("users deactivate", "USERNAME")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("users deactivate needs exactly one username")
	}
	name := fs.Arg(0)
	return a.withAdmin(ctx, *cfgPath, func(svc *tollgate.Service) error {
		u, err := svc.Store().UserByLogin(ctx, tollgate.LoginByUsername, name)
		if errors.Is(err, tollgate.ErrUserNotFound) {
			return fmt.Errorf("no user named %q", name)
		}
		if err != nil {
			return err
		}
		if err := svc.SetUserActive(ctx, u.ID, false); err != nil {
			return describe(err)
		}
		fmt.Fprintf(a.stdout, "deactivated user %q (id %d); all of their sessions are revoked\n", u.Username, u.ID)
		return nil
	})
}

func runUsersImport(ctx context.Context, a *app, args []string) error {
	fs, cfgPath := a.flagSet("users import", "DUMPDATA.json  (from: python manage.py dumpdata auth.user > users.json; - reads stdin)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("users import needs exactly one file (- for stdin)")
	}
	var in io.Reader = a.stdin
	if p := fs.Arg(0); p != "-" {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	users, err := django.ReadUsers(in)
	if err != nil {
		return fmt.Errorf("reading %s: %w", fs.Arg(0), err)
	}
	return a.withAdmin(ctx, *cfgPath, func(svc *tollgate.Service) error {
		created, skipped, unverifiable := 0, 0, 0
		for _, u := range users {
			err := svc.Store().CreateUser(ctx, u)
			if errors.Is(err, tollgate.ErrUsernameTaken) {
				fmt.Fprintf(a.stderr, "skipped %q (id %d): a user with that id, username or email exists\n", u.Username, u.ID)
				skipped++
				continue
			}
			if err != nil {
				return fmt.Errorf("importing %q: %w", u.Username, err)
			}
			created++
			if err := password.Check(u.PasswordHash); err != nil {
				fmt.Fprintf(a.stderr, "warning: %s (id %d): %v; this user cannot log in until the password is reset\n", printable(u.Username), u.ID, err)
				unverifiable++
			}
		}
		fmt.Fprintf(a.stdout, "imported %d users, skipped %d\n", created, skipped)
		if unverifiable > 0 {
			fmt.Fprintf(a.stdout, "%d of them have a password hash Tollgate cannot verify (see the warnings); the others:\n", unverifiable)
		}
		if created > unverifiable {
			fmt.Fprintln(a.stdout, "their Django passwords keep working, and are upgraded to argon2id at each user's next login")
		}
		return nil
	})
}
