package httpapi

import (
	"net/http"
	"strings"
	"time"

	"porthole/broker/auth"
	"porthole/broker/requests"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/wire"
)

// requestRoutes registers device groups, the requests queue and the
// settings registry.
func (a *API) requestRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/settings/keys", a.authed(auth.ViewDevices, a.settingKeys))
	m.HandleFunc("DELETE /api/settings/{key}", a.authed(auth.ManageSettings, a.clearSetting))
	m.HandleFunc("GET /api/groups", a.authed(auth.ViewDevices, a.listGroups))
	m.HandleFunc("POST /api/groups", a.authed(auth.ManageSettings, a.createGroup))
	m.HandleFunc("PUT /api/groups/{id}", a.authed(auth.ManageSettings, a.renameGroup))
	m.HandleFunc("DELETE /api/groups/{id}", a.authed(auth.ManageSettings, a.deleteGroup))
	m.HandleFunc("GET /api/devices/{id}/group", a.authed(auth.ViewDevices, a.deviceGroup))
	m.HandleFunc("PUT /api/devices/{id}/group", a.authed(auth.ManageSettings, a.setDeviceGroup))
	m.HandleFunc("GET /api/requests", a.authed(auth.ViewRequests, a.listRequests))
	m.HandleFunc("POST /api/requests/{id}/approve", a.authed(auth.DecideRequests, a.approveRequest))
	m.HandleFunc("POST /api/requests/{id}/deny", a.authed(auth.DecideRequests, a.denyRequest))
}

func (a *API) settingKeys(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, settings.Keys())
}

// settingsScope reads ?scope= (global, group:ID, device:ID), or the older
// ?device=ID; a group scope must name an existing group.
func (a *API) settingsScope(r *http.Request, scope string) (string, error) {
	if scope == "" {
		scope = settings.DeviceScopeOrGlobal(r.URL.Query().Get("device"))
	}
	if err := settings.ValidateScope(scope); err != nil {
		return "", err
	}
	if id, ok := strings.CutPrefix(scope, "group:"); ok {
		if _, err := a.cfg.Store.Group(r.Context(), id); err != nil {
			return "", err
		}
	}
	return scope, nil
}

// settingsChanged sends the new values to the connected agents the scope
// covers (the caller has audited the change).
func (a *API) settingsChanged(r *http.Request, scope string) {
	if a.cfg.SettingsPush != nil {
		a.cfg.SettingsPush.Scope(r.Context(), scope)
	}
	a.recheckSessions(r) // users.go
}

func (a *API) clearSetting(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	scope, err := a.settingsScope(r, r.URL.Query().Get("scope"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := a.cfg.Settings.EffectiveIn(r.Context(), scope, key); err != nil { // unknown key
		a.fail(w, r, err)
		return
	}
	if scope == settings.Global {
		a.fail(w, r, settings.ErrBadScope)
		return
	}
	old, _, err := a.cfg.Store.Setting(r.Context(), scope, key)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.record(r, "settings.cleared", key, map[string]any{"scope": scope, "old": old, "new": "(inherited)"}); err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := a.cfg.Settings.Clear(r.Context(), scope, key); err != nil {
		a.fail(w, r, err)
		return
	}
	a.settingsChanged(r, scope)
	writeJSON(w, http.StatusOK, map[string]string{"key": key, "scope": scope})
}

// GroupView is a device group as the portal sees it.
type GroupView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	Devices   int       `json:"devices"`
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) {
	gs, err := a.cfg.Store.Groups(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]GroupView, 0, len(gs))
	for _, g := range gs {
		out = append(out, GroupView{ID: g.ID, Name: g.Name, CreatedAt: g.CreatedAt, Devices: g.Devices})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request) {
	var req wire.GroupRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	g := store.Group{ID: auth.NewID(), Name: strings.TrimSpace(req.Name), CreatedAt: a.cfg.Clock.Now()}
	if err := a.record(r, "group.created", g.ID, map[string]any{"name": g.Name}); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Store.CreateGroup(r.Context(), g); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, GroupView{ID: g.ID, Name: g.Name, CreatedAt: g.CreatedAt})
}

func (a *API) deviceGroup(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := a.cfg.Store.Device(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	g, err := a.cfg.Store.DeviceGroup(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"group_id": g})
}

func (a *API) setDeviceGroup(w http.ResponseWriter, r *http.Request) {
	var req wire.DeviceGroupRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if _, err := a.cfg.Store.Device(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.GroupID != "" {
		if _, err := a.cfg.Store.Group(r.Context(), req.GroupID); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	old, err := a.cfg.Store.DeviceGroup(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.record(r, "device.group_changed", id, map[string]any{"old": old, "new": req.GroupID}); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Store.SetDeviceGroup(r.Context(), id, req.GroupID); err != nil {
		a.fail(w, r, err)
		return
	}
	a.settingsChanged(r, settings.DeviceScope(id))
	writeJSON(w, http.StatusOK, map[string]string{"group_id": req.GroupID})
}

func (a *API) listRequests(w http.ResponseWriter, r *http.Request) {
	vs, err := a.cfg.Requests.List(r.Context(), r.URL.Query().Get("status"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

// decision reads the optional comment of an approve or deny.
func (a *API) decision(r *http.Request) (requests.Decision, error) {
	var req wire.DecisionRequest
	if r.ContentLength != 0 {
		if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
			return requests.Decision{}, err
		}
	}
	return requests.Decision{By: principal(r).Username, Comment: req.Comment, SourceIP: clientIP(r), Minutes: req.Minutes}, nil
}

// decidable reads an approve or deny: the decision, and the request if the
// caller may decide its kind (otherwise it has answered).
func (a *API) decidable(w http.ResponseWriter, r *http.Request) (requests.Decision, store.Request, bool) {
	d, err := a.decision(r)
	if err != nil {
		a.fail(w, r, err)
		return d, store.Request{}, false
	}
	req, err := a.cfg.Store.Request(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return d, req, false
	}
	return d, req, a.mayDecideKind(w, r, req)
}

func (a *API) approveRequest(w http.ResponseWriter, r *http.Request) {
	d, req, ok := a.decidable(w, r)
	if !ok {
		return
	}
	if req.Kind == requests.KindSupport {
		// Approving support makes the approver the session's viewer: they
		// need the right to connect (role or grant) and the same MFA step-up.
		g, ok := a.entitled(w, r, auth.ConnectDevice, req.DeviceID)
		if !ok || !a.stepUpOK(w, r, req.DeviceID) {
			return
		}
		d.Grant = g.RequestID
	}
	sid, err := a.cfg.Requests.Approve(r.Context(), req.ID, d)
	if err != nil {
		a.failElevation(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": store.RequestApproved, "session_id": sid})
}

func (a *API) denyRequest(w http.ResponseWriter, r *http.Request) {
	d, req, ok := a.decidable(w, r)
	if !ok {
		return
	}
	if err := a.cfg.Requests.Deny(r.Context(), req.ID, d); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": store.RequestDenied})
}

// kindPermissions are what deciding (approving or denying) a request of a
// kind needs besides requests.decide.
var kindPermissions = map[string]auth.Permission{requests.KindElevation: auth.DecideElevationRequest}

// mayDecideKind checks that the caller holds what deciding req's kind
// needs; if not it audits access.denied, answers 403 and reports false.
func (a *API) mayDecideKind(w http.ResponseWriter, r *http.Request, req store.Request) bool {
	perm, ok := kindPermissions[req.Kind]
	if !ok || principal(r).Can(perm) {
		return true
	}
	a.forbid(w, r, req.ID, perm)
	return false
}
