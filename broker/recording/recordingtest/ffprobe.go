// Package recordingtest checks recordings with an independent reader, the
// ffmpeg tools (apt ffmpeg), for this package's tests and the end-to-end
// ones: what a player will see, not what the writer meant.
package recordingtest

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Probe is what ffprobe reports about a video file.
type Probe struct {
	Codec    string  // "vp8"
	Width    int     //
	Height   int     //
	Duration float64 // seconds, from the container; 0 if it has none
	Frames   int     // frames decoded (-count_frames)
	LastPTS  float64 // seconds, presentation time of the last packet
}

func run(t testing.TB, name string, args ...string) (stdout, stderr []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.Bytes())
	}
	return out.Bytes(), errb.Bytes()
}

// ProbeFile runs ffprobe on path and fails t if it reports any error.
func ProbeFile(t testing.TB, path string) Probe {
	t.Helper()
	out, errs := run(t, "ffprobe", "-v", "error", "-count_frames",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames:format=duration",
		"-of", "json", path)
	if len(bytes.TrimSpace(errs)) > 0 {
		t.Fatalf("ffprobe %s: %s", path, errs)
	}
	var v struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			NbReadFrames string `json:"nb_read_frames"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	if len(v.Streams) != 1 {
		t.Fatalf("ffprobe %s: %d streams, want 1\n%s", path, len(v.Streams), out)
	}
	s := v.Streams[0]
	p := Probe{Codec: s.CodecName, Width: s.Width, Height: s.Height}
	p.Frames, _ = strconv.Atoi(s.NbReadFrames)
	p.Duration, _ = strconv.ParseFloat(v.Format.Duration, 64)

	out, _ = run(t, "ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=pts_time", "-of", "csv=p=0", path)
	lines := strings.Fields(string(out))
	if len(lines) > 0 {
		p.LastPTS, _ = strconv.ParseFloat(strings.TrimSuffix(lines[len(lines)-1], ","), 64)
	}
	return p
}

// Decode decodes every frame of path with ffmpeg and fails t on any error
// or warning ffmpeg prints (corrupt frames, missing references, bad
// timestamps).
func Decode(t testing.TB, path string) {
	t.Helper()
	if errs := decodeWarnings(t, path); errs != "" {
		t.Fatalf("ffmpeg decode %s: %s", path, errs)
	}
}

// decodeWarnings is what ffmpeg prints decoding every frame of path. Frames
// keep their own timestamps (-fps_mode passthrough) on WebM's millisecond
// time base (-enc_time_base 1:1000): the writer keeps them strictly
// increasing, but its frames are as far apart as the sender made them, and
// ffmpeg's default output time base (1/frame rate) merges two frames less
// than a frame apart into one timestamp and complains about the file for it.
func decodeWarnings(t testing.TB, path string) string {
	t.Helper()
	_, errs := run(t, "ffmpeg", "-nostdin", "-v", "warning", "-xerror", "-i", path, "-fps_mode", "passthrough",
		"-enc_time_base:v", "1:1000", "-f", "null", "-")
	return string(bytes.TrimSpace(errs))
}
