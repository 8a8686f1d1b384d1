package main

import (
	"context"
	"crypto/rand"
	"fmt"
)

func init() {
	register("config", "check the settings and print them (secrets redacted)", runConfig)
}

// runConfig validates the settings the way serve would and prints them, so
// a deployment can be checked before it starts.
func runConfig(ctx context.Context, a *app, args []string) error {
	fs, cfgPath := a.flagSet("config", "[--dev] [--config file.toml]")
	dev := fs.Bool("dev", false, "check as serve --dev would")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("config takes no arguments")
	}
	cfg, err := a.loadConfig(*cfgPath, *dev)
	if err != nil {
		return err
	}
	// The key is checked too, except in dev mode, where checking would
	// generate it, and for keys stored in the database (serve makes the
	// first one).
	if !cfg.Dev && !cfg.StoredKeys() {
		if _, _, err := cfg.KeySet(rand.Reader); err != nil {
			return err
		}
	}
	fmt.Fprint(a.stdout, cfg.String())
	return nil
}
