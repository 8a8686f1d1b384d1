package main

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/keys"
)

func init() {
	register("keys", "manage signing keys: rotate, list, retire, revoke", runKeys)
}

func runKeys(ctx context.Context, a *app, args []string) error {
	return a.subcommands(ctx, "keys", args, []command{
		{name: "rotate", summary: "make a new key: published now, signing after the JWKS cache lifetime", run: runKeysRotate},
		{name: "list", summary: "list the keys with their state and dates", run: runKeysList},
		{name: "retire", summary: "KID: stop a non-signing key verifying now", run: runKeysRetire},
		{name: "revoke", summary: "KID: compromised key; its tokens fail at once", run: runKeysRevoke},
	})
}

// kekFileHelp documents --kek-file, which every keys subcommand takes.
const kekFileHelp = "file holding the 32-byte key-encryption key (hex or base64); overrides TOLLGATE_KEY_ENCRYPTION_KEY(_FILE)"

// keysFlags are the flags every keys subcommand shares.
type keysFlags struct {
	cfgPath *string
	kekFile *string
}

// withKeySet opens the store and the rotating key set the server uses.
func (a *app) withKeySet(ctx context.Context, f keysFlags, fn func(*keys.RotatingSet) error) error {
	cfg, err := a.loadConfig(*f.cfgPath, false)
	if err != nil {
		return err
	}
	if keys.IsHMAC(cfg.Algorithm) {
		return fmt.Errorf("%sALGORITHM is %s: an HMAC secret comes from SIGNING_KEY; stored, rotating keys are for RS*, PS256, ES* and EdDSA", config.EnvPrefix, cfg.Algorithm)
	}
	if !cfg.StoredKeys() {
		return fmt.Errorf("%sSIGNING_KEY is set, so serve signs with that key and ignores the stored ones; unset it to use stored, rotating keys", config.EnvPrefix)
	}
	// --kek-file overrides KEY_ENCRYPTION_KEY(_FILE), e.g. to run one
	// command on a machine that does not keep the key in its settings.
	var kek []byte
	if *f.kekFile != "" {
		b, err := os.ReadFile(*f.kekFile)
		if err != nil {
			return fmt.Errorf("--kek-file: %w", err)
		}
		if kek, err = config.ParseKEK(string(b)); err != nil {
			return fmt.Errorf("--kek-file: %w", err)
		}
	}
	store, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	set, err := openRotatingSet(ctx, cfg, store, kek)
	if err != nil {
		return err
	}
	return fn(set)
}

func runKeysRotate(ctx context.Context, a *app, args []string) error {
	fs, cfgPath := a.flagSet("keys rotate", "[--kek-file FILE]")
	kek := fs.String("kek-file", "", kekFileHelp)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("keys rotate takes no arguments")
	}
	return a.withKeySet(ctx, keysFlags{cfgPath, kek}, func(set *keys.RotatingSet) error {
		in, err := set.Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "new key %s (%s): %s, signs from %s\n", in.ID, in.Algorithm, in.State, in.ActivatesAt.Format(time.RFC3339))
		return nil
	})
}

func runKeysList(ctx context.Context, a *app, args []string) error {
	fs, cfgPath := a.flagSet("keys list", "[--kek-file FILE]")
	kek := fs.String("kek-file", "", kekFileHelp)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("keys list takes no arguments")
	}
	return a.withKeySet(ctx, keysFlags{cfgPath, kek}, func(set *keys.RotatingSet) error {
		w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "KID\tALG\tSTATE\tENCRYPTED\tCREATED\tSIGNS FROM\tRETIRES\tREVOKED")
		for _, in := range set.List() {
			fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%s\t%s\t%s\n", in.ID, in.Algorithm, in.State, in.Encrypted,
				day(in.CreatedAt), day(in.ActivatesAt), day(in.RetiresAt), day(in.RevokedAt))
		}
		return w.Flush()
	})
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func runKeysRetire(ctx context.Context, a *app, args []string) error {
	return keysByID(ctx, a, "retire", args, func(set *keys.RotatingSet, kid string) error { return set.Retire(ctx, kid) })
}

func runKeysRevoke(ctx context.Context, a *app, args []string) error {
	return keysByID(ctx, a, "revoke", args, func(set *keys.RotatingSet, kid string) error { return set.Revoke(ctx, kid) })
}

func keysByID(ctx context.Context, a *app, verb string, args []string, fn func(*keys.RotatingSet, string) error) error {
	fs, cfgPath := a.flagSet("keys "+verb, "[--kek-file FILE] KID")
	kek := fs.String("kek-file", "", kekFileHelp)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("keys %s needs one KID (see tollgate keys list)", verb)
	}
	kid := fs.Arg(0)
	return a.withKeySet(ctx, keysFlags{cfgPath, kek}, func(set *keys.RotatingSet) error {
		if err := fn(set, kid); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "key %s: %sd\n", kid, verb)
		for _, in := range set.List() {
			if in.State == keys.StateActive {
				fmt.Fprintf(a.stdout, "signing key: %s\n", in.ID)
			}
		}
		return nil
	})
}
