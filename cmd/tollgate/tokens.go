package main

import (
	"context"
	"fmt"

	"github.com/tollgate/tollgate"
)

func init() {
	register("tokens", "token maintenance: flush", runTokens)
}

func runTokens(ctx context.Context, a *app, args []string) error {
	return a.subcommands(ctx, "tokens", args, []command{
		{name: "flush", summary: "delete sessions whose every token has expired (serve does it every FLUSH_INTERVAL)", run: runTokensFlush},
	})
}

func runTokensFlush(ctx context.Context, a *app, args []string) error {
	fs, cfgPath := a.flagSet("tokens flush", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("tokens flush takes no arguments")
	}
	return a.withAdmin(ctx, *cfgPath, func(svc *tollgate.Service) error {
		n, err := svc.FlushExpired(ctx, flushBatch)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "deleted %d expired sessions\n", n)
		return nil
	})
}
