// dashboard-schema checks Grafana dashboard JSON files against Grafana's published dashboard
// schema, as generated into github.com/grafana/grafana-foundation-sdk/go (Apache-2.0): a strict
// decode (an unknown field or a value of the wrong type is an error), panel options and field
// config decoded by their panel plugin's schema, then the schema's constraints (Validate).
//
//	dashboard-schema FILE.json...
//
// Prints "ok FILE (N panels)" per valid file and every error per invalid one; exit status 1 when
// any file is invalid, 2 on usage errors.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// failure is err unless it is an empty cog.BuildErrors: the generated decoders return their error
// list even when it is empty (a non-nil interface holding a nil slice).
func failure(err error) error {
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

func check(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var d dashboard.Dashboard
	if err := failure(d.UnmarshalJSONStrict(raw)); err != nil {
		return fmt.Errorf("does not match the dashboard schema: %w", err)
	}
	if err := failure(d.Validate()); err != nil {
		return fmt.Errorf("breaks the dashboard schema's constraints: %w", err)
	}
	fmt.Printf("ok %s (%d panels)\n", path, len(d.Panels))
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dashboard-schema FILE.json...")
		os.Exit(2)
	}
	plugins.RegisterDefaultPlugins()
	failed := false
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			fmt.Printf("invalid %s: %v\n", path, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}
