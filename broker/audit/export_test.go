package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"porthole/broker/audit"
	"porthole/broker/store"
)

// export writes s's log as the API does: header, records, signed trailer.
func export(t testing.TB, s signedLog, f audit.Filter, filtered bool) []string {
	t.Helper()
	exp, err := s.log.NewExport(filtered)
	if err != nil {
		t.Fatal(err)
	}
	h, err := exp.Header()
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{string(h)}
	err = s.log.Each(context.Background(), f, func(r store.AuditRecord) error {
		exp.Add(r)
		b, err := json.Marshal(audit.ToRecord(r))
		lines = append(lines, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := exp.Trailer(time.Unix(1700000100, 0))
	if err != nil {
		t.Fatal(err)
	}
	return append(lines, string(tr))
}

func verify(lines []string, s signedLog) (audit.ExportResult, error) {
	return audit.VerifyExport(strings.NewReader(strings.Join(lines, "\n")+"\n"), s.log.PublicKey())
}

// TestSignedExports: a genuine export verifies (whole or filtered); one
// cut short, one with records removed, one whose signature lines were
// stripped, one with a record changed, one signed by another key, and one
// with a forged trailer are refused, each saying which.
func TestSignedExports(t *testing.T) {
	s := newSigned(t, 7, 6)
	whole := export(t, s, audit.Filter{}, false)
	if res, err := verify(whole, s); err != nil || res.Records != 6 || res.Filtered {
		t.Fatalf("genuine export: %+v %v", res, err)
	}
	part := export(t, s, audit.Filter{AfterSeq: 2, BeforeSeq: 6}, true)
	if res, err := verify(part, s); err != nil || res.Records != 3 || !res.Filtered {
		t.Fatalf("genuine filtered export: %+v %v", res, err)
	}
	n := len(whole)
	changed := append([]string(nil), whole...)
	changed[3] = strings.Replace(changed[3], `"user:admin"`, `"user:mallory"`, 1)
	other := newSigned(t, 9, 6)
	forged := append(append([]string(nil), whole[:n-1]...), export(t, other, audit.Filter{}, false)[n-1])
	tests := []struct {
		name  string
		lines []string
		want  error
		say   string
	}{
		{"cut before the trailer", whole[:n-1], audit.ErrExportTruncated, "ends after 6 records without its signed trailer"},
		{"cut mid-way", whole[:4], audit.ErrExportTruncated, "ends after 3 records"},
		{"newest records removed, trailer kept", append(append([]string(nil), whole[:n-3]...), whole[n-1]), audit.ErrExportTruncated,
			"4 records, the signed trailer counts 6"},
		{"unsigned (header and trailer stripped)", whole[1 : n-1], audit.ErrExportUnsigned, "carries no signed trailer"},
		{"filtered export cut short", part[:len(part)-2], audit.ErrExportTruncated, ""},
		{"record changed", changed, audit.ErrBroken, "altered"},
		{"trailer of another key", forged, audit.ErrExportSignature, "not signed by key"},
		{"a middle record removed", append(append([]string(nil), whole[:2]...), whole[3:]...), audit.ErrBroken, "missing"},
		{"trailer first", append([]string{whole[n-1]}, whole[:n-1]...), audit.ErrExportMalformed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verify(tc.lines, s)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("VerifyExport = %v, want %v saying %q", err, tc.want, tc.say)
			}
		})
	}
	// Checked against another key than the one that signed it.
	if _, err := audit.VerifyExport(strings.NewReader(strings.Join(whole, "\n")), other.log.PublicKey()); !errors.Is(err, audit.ErrExportKey) {
		t.Fatalf("other key: %v", err)
	}
}

// memExport is a genuine signed export of n chained records made in
// memory (no database: fuzz workers start fast and share nothing).
func memExport(t testing.TB, n int) (lines []string, pub []byte, last string) {
	t.Helper()
	signer, err := audit.NewSigner(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := audit.New(nil, nil).WithSigner(signer).NewExport(false)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := exp.Header()
	lines = []string{string(h)}
	prev := ""
	for i := 1; i <= n; i++ {
		r := store.AuditRecord{Seq: int64(i), Time: time.UnixMilli(1700000000000 + int64(i)).UTC(), Actor: "user:admin", Action: "test",
			Details: "{}", PrevHash: prev}
		r.Hash = audit.Hash(r)
		prev = r.Hash
		exp.Add(r)
		b, _ := json.Marshal(audit.ToRecord(r))
		lines = append(lines, string(b))
	}
	tr, _ := exp.Trailer(time.Unix(1700000100, 0))
	return append(lines, string(tr)), signer.Public(), prev
}

// FuzzVerifyExport: the offline verifier of an export file (untrusted
// input) never panics, fails only with its errors, and never accepts
// something its key did not sign.
func FuzzVerifyExport(f *testing.F) {
	whole, pub, last := memExport(f, 3)
	f.Add([]byte(strings.Join(whole, "\n")))
	f.Add([]byte(strings.Join(whole[:2], "\n")))
	f.Add([]byte(strings.Join(whole[1:], "\n")))
	f.Add([]byte(`{"porthole_export_trailer":{"version":1,"records":0,"signature":"AA=="}}`))
	f.Add([]byte(`{"porthole_export_header":{"version":1,"public_key":"x","filtered":true}}` + "\n{}"))
	f.Add([]byte("{\"seq\":1}\n\n[]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := audit.VerifyExport(bytes.NewReader(data), pub)
		if err != nil {
			for _, e := range []error{audit.ErrExportUnsigned, audit.ErrExportTruncated, audit.ErrExportSignature, audit.ErrExportKey,
				audit.ErrExportMalformed, audit.ErrBroken} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("unexpected error kind: %v", err)
		}
		// Accepted: it must hold the genuine export's records, all of them.
		if res.Records != 3 || res.Trailer.LastHash != last {
			t.Fatalf("accepted a forgery: %+v", res)
		}
	})
}
