// Package s3 keeps recordings in an S3-compatible bucket (AWS S3, MinIO,
// SeaweedFS, Ceph RGW…): a recording.Backend.
//
// Objects are PREFIX/ID/NAME, like the directory layout. A file is written
// as a multipart upload while the session runs: the recorder writes into a
// local spool file (SPOOL/ID/NAME), and each part (PartSize, at least
// 5 MiB as S3 requires) is uploaded once the muxer says its bytes are final
// (recording.Settler). Closing the file uploads the rest, re-uploads the
// parts patched since (the WebM header: Duration, Cues' SeekHead, sizes),
// completes the upload and drops the spool. So a broker killed mid-session
// loses at most what was not uploaded yet — and nothing when its spool
// survives: Recover, at the next start, completes each upload left open
// for a recording from the spool when it is there, else from the parts
// already uploaded (the file then ends at a part boundary and plays to its
// last whole frame). The uploads themselves are listed from the bucket, so
// any broker sharing it can recover them.
//
// Reads (the player's range requests, digests) go through the broker: a
// live file is read from the spool, a finished one with ranged GETs.
// Optional S3 Object Lock puts a retention mode and period on every object
// as it is created.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"porthole/broker/recording"
)

// MinPartSize is the smallest part S3 accepts (but the last).
const MinPartSize = 5 << 20

// DefaultPartSize is the part size when Config.PartSize is zero.
const DefaultPartSize = 8 << 20

// opTimeout bounds one S3 request.
const opTimeout = 2 * time.Minute

// Config is where and how recordings are stored.
type Config struct {
	// Endpoint is the server: "https://s3.example.com", "http://127.0.0.1:8333"
	// or a bare host[:port] (HTTPS). Empty means AWS S3 in Region.
	Endpoint string
	Region   string
	Bucket   string
	Prefix   string // key prefix, without leading or trailing "/"
	// PathStyle addresses the bucket in the path (most self-hosted
	// servers) rather than as a subdomain.
	PathStyle bool
	// Credentials signs requests; nil means the standard AWS environment
	// variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
	Credentials *credentials.Credentials
	// PartSize is the multipart upload's part size (>= MinPartSize;
	// default DefaultPartSize): what a crash can lose when the spool is
	// lost with the broker.
	PartSize int64
	// SpoolDir holds the files being written (required; on local disk).
	SpoolDir string
	// LockMode ("GOVERNANCE" or "COMPLIANCE") and LockDays put an S3
	// Object Lock retention on every object; the bucket must have been
	// created with Object Lock enabled. Empty mode: no lock.
	LockMode string
	LockDays int
	Logger   *slog.Logger
}

// ParseURL reads "s3://bucket/prefix" into c's Bucket and Prefix.
func (c *Config) ParseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("recordings: %q is not s3://bucket/prefix", raw)
	}
	c.Bucket, c.Prefix = u.Host, strings.Trim(u.Path, "/")
	return nil
}

// Store is a recording.Backend on a bucket.
type Store struct {
	cfg  Config
	core minio.Core
	log  *slog.Logger

	mu      sync.Mutex         // guards writers
	writers map[string]*writer // open files by key
}

var _ recording.Backend = (*Store)(nil)

// Open connects to the bucket (it must exist) and prepares the spool.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("recordings: S3 bucket required")
	}
	if cfg.SpoolDir == "" {
		return nil, errors.New("recordings: S3 spool dir required")
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("recordings: S3 part size %d is below the 5 MiB S3 requires", cfg.PartSize)
	}
	switch cfg.LockMode {
	case "":
	case string(minio.Governance), string(minio.Compliance):
		if cfg.LockDays < 1 {
			return nil, errors.New("recordings: S3 object lock needs a retention of at least 1 day")
		}
	default:
		return nil, fmt.Errorf("recordings: S3 object lock mode %q (GOVERNANCE or COMPLIANCE)", cfg.LockMode)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.NewEnvAWS()
	}
	host, secure := cfg.Endpoint, true
	if host == "" {
		host = "s3.amazonaws.com"
		if cfg.Region != "" {
			host = "s3." + cfg.Region + ".amazonaws.com"
		}
	}
	if u, err := url.Parse(host); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		host, secure = u.Host, u.Scheme == "https"
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	cl, err := minio.New(host, &minio.Options{Creds: cfg.Credentials, Secure: secure, Region: cfg.Region, BucketLookup: lookup})
	if err != nil {
		return nil, fmt.Errorf("recordings: S3 client: %w", err)
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("recordings: spool: %w", err)
	}
	s := &Store{cfg: cfg, core: minio.Core{Client: cl}, log: cfg.Logger.With("component", "recordings_s3", "bucket", cfg.Bucket),
		writers: map[string]*writer{}}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	ok, err := cl.BucketExists(cctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("recordings: S3 bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("recordings: S3 bucket %s does not exist", cfg.Bucket)
	}
	return s, nil
}

// Close does nothing: open files are the recorders' to close.
func (s *Store) Close() error { return nil }

// key is the object key of a recording's file ("" name: the recording's
// prefix, with its trailing slash).
func (s *Store) key(id, name string) string {
	k := id + "/" + name
	if s.cfg.Prefix != "" {
		k = s.cfg.Prefix + "/" + k
	}
	return k
}

func (s *Store) spoolPath(id, name string) string { return filepath.Join(s.cfg.SpoolDir, id, name) }

func ctxTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// Create refuses an id that has objects or uploads already, and makes its
// spool directory.
func (s *Store) Create(id string) error {
	files, err := s.objects(id)
	if err != nil {
		return err
	}
	ups, err := s.uploads(id)
	if err != nil {
		return err
	}
	if len(files) > 0 || len(ups) > 0 {
		return fmt.Errorf("%w: %s", recording.ErrExists, id)
	}
	if err := os.Mkdir(filepath.Join(s.cfg.SpoolDir, id), 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s", recording.ErrExists, id)
		}
		return fmt.Errorf("recordings: spool: %w", err)
	}
	return nil
}

// putOptions are the options every new object gets.
func (s *Store) putOptions(name string) minio.PutObjectOptions {
	o := minio.PutObjectOptions{ContentType: "video/webm"}
	if name == recording.SidecarName {
		o.ContentType = "application/x-ndjson"
	}
	if s.cfg.LockMode != "" {
		o.Mode = minio.RetentionMode(s.cfg.LockMode)
		o.RetainUntilDate = time.Now().Add(time.Duration(s.cfg.LockDays) * 24 * time.Hour)
	}
	return o
}

// NewFile starts the file's multipart upload and its spool file.
func (s *Store) NewFile(id, name string) (recording.Writer, error) {
	key := s.key(id, name)
	ctx, cancel := ctxTimeout()
	defer cancel()
	uid, err := s.core.NewMultipartUpload(ctx, s.cfg.Bucket, key, s.putOptions(name))
	if err != nil {
		return nil, fmt.Errorf("start upload %s: %w", key, err)
	}
	f, err := os.OpenFile(s.spoolPath(id, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		_ = s.core.AbortMultipartUpload(ctx, s.cfg.Bucket, key, uid)
		return nil, err
	}
	w := &writer{s: s, key: key, uploadID: uid, spool: f, settled: -1, dirty: map[int]bool{}}
	s.mu.Lock()
	s.writers[key] = w
	s.mu.Unlock()
	return w, nil
}

// objects lists recording id's objects.
func (s *Store) objects(id string) ([]recording.BackendFile, error) {
	ctx, cancel := ctxTimeout()
	defer cancel()
	var out []recording.BackendFile
	prefix := s.key(id, "")
	for o := range s.core.Client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, o.Err)
		}
		name := strings.TrimPrefix(o.Key, prefix)
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		out = append(out, recording.BackendFile{Name: name, Size: o.Size, ModTime: o.LastModified})
	}
	return out, nil
}

// uploads lists the multipart uploads left open under recording id: key →
// upload ids.
func (s *Store) uploads(id string) (map[string][]string, error) {
	ctx, cancel := ctxTimeout()
	defer cancel()
	out := map[string][]string{}
	prefix := s.key(id, "")
	keyMarker, idMarker := "", ""
	for {
		res, err := s.core.ListMultipartUploads(ctx, s.cfg.Bucket, prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return nil, fmt.Errorf("list uploads %s: %w", prefix, err)
		}
		for _, u := range res.Uploads {
			if strings.HasPrefix(u.Key, prefix) {
				out[u.Key] = append(out[u.Key], u.UploadID)
			}
		}
		if !res.IsTruncated {
			return out, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// spooled lists the spool files of recording id (being written, or left
// by a crash).
func (s *Store) spooled(id string) []recording.BackendFile {
	ents, err := os.ReadDir(filepath.Join(s.cfg.SpoolDir, id))
	if err != nil {
		return nil
	}
	var out []recording.BackendFile
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil {
			out = append(out, recording.BackendFile{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
		}
	}
	return out
}

// Files lists the recording's objects, with the spool's version of a file
// still being written.
func (s *Store) Files(id string) ([]recording.BackendFile, error) {
	objs, err := s.objects(id)
	if err != nil {
		return nil, err
	}
	byName := map[string]recording.BackendFile{}
	for _, o := range objs {
		byName[o.Name] = o
	}
	for _, f := range s.spooled(id) {
		byName[f.Name] = f
	}
	if len(byName) == 0 {
		return nil, fmt.Errorf("%w: %s", recording.ErrNotFound, id)
	}
	out := make([]recording.BackendFile, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Open reads a file: from the spool while it is there, else the object.
func (s *Store) Open(id, name string) (io.ReadSeekCloser, recording.BackendFile, error) {
	if f, err := os.Open(s.spoolPath(id, name)); err == nil {
		fi, err := f.Stat()
		if err == nil && fi.Mode().IsRegular() {
			return f, recording.BackendFile{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
		}
		f.Close()
	}
	key := s.key(id, name)
	ctx, cancel := ctxTimeout()
	defer cancel()
	st, err := s.core.Client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, recording.BackendFile{}, fmt.Errorf("%w: %s/%s", recording.ErrNotFound, id, name)
		}
		return nil, recording.BackendFile{}, fmt.Errorf("stat %s: %w", key, err)
	}
	// The object reads lazily, with a ranged GET from wherever the reader
	// seeks: the player's range requests are served without fetching the
	// whole object. Its context must outlive this call.
	obj, err := s.core.Client.GetObject(context.Background(), s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, recording.BackendFile{}, fmt.Errorf("get %s: %w", key, err)
	}
	return obj, recording.BackendFile{Name: name, Size: st.Size, ModTime: st.LastModified}, nil
}

// IDs lists the recordings: the bucket's prefixes, and spool directories
// (recordings being written or left by a crash).
func (s *Store) IDs() ([]string, error) {
	ctx, cancel := ctxTimeout()
	defer cancel()
	seen := map[string]bool{}
	prefix := ""
	if s.cfg.Prefix != "" {
		prefix = s.cfg.Prefix + "/"
	}
	for o := range s.core.Client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, o.Err)
		}
		if id, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, prefix), "/"); ok && id != "" && !strings.Contains(id, "/") {
			seen[id] = true
		}
	}
	if ents, err := os.ReadDir(s.cfg.SpoolDir); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				seen[e.Name()] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	return out, nil
}

// Remove deletes the recording's objects, aborts its uploads and drops its
// spool. Objects under an Object Lock retention are refused by the server
// until it ends.
func (s *Store) Remove(id string) error {
	objs, err := s.objects(id)
	if err != nil {
		return err
	}
	ups, err := s.uploads(id)
	if err != nil {
		return err
	}
	spool := filepath.Join(s.cfg.SpoolDir, id)
	if _, serr := os.Stat(spool); len(objs) == 0 && len(ups) == 0 && serr != nil {
		return fmt.Errorf("%w: %s", recording.ErrNotFound, id)
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	var errs []error
	for key, ids := range ups {
		for _, uid := range ids {
			if err := s.core.AbortMultipartUpload(ctx, s.cfg.Bucket, key, uid); err != nil {
				errs = append(errs, fmt.Errorf("abort %s: %w", key, err))
			}
		}
	}
	for _, o := range objs {
		if err := s.core.Client.RemoveObject(ctx, s.cfg.Bucket, s.key(id, o.Name), minio.RemoveObjectOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", s.key(id, o.Name), err))
		}
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(spool); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete recording %s: %w", id, err)
	}
	return nil
}

// Recover completes every upload left open for recording id: from the
// spool when it survived (nothing lost), else from the parts the server
// has (the file ends at the last part). An upload with neither is aborted.
// A spool file with no upload (the crash came between the two) is put
// whole.
func (s *Store) Recover(id string) error {
	ups, err := s.uploads(id)
	if err != nil {
		return err
	}
	var errs []error
	done := map[string]bool{}
	for key, ids := range ups {
		name := path.Base(key)
		s.mu.Lock()
		live := s.writers[key] != nil
		s.mu.Unlock()
		if live {
			continue
		}
		for i, uid := range ids {
			// Only the newest upload of a key can be the file; older ones
			// (there should be none) are aborted.
			if i < len(ids)-1 {
				ctx, cancel := ctxTimeout()
				_ = s.core.AbortMultipartUpload(ctx, s.cfg.Bucket, key, uid)
				cancel()
				continue
			}
			if err := s.recoverUpload(id, name, key, uid); err != nil {
				errs = append(errs, err)
			}
			done[name] = true
		}
	}
	for _, f := range s.spooled(id) {
		key := s.key(id, f.Name)
		s.mu.Lock()
		live := s.writers[key] != nil
		s.mu.Unlock()
		if done[f.Name] || live {
			continue
		}
		if err := s.putSpool(id, f.Name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		_ = os.Remove(filepath.Join(s.cfg.SpoolDir, id)) // empty now
	}
	return errors.Join(errs...)
}

func (s *Store) recoverUpload(id, name, key, uid string) error {
	if f, err := os.OpenFile(s.spoolPath(id, name), os.O_RDWR, 0); err == nil {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		w := &writer{s: s, key: key, uploadID: uid, spool: f, size: fi.Size(), settled: -1, dirty: map[int]bool{}}
		s.log.Warn("recording_upload_recovered", "key", key, "from", "spool", "size", fi.Size())
		return w.Close() // uploads every part from the spool and completes
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	var parts []minio.CompletePart
	marker := 0
	for {
		res, err := s.core.ListObjectParts(ctx, s.cfg.Bucket, key, uid, marker, 1000)
		if err != nil {
			return fmt.Errorf("list parts %s: %w", key, err)
		}
		for _, p := range res.ObjectParts {
			parts = append(parts, minio.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag})
		}
		if !res.IsTruncated {
			break
		}
		marker = res.NextPartNumberMarker
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].PartNumber < parts[j].PartNumber })
	// Keep the run of parts from 1 without a gap: a file's bytes in order.
	n := 0
	for n < len(parts) && parts[n].PartNumber == n+1 {
		n++
	}
	if n == 0 {
		s.log.Warn("recording_upload_lost", "key", key, "reason", "no spool and no part uploaded")
		return s.core.AbortMultipartUpload(ctx, s.cfg.Bucket, key, uid)
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.cfg.Bucket, key, uid, parts[:n], minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("complete %s: %w", key, err)
	}
	s.log.Warn("recording_upload_recovered", "key", key, "from", "parts", "parts", n)
	return nil
}

// putSpool uploads a whole spool file as one object and drops it.
func (s *Store) putSpool(id, name string) error {
	p := s.spoolPath(id, name)
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	key := s.key(id, name)
	if _, err := s.core.Client.PutObject(ctx, s.cfg.Bucket, key, f, fi.Size(), s.putOptions(name)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return os.Remove(p)
}
