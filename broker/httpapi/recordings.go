package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"porthole/broker/archive"
	"porthole/broker/auth"
	"porthole/broker/recording"
	"porthole/broker/store"
)

// replayWindow is how long one user's replay of one recording counts as
// the same replay: the player's many range requests make one audit event.
const replayWindow = 10 * time.Minute

// recordingRoutes adds the recordings catalogue, its files (range
// requests) and their verification; admins and auditors only.
func (a *API) recordingRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/recordings", a.authed(auth.ViewRecordings, a.listRecordings))
	m.HandleFunc("GET /api/recordings/verify", a.authed(auth.ViewRecordings, a.verifyRecordings))
	m.HandleFunc("GET /api/recordings/{id}", a.authed(auth.ViewRecordings, a.getRecording))
	m.HandleFunc("GET /api/recordings/{id}/files/{n}", a.authed(auth.ViewRecordings, a.recordingFile))
}

// replays remembers recent replays so each is audited once per window.
type replays struct {
	mu   sync.Mutex
	last map[string]time.Time // "actor\x00id" → last audited; guarded by mu
}

// due reports whether key's replay should be audited now, and if so marks it.
func (p *replays) due(key string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.last = map[string]time.Time{}
	}
	for k, t := range p.last {
		if now.Sub(t) >= replayWindow {
			delete(p.last, k)
		}
	}
	if _, ok := p.last[key]; ok {
		return false
	}
	p.last[key] = now
	return true
}

func (p *replays) forget(key string) {
	p.mu.Lock()
	delete(p.last, key)
	p.mu.Unlock()
}

// recordingView is a recording as the API shows it.
type recordingView struct {
	ID         string               `json:"id"`
	DeviceID   string               `json:"device_id"`
	Hostname   string               `json:"hostname"`
	Requester  string               `json:"requester"`
	State      string               `json:"state"`
	StartedAt  time.Time            `json:"started_at"`
	EndedAt    *time.Time           `json:"ended_at,omitempty"`
	DurationMS int64                `json:"duration_ms"`
	Size       int64                `json:"size"`
	Segments   int                  `json:"segments"`
	Error      string               `json:"error,omitempty"`
	Files      []recording.FileInfo `json:"files,omitempty"` // detail view only
}

func viewRecording(r store.Recording) recordingView {
	v := recordingView{ID: r.ID, DeviceID: r.DeviceID, Hostname: r.Hostname, Requester: r.Requester, State: r.State,
		StartedAt: r.StartedAt, DurationMS: r.Duration.Milliseconds(), Size: r.Size, Segments: r.Files, Error: r.Error}
	if !r.EndedAt.IsZero() {
		t := r.EndedAt
		v.EndedAt = &t
	}
	return v
}

// listRecordings filters by device, user (the requester), since and until
// (RFC 3339 or YYYY-MM-DD, on the start time) and limit.
func (a *API) listRecordings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.RecordingFilter{DeviceID: q.Get("device"), Requester: q.Get("user")}
	for _, p := range []struct {
		name string
		dst  *time.Time
		day  time.Duration // added to a bare date: until a date includes that day
	}{{"since", &f.From, 0}, {"until", &f.To, 24 * time.Hour}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			d, derr := time.Parse(time.DateOnly, v)
			if derr != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("%s must be an RFC 3339 time or a date", p.name)})
				return
			}
			t = d.Add(p.day)
		}
		*p.dst = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be 1..1000"})
			return
		}
		f.Limit = n
	}
	list, err := a.cfg.Store.Recordings(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]recordingView, 0, len(list))
	for _, rec := range list {
		out = append(out, viewRecording(rec))
	}
	writeJSON(w, http.StatusOK, out)
}

// recording looks up the recording id from a request, refusing a malformed
// id before the store is asked. It answers the request itself when ok is
// false.
func (a *API) recording(w http.ResponseWriter, r *http.Request, id string) (rec store.Recording, ok bool) {
	if !recording.ValidID(id) {
		a.fail(w, r, recording.ErrBadID)
		return rec, false
	}
	rec, err := a.cfg.Store.Recording(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return rec, false
	}
	return rec, true
}

func (a *API) getRecording(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, ok := a.recording(w, r, id)
	if !ok {
		return
	}
	v := viewRecording(rec)
	if in, err := a.cfg.Recordings.Stat(id); err == nil {
		v.Files = in.Files
	}
	writeJSON(w, http.StatusOK, v)
}

// recordingFile serves video file n (from 1) of a recording, or its event
// sidecar for n = 0, with range requests. The first request of a user's
// replay is audited, and nothing is served if that fails.
func (a *API) recordingFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || strconv.Itoa(n) != r.PathValue("n") {
		a.fail(w, r, recording.ErrNotFound)
		return
	}
	if !recording.ValidID(id) {
		a.fail(w, r, recording.ErrBadID)
		return
	}
	if err := a.cfg.Recordings.Check(id, n); err != nil {
		a.fail(w, r, err)
		return
	}
	key := principal(r).Username + "\x00" + id
	if a.replays.due(key, a.cfg.Clock.Now()) {
		if err := a.record(r, "recording.replayed", id, map[string]any{"recording_id": id}); err != nil {
			a.replays.forget(key)
			a.fail(w, r, err)
			return
		}
	}
	if err := a.cfg.Recordings.Serve(w, r, id, n); err != nil {
		a.fail(w, r, err)
	}
}

// verifyRecordings checks every recording (or ?id=) against its audit entry.
func (a *API) verifyRecordings(w http.ResponseWriter, r *http.Request) {
	if id := r.URL.Query().Get("id"); id != "" {
		rec, ok := a.recording(w, r, id)
		if !ok {
			return
		}
		c := archive.Check{ID: id, State: rec.State, OK: true}
		if err := a.cfg.Archive.Verify(r.Context(), id); err != nil {
			c.OK, c.Error = false, err.Error()
		}
		writeJSON(w, http.StatusOK, []archive.Check{c})
		return
	}
	checks, err := a.cfg.Archive.VerifyAll(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, checks)
}

// recordingStatus maps the recordings' errors for fail.
func recordingStatus(err error) (int, string, bool) {
	switch {
	case errors.Is(err, recording.ErrBadID):
		return http.StatusBadRequest, "invalid recording id", true
	case errors.Is(err, recording.ErrNotFound):
		return http.StatusNotFound, "not found", true
	case errors.Is(err, recording.ErrBusy):
		return http.StatusConflict, err.Error(), true
	}
	return 0, "", false
}
