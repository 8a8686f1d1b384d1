package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at release time: go build -ldflags "-X main.version=v1.2.3".
var version = ""

func init() {
	register("version", "print the version", runVersion)
}

func runVersion(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 {
		return usagef("version takes no arguments")
	}
	v, rev := version, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = s.Value[:12]
			}
			if s.Key == "vcs.modified" && s.Value == "true" {
				rev += "+dirty"
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if rev != "" {
		v += " (" + rev + ")"
	}
	fmt.Fprintf(a.stdout, "tollgate %s %s\n", v, runtime.Version())
	return nil
}
