// Package s3test runs a real S3-compatible server for tests: SeaweedFS's
// `weed mini` (built once into a cache by scripts/build-seaweedfs.sh),
// every port on 127.0.0.1, data in the test's temp dir, telemetry off,
// stopped at cleanup.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The credentials the server accepts (a throwaway server's).
const (
	AccessKey = "porthole-test"
	SecretKey = "porthole-test-secret-key"
)

// Server is a running S3 server.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Client   *minio.Client
	LogPath  string
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the weed binary, building it (once per machine) if needed.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "build-seaweedfs.sh")
		var stderr bytes.Buffer
		cmd := exec.Command(script)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			binErr = fmt.Errorf("build seaweedfs: %v\n%s", err, stderr.String())
			return
		}
		binPath = strings.TrimSpace(string(out))
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// freePorts reserves n distinct free TCP ports on 127.0.0.1 below the
// ephemeral range where possible (weed derives nothing from them: every
// port is given explicitly).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []int
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out
}

// Start runs a fresh server and waits until it answers S3 requests.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `{"identities":[{"name":"porthole","credentials":[{"accessKey":%q,"secretKey":%q}],`+
		`"actions":["Admin","Read","Write","List","Tagging"]}]}`, AccessKey, SecretKey), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t, 10)
	args := []string{"mini", "-dir=" + data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.telemetry=false", "-webdav=false", "-admin.ui=false", "-admin.port.legacy=0",
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config=" + cfg,
		fmt.Sprintf("-admin.port=%d", p[0]), fmt.Sprintf("-admin.port.grpc=%d", p[1]),
		fmt.Sprintf("-master.port=%d", p[2]), fmt.Sprintf("-master.port.grpc=%d", p[3]),
		fmt.Sprintf("-volume.port=%d", p[4]), fmt.Sprintf("-volume.port.grpc=%d", p[5]),
		fmt.Sprintf("-filer.port=%d", p[6]), fmt.Sprintf("-filer.port.grpc=%d", p[7]),
		fmt.Sprintf("-s3.port=%d", p[8]), fmt.Sprintf("-s3.port.grpc=%d", p[9]),
		"-filer.localSocket=" + filepath.Join(dir, "filer.sock"), "-s3.localSocket=" + filepath.Join(dir, "s3.sock"),
	}
	logPath := filepath.Join(dir, "weed.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", p[8]), LogPath: logPath}
	s.Client, err = minio.New(fmt.Sprintf("127.0.0.1:%d", p[8]), &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""),
		BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := s.Client.ListBuckets(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("weed exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("weed did not answer S3 within 90s: %v\n%s", err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

// Bucket creates a bucket (with Object Lock enabled when lock is true).
func (s *Server) Bucket(t testing.TB, name string, lock bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client.MakeBucket(ctx, name, minio.MakeBucketOptions{ObjectLocking: lock}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
}

// Get reads a whole object.
func (s *Server) Get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := s.Client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(o); err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return b.Bytes()
}
