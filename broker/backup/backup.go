// Package backup writes and restores a broker's state as one file: a
// consistent snapshot of the SQLite database taken while the broker runs
// (VACUUM INTO), the files beside it in the data dir that the broker needs
// to read its own data (the secret key that seals TOTP seeds, the TLS
// certificate agents pinned, any other key file), and a manifest with each
// file's size and SHA-256 and the audit chain's head in the snapshot.
//
// The file is a gzipped tar, optionally encrypted with a passphrase (age,
// scrypt). Unencrypted, it holds the secret key next to the data it
// protects: whoever reads the file can read the TOTP seeds, so it must be
// kept like a password. Recordings are not included (they are large and
// verifiable on their own: back up the recordings directory or bucket
// separately).
//
// Restore refuses a data dir that is not empty unless forced, checks every
// file against the manifest, verifies the audit chain of the restored
// database and writes the audit anchor for its head, so the broker starts
// on it as on its own.
package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"filippo.io/age"

	"porthole/broker/audit"
	"porthole/broker/store"
)

// Errors, matched with errors.Is.
var (
	// ErrNotEmpty refuses to restore over a data dir that holds files.
	ErrNotEmpty = errors.New("backup: data dir is not empty (use --force to replace its broker state)")
	// ErrFormat means the file is not a Porthole backup or is damaged.
	ErrFormat = errors.New("backup: not a valid backup file")
	// ErrPassphrase means the backup is encrypted and the passphrase is
	// missing or wrong.
	ErrPassphrase = errors.New("backup: wrong or missing passphrase")
	// ErrChain means the restored database's audit chain does not verify.
	ErrChain = errors.New("backup: audit chain does not verify")
)

// Format is the manifest's format version.
const Format = 1

// DBName is the database's file name in the data dir and in the backup.
const DBName = "porthole.db"

// ManifestName is the manifest's name in the backup.
const ManifestName = "MANIFEST.json"

// anchorName is the audit anchor's file (broker.AuditAnchorPath), which
// restore writes afresh for the snapshot's head.
const anchorName = "audit-head"

// maxFile bounds what restore accepts for one file (the database
// included), so a hostile archive cannot fill the disk.
const maxFile = 64 << 30

// maxManifest bounds the manifest.
const maxManifest = 1 << 20

// nameRE is what a file name in a backup may be: one plain name, never a
// path.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Manifest describes a backup.
type Manifest struct {
	Format    int       `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	Schema    int       `json:"schema"` // newest migration applied in the snapshot
	AuditSeq  int64     `json:"audit_seq"`
	AuditHash string    `json:"audit_hash"`
	Files     []File    `json:"files"`
}

// File is one file of a backup.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Options tunes Create and Restore.
type Options struct {
	// Passphrase encrypts (Create) or decrypts (Restore) the backup; empty
	// means unencrypted.
	Passphrase string
	// Force lets Restore replace the broker state in a data dir that is not
	// empty (the database, its WAL, the anchor and the files the backup
	// holds; other files are left alone).
	Force bool
	// WorkFactor is the scrypt work factor (log2 N) for an encrypted
	// backup; 0 means age's default (18, about a second). Only tests
	// lower it.
	WorkFactor int
}

// Result says what Create wrote or Restore restored.
type Result struct {
	Manifest Manifest
	// Verified is how many audit records were checked (Restore; Create
	// checks the snapshot too).
	Verified int64
	// Encrypted says whether the backup is encrypted.
	Encrypted bool
}

// skip says whether a data-dir entry stays out of a backup: the live
// database (the snapshot replaces it), the anchor (restore writes it for
// the snapshot) and temporary files.
func skip(name string) bool {
	switch {
	case name == DBName, strings.HasPrefix(name, DBName+"-"), name == anchorName, strings.HasSuffix(name, ".tmp"):
		return true
	}
	return !nameRE.MatchString(name)
}

// Create writes a backup of the broker state in dataDir to w. It may run
// while the broker runs: the snapshot is one read transaction.
func Create(ctx context.Context, dataDir string, w io.Writer, opts Options) (Result, error) {
	tmp, err := os.MkdirTemp(dataDir, ".backup-")
	if err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, DBName)
	if err := snapshot(ctx, filepath.Join(dataDir, DBName), snap); err != nil {
		return Result{}, err
	}
	man := Manifest{Format: Format, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	verified, err := inspect(ctx, snap, &man)
	if err != nil {
		return Result{}, err
	}
	paths := map[string]string{DBName: snap}
	ents, err := os.ReadDir(dataDir)
	if err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || skip(e.Name()) {
			continue
		}
		paths[e.Name()] = filepath.Join(dataDir, e.Name())
	}
	names := make([]string, 0, len(paths))
	for n := range paths {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := digestFile(paths[n])
		if err != nil {
			return Result{}, err
		}
		f.Name = n
		man.Files = append(man.Files, f)
	}

	out := w
	var enc io.WriteCloser
	if opts.Passphrase != "" {
		r, err := age.NewScryptRecipient(opts.Passphrase)
		if err != nil {
			return Result{}, fmt.Errorf("backup: %w", err)
		}
		if opts.WorkFactor > 0 {
			r.SetWorkFactor(opts.WorkFactor)
		}
		if enc, err = age.Encrypt(w, r); err != nil {
			return Result{}, fmt.Errorf("backup: encrypt: %w", err)
		}
		out = enc
	}
	zw := gzip.NewWriter(out)
	tw := tar.NewWriter(zw)
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return Result{}, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(mb)), ModTime: man.CreatedAt,
		Typeflag: tar.TypeReg}); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	if _, err := tw.Write(mb); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	for _, f := range man.Files {
		if err := addFile(tw, paths[f.Name], f); err != nil {
			return Result{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	if err := zw.Close(); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return Result{}, fmt.Errorf("backup: encrypt: %w", err)
		}
	}
	return Result{Manifest: man, Verified: verified, Encrypted: enc != nil}, nil
}

// snapshot copies the live database at src into dst in one read
// transaction (VACUUM INTO), without migrating or writing src.
func snapshot(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup: no database: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(src)+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", src, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("backup: snapshot %s: %w", src, err)
	}
	return nil
}

// inspect verifies the audit chain of the database at path and fills the
// manifest's schema and audit head. It opens a copy's store, which applies
// no migration to a database of the same version.
func inspect(ctx context.Context, path string, man *Manifest) (int64, error) {
	n, _, err := inspectSigned(ctx, path, man, nil)
	return n, err
}

// inspectSigned is inspect that also checks the signed head against pub
// (when not nil) and returns the head's signature (nil for a log from
// before audit signing), which the restored anchor carries.
func inspectSigned(ctx context.Context, path string, man *Manifest, pub ed25519.PublicKey) (int64, []byte, error) {
	st, err := store.Open(ctx, path)
	if err != nil {
		return 0, nil, fmt.Errorf("backup: open snapshot: %w", err)
	}
	defer st.Close()
	if man.Schema, err = st.SchemaVersion(ctx); err != nil {
		return 0, nil, fmt.Errorf("backup: %w", err)
	}
	log := audit.New(st, nil)
	if pub != nil {
		log = log.WithPublicKey(pub)
	}
	n, err := log.Verify(ctx)
	if err != nil {
		return n, nil, fmt.Errorf("%w: %w (after %d good records)", ErrChain, err, n)
	}
	head, err := st.AuditRecords(ctx, store.AuditFilter{Descending: true, Limit: 1})
	if err != nil {
		return n, nil, fmt.Errorf("backup: %w", err)
	}
	if len(head) > 0 {
		man.AuditSeq, man.AuditHash = head[0].Seq, head[0].Hash
	}
	signed, ok, err := st.AuditHead(ctx)
	if err != nil {
		return n, nil, fmt.Errorf("backup: %w", err)
	}
	if !ok || signed.Seq != man.AuditSeq {
		return n, nil, nil
	}
	return n, signed.Sig, nil
}

func digestFile(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("backup: read %s: %w", path, err)
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// addFile writes path into the archive, refusing a file that changed since
// it was digested.
func addFile(tw *tar.Writer, path string, want File) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	sum := sha256.Sum256(b)
	if int64(len(b)) != want.Size || hex.EncodeToString(sum[:]) != want.SHA256 {
		return fmt.Errorf("backup: %s changed while it was being backed up; run the backup again", want.Name)
	}
	if err := tw.WriteHeader(&tar.Header{Name: want.Name, Mode: 0o600, Size: want.Size, ModTime: time.Now().UTC().Truncate(time.Second),
		Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := tw.Write(b); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// ageMagic starts every age-encrypted file.
var ageMagic = []byte("age-encryption.org/v1\n")

// Read opens a backup from r (decrypting it with passphrase when it is
// encrypted) and writes its files into dir, which must exist and be empty,
// checking each against the manifest. It returns the manifest and whether
// the backup was encrypted. Nothing outside dir is ever written: names are
// plain file names, and only regular files are accepted.
func Read(r io.Reader, dir, passphrase string) (Manifest, bool, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(len(ageMagic))
	in := io.Reader(br)
	encrypted := bytes.Equal(head, ageMagic)
	if encrypted {
		if passphrase == "" {
			return Manifest{}, true, fmt.Errorf("%w: the backup is encrypted", ErrPassphrase)
		}
		id, err := age.NewScryptIdentity(passphrase)
		if err != nil {
			return Manifest{}, true, fmt.Errorf("%w: %w", ErrPassphrase, err)
		}
		dec, err := age.Decrypt(br, id)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				return Manifest{}, true, ErrPassphrase
			}
			return Manifest{}, true, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		in = dec
	}
	zr, err := gzip.NewReader(in)
	if err != nil {
		return Manifest{}, encrypted, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	tr := tar.NewReader(zr)
	hdr, err := tr.Next()
	if err != nil || hdr.Name != ManifestName || hdr.Typeflag != tar.TypeReg || hdr.Size > maxManifest {
		return Manifest{}, encrypted, fmt.Errorf("%w: no manifest first", ErrFormat)
	}
	var man Manifest
	dec := json.NewDecoder(io.LimitReader(tr, maxManifest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&man); err != nil {
		return Manifest{}, encrypted, fmt.Errorf("%w: manifest: %w", ErrFormat, err)
	}
	if err := man.check(); err != nil {
		return man, encrypted, err
	}
	want := map[string]File{}
	for _, f := range man.Files {
		want[f.Name] = f
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return man, encrypted, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		f, ok := want[hdr.Name]
		if !ok || hdr.Typeflag != tar.TypeReg || hdr.Size != f.Size {
			return man, encrypted, fmt.Errorf("%w: unexpected entry %q", ErrFormat, hdr.Name)
		}
		delete(want, hdr.Name)
		if err := writeChecked(filepath.Join(dir, f.Name), tr, f); err != nil {
			return man, encrypted, err
		}
	}
	if len(want) > 0 {
		var missing []string
		for n := range want {
			missing = append(missing, n)
		}
		sort.Strings(missing)
		return man, encrypted, fmt.Errorf("%w: missing %s", ErrFormat, strings.Join(missing, ", "))
	}
	return man, encrypted, nil
}

// check validates a decoded manifest.
func (m Manifest) check() error {
	if m.Format != Format {
		return fmt.Errorf("%w: format %d (this broker reads %d)", ErrFormat, m.Format, Format)
	}
	seen := map[string]bool{}
	hasDB := false
	for _, f := range m.Files {
		if !nameRE.MatchString(f.Name) || f.Name == ManifestName || f.Name == anchorName || seen[f.Name] {
			return fmt.Errorf("%w: bad file name %q", ErrFormat, f.Name)
		}
		if f.Size < 0 || f.Size > maxFile {
			return fmt.Errorf("%w: %s: bad size %d", ErrFormat, f.Name, f.Size)
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("%w: %s: bad digest", ErrFormat, f.Name)
		}
		seen[f.Name] = true
		hasDB = hasDB || f.Name == DBName
	}
	if !hasDB {
		return fmt.Errorf("%w: no database", ErrFormat)
	}
	return nil
}

// writeChecked copies exactly f.Size bytes from r into a new file at path
// and checks their digest.
func writeChecked(path string, r io.Reader, f File) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, f.Size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: write %s: %w", f.Name, err)
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%w: %s does not match its digest", ErrFormat, f.Name)
	}
	return nil
}

// Restore restores the backup in r into dataDir (created if needed): it
// unpacks into a staging directory inside dataDir, verifies the database's
// audit chain and that its head is the manifest's, writes the audit anchor,
// and only then moves the files into place.
func Restore(ctx context.Context, r io.Reader, dataDir string, opts Options) (Result, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	ents, err := os.ReadDir(dataDir)
	if err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	if len(ents) > 0 && !opts.Force {
		return Result{}, fmt.Errorf("%w: %s", ErrNotEmpty, dataDir)
	}
	stage, err := os.MkdirTemp(dataDir, ".restore-")
	if err != nil {
		return Result{}, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(stage)
	man, encrypted, err := Read(r, stage, opts.Passphrase)
	res := Result{Manifest: man, Encrypted: encrypted}
	if err != nil {
		return res, err
	}
	// The backup's own public key (audit.pub) checks the signed head: a
	// consistency check of the backup, not a trust anchor (ADR 0010).
	var pub ed25519.PublicKey
	if _, err := os.Stat(filepath.Join(stage, audit.PublicKeyFile)); err == nil {
		if pub, err = audit.ParsePublicKey(filepath.Join(stage, audit.PublicKeyFile)); err != nil {
			return res, fmt.Errorf("backup: %w", err)
		}
	}
	var got Manifest
	var sig []byte
	res.Verified, sig, err = inspectSigned(ctx, filepath.Join(stage, DBName), &got, pub)
	if err != nil {
		return res, err
	}
	if got.AuditSeq != man.AuditSeq || got.AuditHash != man.AuditHash {
		return res, fmt.Errorf("%w: the database ends at record %d, the manifest says %d", ErrChain, got.AuditSeq, man.AuditSeq)
	}
	// The snapshot was opened: drop the WAL files that opening left, so
	// only the database itself moves.
	for _, suffix := range []string{"-wal", "-shm"} {
		_ = os.Remove(filepath.Join(stage, DBName+suffix))
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(dataDir, DBName+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, fmt.Errorf("backup: %w", err)
		}
	}
	for _, f := range man.Files {
		if err := os.Rename(filepath.Join(stage, f.Name), filepath.Join(dataDir, f.Name)); err != nil {
			return res, fmt.Errorf("backup: %w", err)
		}
	}
	anchor := filepath.Join(dataDir, anchorName)
	if err := os.Remove(anchor); err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("backup: %w", err)
	}
	if man.AuditSeq > 0 {
		a := audit.NewAnchor(anchor)
		a.Publish(store.AuditRecord{Seq: man.AuditSeq, Hash: man.AuditHash, HeadSig: sig})
		a.Close() // writes it now
		if b, err := os.ReadFile(anchor); err != nil || !strings.Contains(" "+string(b), " "+fmt.Sprint(man.AuditSeq)+" "+man.AuditHash) {
			return res, fmt.Errorf("backup: write audit anchor %s: %v", anchor, err)
		}
	}
	return res, nil
}
