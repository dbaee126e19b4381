package cli

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

func TestPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(cfg, []byte(`{"listen":"file:1","data-dir":"/file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PORTHOLE_DATA_DIR", "/env")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	listen := fs.String("listen", "default", "")
	dir := fs.String("data-dir", "default", "")
	other := fs.String("other", "default", "")
	fs.String("config", "", "")
	if err := Parse(fs, []string{"--config", cfg, "--other", "flag"}, "config"); err != nil {
		t.Fatal(err)
	}
	if *listen != "file:1" || *dir != "/env" || *other != "flag" {
		t.Fatalf("listen=%s dir=%s other=%s", *listen, *dir, *other)
	}
}

func TestUnknownConfigKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(cfg, []byte(`{"lisen":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("listen", "", "")
	fs.String("config", "", "")
	if err := Parse(fs, []string{"--config", cfg}, "config"); err == nil {
		t.Fatal("unknown key accepted")
	}
}
