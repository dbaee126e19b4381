package xvfb

import (
	"os/exec"
	"strings"
	"testing"
)

func TestStartTwoDisplays(t *testing.T) {
	a := StartT(t, Options{Width: 640, Height: 480})
	b := StartT(t, Options{Width: 800, Height: 600})
	if a.Display == b.Display {
		t.Fatalf("both displays are %s", a.Display)
	}
	for _, tc := range []struct {
		s    *Server
		want string
	}{{a, "640x480"}, {b, "800x600"}} {
		cmd := exec.Command("xdpyinfo")
		cmd.Env = tc.s.Env()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("xdpyinfo on %s: %v\n%s", tc.s.Display, err, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("display %s: want %s in xdpyinfo", tc.s.Display, tc.want)
		}
	}
}
