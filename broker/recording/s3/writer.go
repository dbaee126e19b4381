package s3

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minio/minio-go/v7"

	"porthole/broker/recording"
)

// writer is one recording file as a multipart upload with a local spool.
// Part k holds bytes [(k-1)·P, k·P). It is used by one goroutine (the
// recorder's), like the *os.File it stands in for.
type writer struct {
	s        *Store
	key      string
	uploadID string
	spool    *os.File

	size     int64 // bytes in the spool
	settled  int64 // bytes before this are final (-1: no hint, all are)
	uploaded int   // parts 1..uploaded are on the server
	etags    []string
	dirty    map[int]bool // uploaded parts written again since
	failing  bool         // the last upload failed (logged once per streak)
	closed   bool
}

var (
	_ recording.Writer  = (*writer)(nil)
	_ recording.Settler = (*writer)(nil)
)

func (w *writer) part() int64 { return w.s.cfg.PartSize }

// Write appends p to the spool and uploads the parts that are complete
// and final. An upload failure is not the write's: the bytes are safe in
// the spool, and the upload is retried with the next write and at Close.
func (w *writer) Write(p []byte) (int, error) {
	n, err := w.spool.WriteAt(p, w.size)
	w.size += int64(n)
	if err != nil {
		return n, err
	}
	w.upload()
	return n, nil
}

// WriteAt patches the spool; a part already uploaded is uploaded again at
// Close.
func (w *writer) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.spool.WriteAt(p, off)
	if n > 0 {
		for k := int(off/w.part()) + 1; k <= int((off+int64(n)-1)/w.part())+1 && k <= w.uploaded; k++ {
			w.dirty[k] = true
		}
		w.size = max(w.size, off+int64(n))
	}
	return n, err
}

// Truncate cuts the spool back (after a failed write); parts past the cut
// are uploaded again.
func (w *writer) Truncate(size int64) error {
	if err := w.spool.Truncate(size); err != nil {
		return err
	}
	w.size = size
	if full := int(size / w.part()); w.uploaded > full {
		w.uploaded = full
		w.etags = w.etags[:full]
	}
	return nil
}

// Settled records the muxer's hint and uploads what became final.
func (w *writer) Settled(off int64) {
	w.settled = off
	w.upload()
}

// Sync makes the spool durable; the uploaded parts are durable already.
func (w *writer) Sync() error { return w.spool.Sync() }

// upload sends every complete part whose bytes are final.
func (w *writer) upload() {
	limit := w.size
	if w.settled >= 0 && w.settled < limit {
		limit = w.settled
	}
	for int64(w.uploaded+1)*w.part() <= limit {
		if err := w.put(w.uploaded + 1); err != nil {
			if !w.failing {
				w.s.log.Warn("recording_part_upload_failed", "key", w.key, "part", w.uploaded+1, "err", err)
			}
			w.failing = true
			return
		}
		w.failing = false
		w.uploaded++
	}
}

// put uploads part k from the spool.
func (w *writer) put(k int) error {
	start := int64(k-1) * w.part()
	n := min(w.part(), w.size-start)
	ctx, cancel := ctxTimeout()
	defer cancel()
	p, err := w.s.core.PutObjectPart(ctx, w.s.cfg.Bucket, w.key, w.uploadID, k, io.NewSectionReader(w.spool, start, n), n,
		minio.PutObjectPartOptions{})
	if err != nil {
		return fmt.Errorf("upload part %d of %s: %w", k, w.key, err)
	}
	for len(w.etags) < k {
		w.etags = append(w.etags, "")
	}
	w.etags[k-1] = p.ETag
	delete(w.dirty, k)
	return nil
}

// Close uploads the rest and the patched parts, completes the upload and
// drops the spool. On failure the spool stays, for Recover.
func (w *writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	defer func() {
		w.s.mu.Lock()
		delete(w.s.writers, w.key)
		w.s.mu.Unlock()
	}()
	last := max(int((w.size+w.part()-1)/w.part()), 1)
	var err error
	for k := 1; k <= last && err == nil; k++ {
		if k > w.uploaded || w.dirty[k] || k == last {
			err = w.put(k)
		}
	}
	if err == nil {
		parts := make([]minio.CompletePart, last)
		for k := range parts {
			parts[k] = minio.CompletePart{PartNumber: k + 1, ETag: w.etags[k]}
		}
		ctx, cancel := ctxTimeout()
		_, err = w.s.core.CompleteMultipartUpload(ctx, w.s.cfg.Bucket, w.key, w.uploadID, parts, minio.PutObjectOptions{})
		cancel()
		if err != nil {
			err = fmt.Errorf("complete %s: %w", w.key, err)
		}
	}
	name := w.spool.Name()
	cerr := w.spool.Close()
	if err != nil {
		return errors.Join(err, cerr)
	}
	return os.Remove(name)
}
