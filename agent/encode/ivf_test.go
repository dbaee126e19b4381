//go:build cgo && !windows

// ffprobe, the independent decoder these tests use, is a Linux program; the
// Windows build of the tests (under Wine) checks its frames with libvpx's
// decoder in the round-trip tests instead.

package encode

import (
	"encoding/binary"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"porthole/agent/capture/capturetest"
)

// writeIVF stores VP8 frames in the IVF container (millisecond timebase).
func writeIVF(t *testing.T, path string, w, h int, frames [][]byte, pts []time.Duration) {
	t.Helper()
	hdr := make([]byte, 32)
	copy(hdr, "DKIF")
	binary.LittleEndian.PutUint16(hdr[6:], 32)
	copy(hdr[8:], "VP80")
	binary.LittleEndian.PutUint16(hdr[12:], uint16(w))
	binary.LittleEndian.PutUint16(hdr[14:], uint16(h))
	binary.LittleEndian.PutUint32(hdr[16:], 1000)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	binary.LittleEndian.PutUint32(hdr[24:], uint32(len(frames)))
	out := hdr
	for i, f := range frames {
		fh := make([]byte, 12)
		binary.LittleEndian.PutUint32(fh, uint32(len(f)))
		binary.LittleEndian.PutUint64(fh[4:], uint64(pts[i].Milliseconds()))
		out = append(append(out, fh...), f...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// An independent decoder (ffprobe) reads every frame of the stream.
func TestVP8WithFFprobe(t *testing.T) {
	const w, h, n = 320, 240, 20
	e := newVP8T(t, Config{Width: w, Height: h})
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	var frames [][]byte
	var pts []time.Duration
	for i := range n {
		capturetest.Draw(img, i)
		p := time.Duration(i) * 33 * time.Millisecond
		f, _, err := e.Encode(img, p, i == 10)
		if err != nil {
			t.Fatal(err)
		}
		frames, pts = append(frames, f), append(pts, p)
	}
	path := filepath.Join(t.TempDir(), "out.ivf")
	writeIVF(t, path, w, h, frames, pts)
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "vp8,320,240,20"; got != want {
		t.Errorf("ffprobe: %q, want %q", got, want)
	}
}
