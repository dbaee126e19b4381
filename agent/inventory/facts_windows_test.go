package inventory

import (
	"context"
	"os"
	"os/user"
	"strings"
	"testing"
)

// TestLoggedInUserIsTheConsoleUser: the console session's user, named
// bare for an account of this computer. (Under Wine the console session's
// user is the account the test runs as; on Windows the service is SYSTEM
// and this names the person at the console, not SYSTEM.)
func TestLoggedInUserIsTheConsoleUser(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	computer, _ := os.Hostname()
	want := me.Username
	if d, n, ok := strings.Cut(me.Username, `\`); ok && strings.EqualFold(d, computer) {
		want = n
	}
	if got := loggedInUser(context.Background()); got != want {
		t.Fatalf("loggedInUser = %q, want %q (os/user %q)", got, want, me.Username)
	}
	if n := osName(); !strings.HasPrefix(n, "Windows") && !strings.HasPrefix(n, "Microsoft Windows") {
		t.Errorf("osName = %q", n)
	}
}
