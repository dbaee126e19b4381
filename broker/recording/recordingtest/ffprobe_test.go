package recordingtest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDecodeWarnings: frames closer together than the frame rate (a
// variable-rate recording, as a loaded sender makes) decode clean; two
// frames with one timestamp do not.
func TestDecodeWarnings(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.webm")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "1", "-c:v", "libvpx", "-b:v", "200k", src)
	for _, tc := range []struct {
		name  string
		shift int // ms frame 5 moves back from 5×33 (frame 4 is at 132)
		want  string
	}{
		{"regular", 0, ""},
		{"frames 2 ms apart", 31, ""},
		{"frames 17 ms apart", 16, ""},
		{"two frames at one time", 33, "non monotonically increasing dts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".webm")
			ffmpeg(t, "-i", src, "-c", "copy", "-bsf:v", fmt.Sprintf("setts=ts='N*33-if(eq(N,5),%d,0)'", tc.shift), path)
			got := decodeWarnings(t, path)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("ffmpeg said %q, want %q", got, tc.want)
			}
		})
	}
}

func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}
