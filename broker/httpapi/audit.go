package httpapi

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"porthole/broker/audit"
	"porthole/broker/auth"
	"porthole/broker/store"
)

// auditRoutes adds the audit log's query, export and verify endpoints
// (admins and auditors: auth.ViewAudit).
func (a *API) auditRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/audit/export", a.authed(auth.ViewAudit, a.exportAudit))
	m.HandleFunc("GET /api/audit/verify", a.authed(auth.ViewAudit, a.verifyAudit))
	m.HandleFunc("GET /api/audit/key", a.authed(auth.ViewAudit, a.auditKey))
	m.HandleFunc("POST /api/sessions/{id}/extend", a.authed("", a.extendSession))
}

var errBadQuery = errors.New("bad query")

// auditFilter reads the filters shared by the list and the export:
// since, until (RFC 3339), actor, action ("session.*" for a prefix),
// device, target, after and before (seq), limit, order (asc|desc).
func auditFilter(q url.Values) (audit.Filter, error) {
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), Device: q.Get("device"), Target: q.Get("target"),
		Descending: q.Get("order") != "asc"}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, fmt.Errorf("%w: %s must be an RFC 3339 time", errBadQuery, p.name)
			}
			*p.dst = t
		}
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"after", &f.AfterSeq}, {"before", &f.BeforeSeq}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return f, fmt.Errorf("%w: %s must be a record number", errBadQuery, p.name)
			}
			*p.dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, fmt.Errorf("%w: limit must be 1..1000", errBadQuery)
		}
		f.Limit = n
	}
	return f, nil
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	f, err := auditFilter(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	recs, err := a.cfg.Audit.Query(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]audit.Record, 0, len(recs))
	for _, rec := range recs {
		out = append(out, audit.ToRecord(rec))
	}
	writeJSON(w, http.StatusOK, out)
}

// exportAudit streams every matching record, oldest first, as CSV or JSON
// Lines. Rows go out as they are read (flushed every few hundred), so memory
// stays flat for any log size. An unfiltered JSON Lines export verifies
// offline with "porthole audit verify --file".
func (a *API) exportAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := auditFilter(q)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	format := q.Get("format")
	var write func(rec store.AuditRecord) error
	var finish func() error
	flusher, _ := w.(http.Flusher)
	switch format {
	case "jsonl", "":
		format = "jsonl"
		// Signed: a header line, the records, a signed trailer (only once
		// every record is out, so a cut export has none).
		exp, err := a.cfg.Audit.NewExport(exportFiltered(q))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		header, err := exp.Header()
		if err != nil {
			a.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="porthole-audit.jsonl"`)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		if _, err := w.Write(append(header, '\n')); err != nil {
			return
		}
		write = func(rec store.AuditRecord) error { exp.Add(rec); return enc.Encode(audit.ToRecord(rec)) }
		finish = func() error {
			t, err := exp.Trailer(a.cfg.Clock.Now())
			if err == nil {
				_, err = w.Write(append(t, '\n'))
			}
			return err
		}
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="porthole-audit.csv"`)
		cw := csv.NewWriter(w)
		write = func(rec store.AuditRecord) error {
			return cw.Write([]string{strconv.FormatInt(rec.Seq, 10), rec.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), rec.Actor,
				rec.Action, rec.Target, rec.SourceIP, rec.Details, rec.PrevHash, rec.Hash})
		}
		if err := cw.Write(csvHeader); err != nil {
			return
		}
		finish = func() error { cw.Flush(); return cw.Error() }
		defer cw.Flush()
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "format must be csv or jsonl"})
		return
	}
	n := 0
	err = a.cfg.Audit.Each(r.Context(), f, func(rec store.AuditRecord) error {
		if err := write(rec); err != nil {
			return err
		}
		if n++; n%500 == 0 && flusher != nil {
			if format == "csv" {
				if err := finish(); err != nil {
					return err
				}
			}
			flusher.Flush()
		}
		return nil
	})
	if err == nil {
		err = finish()
	}
	if err != nil {
		// Headers are gone; the truncated body is the only signal left.
		a.log.Warn("audit export ended early", "records", n, "err", err)
	}
}

// exportFiltered reports whether an export's query selects part of the
// log (its trailer says so; only a whole log verifies as a chain).
func exportFiltered(q url.Values) bool {
	for _, k := range []string{"since", "until", "actor", "action", "device", "target", "after", "before"} {
		if q.Get(k) != "" {
			return true
		}
	}
	return false
}

// csvHeader names the export's columns; every stored field is there, so a
// CSV export can be verified as well.
var csvHeader = []string{"seq", "time", "actor", "action", "target", "source_ip", "details", "prev_hash", "hash"}

// VerifyResult is GET /api/audit/verify's answer.
type VerifyResult struct {
	OK      bool   `json:"ok"`
	Checked int64  `json:"checked"`
	Broken  int64  `json:"broken_seq,omitempty"` // the first bad record
	Error   string `json:"error,omitempty"`
}

func (a *API) verifyAudit(w http.ResponseWriter, r *http.Request) {
	n, err := a.cfg.Audit.Verify(r.Context())
	var be *audit.BrokenError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, VerifyResult{OK: true, Checked: n})
	case errors.As(err, &be):
		a.log.Error("audit chain broken", "seq", be.Seq, "reason", be.Reason)
		writeJSON(w, http.StatusOK, VerifyResult{Checked: n, Broken: be.Seq, Error: be.Error()})
	default:
		a.fail(w, r, err)
	}
}

// AuditKeyView is GET /api/audit/key: the public key that checks the
// chain's signed head and signed exports (ADR 0010). Pin it somewhere the
// broker cannot write, and verify exports against the pinned copy.
type AuditKeyView struct {
	PublicKey   string `json:"public_key"` // standard base64
	Fingerprint string `json:"fingerprint"`
}

func (a *API) auditKey(w http.ResponseWriter, r *http.Request) {
	pub := a.cfg.Audit.PublicKey()
	if pub == nil {
		a.fail(w, r, errors.New("audit log has no signing key"))
		return
	}
	writeJSON(w, http.StatusOK, AuditKeyView{PublicKey: base64.StdEncoding.EncodeToString(pub), Fingerprint: audit.Fingerprint(pub)})
}
