package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// list GETs path and prints it: the broker's JSON as is with --json (for
// scripts), else a table with header and one row per item.
func list[T any](ctx context.Context, out io.Writer, asJSON bool, path string, header []string, row func(T) []string) error {
	items, done, err := fetch[T](ctx, out, asJSON, path)
	if done || err != nil {
		return err
	}
	if len(items) == 0 {
		_, err := fmt.Fprintln(out, "(none)")
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, it := range items {
		fmt.Fprintln(tw, strings.Join(row(it), "\t"))
	}
	return tw.Flush()
}

// fetch GETs a JSON list. With asJSON it prints the broker's answer as is
// and reports done; otherwise it decodes the items for the caller to show.
func fetch[T any](ctx context.Context, out io.Writer, asJSON bool, path string) (items []T, done bool, err error) {
	var raw json.RawMessage
	if err := authed(ctx, "GET", path, nil, &raw); err != nil {
		return nil, true, err
	}
	if asJSON {
		_, err := fmt.Fprintln(out, string(raw))
		return nil, true, err
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, true, fmt.Errorf("unexpected broker answer: %w", err)
	}
	return items, false, nil
}

// when formats a time for tables; the zero time is "-".
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// printJSON writes v as one line of JSON (the --json form of a command's
// result).
func printJSON(out io.Writer, v any) error { return json.NewEncoder(out).Encode(v) }
