package inputtest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"porthole/internal/wire"
)

var update = flag.Bool("update", false, "rewrite webclient/static/keys.js from wire.KeyCodes()")

var keysJS = filepath.Join("..", "static", "keys.js")

// keysSource is keys.js as generated from the Go allow-list.
func keysSource() string {
	var b strings.Builder
	b.WriteString("// keys.js: the KeyboardEvent.code allow-list of the input data channel,\n")
	b.WriteString("// mirroring wire.KeyCodes() (internal/wire/input.go). Keys outside it are\n")
	b.WriteString("// not forwarded. Generated: go test ./webclient/inputtest -run TestKeysJS -update\n\n")
	b.WriteString("export const KEY_CODES = Object.freeze([\n")
	for _, c := range wire.KeyCodes() {
		b.WriteString("  '" + c + "',\n")
	}
	b.WriteString("]);\n")
	return b.String()
}

// TestKeysJS keeps the page's allow-list equal to the one DecodeInput
// enforces: a key the page sends but the broker refuses would be lost, and a
// key the broker accepts but the page drops could never be typed.
func TestKeysJS(t *testing.T) {
	want := keysSource()
	if *update {
		if err := os.WriteFile(keysJS, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(keysJS)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s differs from wire.KeyCodes(); run go test ./webclient/inputtest -run TestKeysJS -update", keysJS)
	}
}
