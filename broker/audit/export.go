package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	"porthole/broker/store"
)

// Signed exports (ADR 0010). A JSON Lines export is
//
//	{"porthole_export_header":{"version":1,"public_key":"…","filtered":false}}
//	{"seq":1,…}                  one audit.Record per line, oldest first
//	…
//	{"porthole_export_trailer":{"version":1,"records":N,"first_seq":…,"last_seq":…,
//	  "last_hash":"…","digest":"…","filtered":false,"exported_at":"…","signature":"…"}}
//
// The trailer's signature (the broker's audit key) covers the number of
// records, the first and last record, a digest of every record's hash in
// order, and whether the export was filtered. Each record's hash covers
// its content, so a record changed, removed or added anywhere, a file cut
// short, a missing or forged trailer are all detected; an unfiltered export
// is also checked as a chain from record 1.

// ExportVersion is the version of the header and trailer.
const ExportVersion = 1

// ExportHeader opens a signed export.
type ExportHeader struct {
	Version   int    `json:"version"`
	PublicKey string `json:"public_key"` // standard base64
	Filtered  bool   `json:"filtered"`
}

// ExportTrailer closes a signed export.
type ExportTrailer struct {
	Version    int       `json:"version"`
	Records    int64     `json:"records"`
	FirstSeq   int64     `json:"first_seq"`
	LastSeq    int64     `json:"last_seq"`
	LastHash   string    `json:"last_hash"`
	Digest     string    `json:"digest"` // hex SHA-256 over the records' hashes, in order
	Filtered   bool      `json:"filtered"`
	ExportedAt time.Time `json:"exported_at"`
	Signature  []byte    `json:"signature"`
}

// payload is what the trailer's signature covers.
func (t ExportTrailer) payload() []byte {
	return []byte(exportDomain + strings.Join([]string{strconv.Itoa(t.Version), strconv.FormatInt(t.Records, 10),
		strconv.FormatInt(t.FirstSeq, 10), strconv.FormatInt(t.LastSeq, 10), t.LastHash, t.Digest, strconv.FormatBool(t.Filtered),
		t.ExportedAt.UTC().Format(time.RFC3339Nano)}, "\n"))
}

// exportLine is a header or trailer line.
type exportLine struct {
	Header  *ExportHeader  `json:"porthole_export_header,omitempty"`
	Trailer *ExportTrailer `json:"porthole_export_trailer,omitempty"`
}

// Export signs one export as its records are written.
type Export struct {
	signer   *Signer
	filtered bool
	t        ExportTrailer
	digest   hash.Hash
}

// NewExport starts a signed export; filtered says whether it holds a
// selection of the log rather than all of it.
func (l *Log) NewExport(filtered bool) (*Export, error) {
	if l.signer == nil {
		return nil, errors.New("audit: exports are signed: the log has no signing key")
	}
	return &Export{signer: l.signer, filtered: filtered, t: ExportTrailer{Version: ExportVersion, Filtered: filtered},
		digest: sha256.New()}, nil
}

// Header is the export's first line (JSON, no newline).
func (e *Export) Header() ([]byte, error) {
	return json.Marshal(exportLine{Header: &ExportHeader{Version: ExportVersion, PublicKey: e.signer.PublicKeyText(), Filtered: e.filtered}})
}

// Add counts rec, which the caller writes.
func (e *Export) Add(rec store.AuditRecord) {
	if e.t.Records == 0 {
		e.t.FirstSeq = rec.Seq
	}
	e.t.Records++
	e.t.LastSeq, e.t.LastHash = rec.Seq, rec.Hash
	e.digest.Write([]byte(rec.Hash + "\n"))
}

// Trailer is the export's last line, signed (JSON, no newline).
func (e *Export) Trailer(now time.Time) ([]byte, error) {
	t := e.t
	t.Digest = hex.EncodeToString(e.digest.Sum(nil))
	t.ExportedAt = now.UTC()
	t.Signature = ed25519.Sign(e.signer.priv, t.payload())
	return json.Marshal(exportLine{Trailer: &t})
}

// Export verification errors, matched with errors.Is. A record that fails
// its own hash or the chain is a *BrokenError.
var (
	// ErrExportUnsigned: no header and no trailer: an export from a broker
	// before signed exports, or one whose signature lines were removed.
	ErrExportUnsigned = errors.New("audit: export is unsigned")
	// ErrExportTruncated: fewer records than the signed trailer counts, or
	// no trailer after a header (the file was cut short).
	ErrExportTruncated = errors.New("audit: export is truncated")
	// ErrExportSignature: the trailer's signature does not verify, or the
	// records do not match what it signs.
	ErrExportSignature = errors.New("audit: export signature does not verify")
	// ErrExportKey: signed by another key than the one expected.
	ErrExportKey = errors.New("audit: export is signed by another key")
	// ErrExportMalformed: a line that is no record, header or trailer, or
	// one out of place.
	ErrExportMalformed = errors.New("audit: export is malformed")
)

// ExportResult is what a verified export holds.
type ExportResult struct {
	Records  int64
	Filtered bool
	Trailer  ExportTrailer
}

// MaxExportLine bounds one line of an export.
const MaxExportLine = 4 << 20

// VerifyExport checks a JSON Lines export against pub in constant memory.
// It returns how many records it checked with the first failure.
func VerifyExport(r io.Reader, pub ed25519.PublicKey) (ExportResult, error) {
	var (
		res      ExportResult
		header   *ExportHeader
		trailer  *ExportTrailer
		chain    Verifier
		chainErr error // the first break of the chain: fatal only for an unfiltered export
		digest   = sha256.New()
		lineNo   int
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxExportLine)
	for sc.Scan() {
		lineNo++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if trailer != nil {
			return res, fmt.Errorf("%w: line %d follows the trailer", ErrExportMalformed, lineNo)
		}
		if bytes.HasPrefix(line, []byte(`{"porthole_export_`)) {
			var el exportLine
			if err := strictJSON(line, &el); err != nil || (el.Header == nil) == (el.Trailer == nil) {
				return res, fmt.Errorf("%w: line %d: %v", ErrExportMalformed, lineNo, err)
			}
			if el.Header != nil {
				if lineNo != 1 || header != nil {
					return res, fmt.Errorf("%w: the header is line %d, not the first", ErrExportMalformed, lineNo)
				}
				header = el.Header
				continue
			}
			trailer = el.Trailer
			continue
		}
		var rec Record
		if err := strictJSON(line, &rec); err != nil {
			return res, fmt.Errorf("%w: line %d (after record %d): %v", ErrExportMalformed, lineNo, res.Records, err)
		}
		st := rec.Stored()
		if Hash(st) != st.Hash {
			return res, &BrokenError{Seq: st.Seq, Reason: "altered"}
		}
		if chainErr == nil {
			chainErr = chain.Add(st)
		}
		digest.Write([]byte(st.Hash + "\n"))
		res.Records++
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("%w: line %d: %v", ErrExportMalformed, lineNo+1, err)
	}
	switch {
	case header == nil && trailer == nil:
		return res, fmt.Errorf("%w: it carries no signed trailer (made by a broker before signed exports, or stripped)", ErrExportUnsigned)
	case trailer == nil:
		return res, fmt.Errorf("%w: it ends after %d records without its signed trailer", ErrExportTruncated, res.Records)
	case trailer.Version != ExportVersion || len(trailer.Signature) != ed25519.SignatureSize:
		return res, fmt.Errorf("%w: trailer version %d", ErrExportMalformed, trailer.Version)
	}
	if header != nil {
		if hk, err := ParsePublicKey(header.PublicKey); err == nil && !hk.Equal(pub) {
			return res, fmt.Errorf("%w: key %s, not the expected %s", ErrExportKey, Fingerprint(hk), Fingerprint(pub))
		}
	}
	if !ed25519.Verify(pub, trailer.payload(), trailer.Signature) {
		return res, fmt.Errorf("%w: the trailer is not signed by key %s", ErrExportSignature, Fingerprint(pub))
	}
	res.Trailer = *trailer
	switch {
	case header != nil && trailer.Filtered != header.Filtered:
		return res, fmt.Errorf("%w: the header and the signed trailer disagree on filtering", ErrExportSignature)
	case !trailer.Filtered && chainErr != nil:
		return res, chainErr
	case res.Records < trailer.Records:
		return res, fmt.Errorf("%w: %d records, the signed trailer counts %d", ErrExportTruncated, res.Records, trailer.Records)
	case res.Records > trailer.Records:
		return res, fmt.Errorf("%w: %d records, the signed trailer counts %d", ErrExportSignature, res.Records, trailer.Records)
	case hex.EncodeToString(digest.Sum(nil)) != trailer.Digest:
		return res, fmt.Errorf("%w: the records are not the ones the trailer signs", ErrExportSignature)
	}
	res.Filtered = trailer.Filtered
	return res, nil
}

// strictJSON decodes one JSON value with no unknown fields.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
