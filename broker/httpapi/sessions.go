package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"porthole/broker/access"
	"porthole/broker/auth"
	"porthole/broker/conns"
	"porthole/broker/sessions"
	"porthole/broker/settings"
	"porthole/internal/wire"
)

func (a *API) startSession(w http.ResponseWriter, r *http.Request) {
	var req wire.SessionRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	grant, ok := a.entitled(w, r, auth.ConnectDevice, req.DeviceID)
	if !ok {
		return
	}
	if req.Unattended {
		// No role skips the end user's consent: only a grant of
		// unattended access on the device's group does.
		g, ok := a.useGrant(w, r, access.UnattendedAccess, auth.ConnectDevice, req.DeviceID, errNoUnattended)
		if !ok {
			return
		}
		if grant.RequestID == "" || g.Until.Before(grant.Until) {
			grant = g // the session ends with whichever grant ends first
		}
	}
	if !a.stepUpOK(w, r, req.DeviceID) {
		return
	}
	p := principal(r)
	sr := sessions.Request{ID: auth.NewID(), DeviceID: req.DeviceID, Requester: p.Username, Display: req.Display, SourceIP: clientIP(r),
		Grant: grant.RequestID, Unattended: req.Unattended}
	if req.ViewOnly != nil {
		sr.ViewOnly, sr.ViewOnlySet = *req.ViewOnly, true
	}
	s, err := a.cfg.Sessions.Start(r.Context(), sr)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.Snapshot())
}

// session finds a session of this broker run, or its stored record.
func (a *API) session(r *http.Request) (*sessions.Session, error) {
	return a.cfg.Sessions.Get(r.PathValue("id"))
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request) {
	if s, err := a.session(r); err == nil {
		writeJSON(w, http.StatusOK, s.Snapshot())
		return
	}
	rec, err := a.cfg.Store.SupportSession(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sessions.FromRecord(rec))
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	recs, err := a.cfg.Store.SupportSessions(r.Context(), r.URL.Query().Get("device"), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]any, 0, len(recs))
	for _, rec := range recs {
		if s, err := a.cfg.Sessions.Get(rec.ID); err == nil {
			out = append(out, s.Snapshot())
			continue
		}
		out = append(out, sessions.FromRecord(rec))
	}
	writeJSON(w, http.StatusOK, out)
}

// ownSession returns the session of the request's path if the caller owns
// it; otherwise it answers the request and returns false.
func (a *API) ownSession(w http.ResponseWriter, r *http.Request) (*sessions.Session, bool) {
	p := principal(r)
	s, err := a.session(r)
	if (err != nil || !mayControl(p, s)) && !p.Can(auth.ConnectDevice) {
		// Without the role a caller learns nothing of other sessions.
		a.forbid(w, r, r.PathValue("id"), auth.ConnectDevice)
		return nil, false
	}
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	if !mayControl(p, s) {
		a.fail(w, r, errForbidden)
		return nil, false
	}
	// The owner still needs the right to connect: their role on the
	// device, or the grant the session runs under while it is in force.
	byRole, err := a.roleOn(r, auth.ConnectDevice, s.DeviceID)
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	if byRole {
		return s, true
	}
	if s.Grant != "" && a.cfg.Access != nil {
		active, err := a.cfg.Access.Covers(r.Context(), s.Grant, s.DeviceID)
		if err != nil {
			a.fail(w, r, err)
			return nil, false
		}
		if active {
			return s, true
		}
	}
	a.refuse(w, r, s.ID, auth.ConnectDevice, errNoGrant)
	return nil, false
}

// mayControl: only the portal user who started a session may view, steer
// or end it as its owner; terminating others' sessions needs TerminateSession.
func mayControl(p auth.Principal, s *sessions.Session) bool { return p.Username == s.Requester }

func (a *API) endSession(w http.ResponseWriter, r *http.Request) {
	s, err := a.session(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p := principal(r)
	reason := "ended by " + p.Username + " (Off)"
	if !mayControl(p, s) {
		if !p.Can(auth.TerminateSession) {
			a.fail(w, r, errForbidden)
			return
		}
		reason = "terminated by " + p.Username
	}
	s.End(reason)
	writeJSON(w, http.StatusOK, s.Snapshot())
}

func (a *API) sessionViewOnly(w http.ResponseWriter, r *http.Request) {
	changeSession(a, w, r, func(s *sessions.Session, req wire.ViewOnlyRequest) error {
		// Toward view-only is always allowed; back to control only when the
		// device's settings do not force view-only.
		forced, err := a.cfg.Settings.Bool(r.Context(), s.DeviceID, settings.ViewOnlyDefault)
		if err != nil {
			return err
		}
		return s.SetViewOnly(r.Context(), req.ViewOnly, !forced)
	})
}

func (a *API) sessionDisplay(w http.ResponseWriter, r *http.Request) {
	changeSession(a, w, r, func(s *sessions.Session, req wire.DisplayRequest) error {
		return s.SetDisplay(r.Context(), req.Display)
	})
}

// changeSession is the body of the endpoints that change a live session's
// mode: it decodes the request body as T, lets only who may control the
// session (ownSession) go on, applies change and answers the session's new
// snapshot, or the error through fail.
func changeSession[T any](a *API, w http.ResponseWriter, r *http.Request, change func(*sessions.Session, T) error) {
	var req T
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	s, ok := a.ownSession(w, r)
	if !ok {
		return
	}
	if err := change(s, req); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.Snapshot())
}

// signal is the viewer's signaling websocket: state changes and the offer
// go out, the answer and "end" come in. Closing it ends the session.
func (a *API) signal(w http.ResponseWriter, r *http.Request) {
	s, ok := a.ownSession(w, r)
	if !ok {
		return
	}
	p := principal(r)
	ws, err := a.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	ctx, _, done := a.openConn(r, conns.Signal)
	defer done()
	events, cancel := s.Watch()
	defer cancel()
	in := make(chan wire.ViewerSignal)
	readErr := make(chan error, 1)
	go func() {
		ws.SetReadLimit(wire.MaxSDP + 1024)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			var sig wire.ViewerSignal
			if err := wire.DecodeJSON(bytes.NewReader(data), wire.MaxSDP+1024, &sig); err != nil {
				a.log.Warn("viewer sent malformed signal", "session_id", s.ID, "err", err)
				readErr <- err
				return
			}
			select {
			case in <- sig:
			case <-s.Done():
			}
		}
	}()
	write := func(v any) error {
		_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return ws.WriteJSON(v)
	}
	// drain sends the events already queued (the final state, so the page
	// shows why the session ended).
	drain := func() {
		for {
			select {
			case ev := <-events:
				_ = write(ev)
			default:
				return
			}
		}
	}
	for {
		select {
		case ev := <-events:
			if err := write(ev); err != nil {
				s.End("the viewer disconnected")
				return
			}
		case sig := <-in:
			switch sig.Type {
			case "answer":
				if err := s.BrowserAnswer(sig.SDP); err != nil {
					_ = write(sessions.Event{Type: "error", Reason: err.Error()})
				}
			case "end":
				s.End("ended by " + p.Username + " (Off)")
			}
		case err := <-readErr:
			reason := "the viewer closed"
			if errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrInvalid) || errors.Is(err, wire.ErrTooLarge) {
				reason = "the viewer sent an invalid message"
			}
			s.End(reason)
			return
		case <-s.Done():
			drain()
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "session ended"), time.Now().Add(time.Second))
			return
		case <-ctx.Done():
			if why := conns.Reason(ctx); why != "" {
				// The viewer's access ended (logout, a revoked token, a
				// locked-out user): so does the session.
				s.End(why)
				drain()
				closeWith(ws, why)
			}
			return
		}
	}
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request) {
	scope, err := a.settingsScope(r, r.URL.Query().Get("scope"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	vals, err := a.cfg.Settings.AllIn(r.Context(), scope)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, vals)
}

func (a *API) putSetting(w http.ResponseWriter, r *http.Request) {
	var req wire.SettingRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	key := r.PathValue("key")
	if req.Scope == "" {
		req.Scope = settings.Global
	}
	if _, err := a.settingsScope(r, req.Scope); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := settings.Validate(req.Scope, key, req.Value); err != nil {
		a.fail(w, r, err)
		return
	}
	old, _, err := a.cfg.Store.Setting(r.Context(), req.Scope, key)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.record(r, "settings.changed", key, map[string]any{"scope": req.Scope, "old": old, "new": req.Value}); err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := a.cfg.Settings.Set(r.Context(), req.Scope, key, req.Value); err != nil {
		a.fail(w, r, err)
		return
	}
	a.settingChanged(r.Context(), req.Scope, key) // elevation.go
	a.settingsChanged(r, req.Scope)
	writeJSON(w, http.StatusOK, map[string]string{"key": key, "scope": req.Scope, "value": req.Value})
}
