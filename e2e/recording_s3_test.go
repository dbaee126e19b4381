package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"porthole/broker"
	"porthole/broker/recording/s3"
	"porthole/internal/browsertest"
	"porthole/internal/s3test"
)

// s3Objects lists a bucket's keys under prefix with their sizes.
func s3Objects(t *testing.T, srv *s3test.Server, bucket, prefix string) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]int64{}
	for o := range srv.Client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out[o.Key] = o.Size
	}
	return out
}

// s3File downloads an object into a temp file, for ffprobe and ffmpeg.
func s3File(t *testing.T, srv *s3test.Server, bucket, key string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), filepath.Base(key))
	if err := os.WriteFile(p, srv.Get(t, bucket, key), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRecordingS3Replay: with recordings in a real S3-compatible server
// (SeaweedFS), a real session becomes objects in the bucket (VP8 WebM that
// ffprobe reads with the session's duration and ffmpeg decodes, and the
// sidecar), nothing stays in the spool, the auditor plays and seeks it in
// the portal through the broker (range requests; no bucket credentials
// reach the browser), and it verifies against its audited digests.
func TestRecordingS3Replay(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "porthole", false)
	dir := t.TempDir()
	e := startBrokerWith(t, dir, nil, func(c *broker.Config) {
		c.RecordingsS3 = &s3.Config{Endpoint: srv.Endpoint, Region: "us-east-1", Bucket: "porthole", Prefix: "recs", PathStyle: true,
			Credentials: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, "")}
	})
	admin := e.login(t, "admin", e.Password)
	ep := startEndpoint(t, e, admin)
	ctx := browsertest.New(t)
	id := runSession(t, ctx, e, admin, ep, 2, 6*time.Second)
	waitFor(t, "recording finished", 20*time.Second, func() bool {
		var r recordingRow
		admin.do("GET", "/api/recordings/"+id, nil, &r)
		return r.State == "finished"
	})
	objs := s3Objects(t, srv, "porthole", "recs/")
	if objs["recs/"+id+"/1.webm"] == 0 || objs["recs/"+id+"/events.jsonl"] == 0 || len(objs) != 2 {
		t.Fatalf("objects after the session: %v", objs)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "recordings-spool", id)); len(ents) != 0 {
		t.Fatalf("spool left: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(dir, "recordings")); err == nil {
		t.Fatal("a recordings directory was created")
	}
	p := checkSessionFile(t, admin, id, s3File(t, srv, "porthole", "recs/"+id+"/1.webm"))

	replayAndSeek(t, ctx, e, admin, id, p.Duration)
	// The browser fetched the video from the broker, never from the bucket.
	if urls := evalString(t, ctx, `performance.getEntriesByType('resource').map((r) => r.name).join(' ')`); strings.Contains(urls, srv.Endpoint) ||
		!strings.Contains(urls, "/api/recordings/"+id+"/files/1") {
		t.Fatalf("the player fetched: %s", urls)
	}
	req, _ := http.NewRequest("GET", e.URL+"/api/recordings/"+id+"/files/1", nil)
	req.Header.Set("Range", "bytes=1000-1999")
	res, err := admin.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 206 || res.ContentLength != 1000 {
		t.Fatalf("range request: %d, %d bytes", res.StatusCode, res.ContentLength)
	}
	var checks []struct {
		OK    bool
		Error string
	}
	if st, body := admin.do("GET", "/api/recordings/verify?id="+id, nil, &checks); st != 200 || len(checks) != 1 || !checks[0].OK {
		t.Fatalf("verify: %d %s", st, body)
	}
}

// TestRecordingS3SurvivesBrokerKill: SIGKILL of the broker binary in the
// middle of a session recorded to S3 leaves, after the restart, a listed
// object that ffprobe reads up to a few seconds before the kill and ffmpeg
// decodes; it is audited as recovered and verifies.
func TestRecordingS3SurvivesBrokerKill(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "porthole", false)
	dir := t.TempDir()
	env := []string{"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey}
	flags := []string{"--recordings", "s3://porthole/recs", "--s3-endpoint", srv.Endpoint, "--s3-region", "us-east-1", "--s3-path-style"}
	bp := startBrokerBinary(t, dir, env, flags...)
	id, live := liveThenKill(t, bp)
	if objs := s3Objects(t, srv, "porthole", "recs/"); len(objs) != 0 {
		t.Fatalf("objects before recovery: %v", objs)
	}

	bp2 := startBrokerBinary(t, dir, env, flags...)
	admin2 := bp2.login(t, "admin", bp.Password)
	var r recordingRow
	if st, body := admin2.do("GET", "/api/recordings/"+id, nil, &r); st != 200 || r.State != "interrupted" {
		t.Fatalf("recording after restart: %d %s", st, body)
	}
	objs := s3Objects(t, srv, "porthole", "recs/")
	if objs["recs/"+id+"/1.webm"] == 0 || objs["recs/"+id+"/events.jsonl"] == 0 {
		t.Fatalf("objects after recovery: %v", objs)
	}
	checkCutRecording(t, s3File(t, srv, "porthole", "recs/"+id+"/1.webm"), live)
	checkRecovered(t, admin2, id)
}
