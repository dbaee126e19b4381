package sandbox

import (
	"os"
	"testing"
)

const probe = "/etc/porthole-sandbox-probe"

// TestWritesStayInTheSandbox: a file written to /etc inside the sandbox
// is gone from the real /etc afterwards.
func TestWritesStayInTheSandbox(t *testing.T) {
	if Test(t) {
		if err := os.WriteFile(probe, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat("/etc/passwd"); err != nil {
			t.Fatalf("the /etc copy lacks passwd: %v", err)
		}
		return
	}
	if _, err := os.Stat(probe); !os.IsNotExist(err) {
		os.Remove(probe)
		t.Fatalf("a write inside the sandbox reached the real /etc: %v", err)
	}
}
