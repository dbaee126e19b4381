package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"porthole/broker/settings"
	"porthole/internal/wire"
)

// renameGroup is PUT /api/groups/{id}: the name rules are those of create;
// a taken name is 409.
func (a *API) renameGroup(w http.ResponseWriter, r *http.Request) {
	var req wire.GroupRequest
	if err := wire.DecodeJSON(r.Body, maxBody, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	g, err := a.cfg.Store.Group(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	name := strings.TrimSpace(req.Name)
	if err := a.cfg.Store.GroupNameFree(r.Context(), name, g.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.record(r, "group.renamed", g.ID, map[string]any{"old": g.Name, "new": name}); err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := a.cfg.Store.RenameGroup(r.Context(), g.ID, name); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, GroupView{ID: g.ID, Name: name, CreatedAt: g.CreatedAt, Devices: g.Devices})
}

// GroupDeletedView is the answer to DELETE /api/groups/{id}: what the
// delete removed.
type GroupDeletedView struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	DevicesMoved int      `json:"devices_moved"` // now in no group (global settings apply)
	Devices      []string `json:"devices"`
	Settings     []string `json:"settings_removed"`     // keys of the group-scope settings deleted
	Entitlements []string `json:"entitlements_removed"` // names, only with ?force=true
	// GrantsRevoked are the access requests whose grants on the group were
	// in force, revoked with it.
	GrantsRevoked []string `json:"grants_revoked"`
}

// deleteGroup is DELETE /api/groups/{id}[?force=true]. Its devices fall
// back to no group and its group-scope settings are deleted; a group that
// entitlements are defined on is refused (409) unless forced, which deletes
// them too and revokes their grants in force. The audit record lists
// everything removed, and connected agents of the moved devices get their
// new effective settings.
func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) {
	force := r.URL.Query().Get("force") == "true"
	plan, err := a.cfg.Store.PlanGroupDeletion(r.Context(), r.PathValue("id"))
	if err == nil {
		err = plan.Check(force)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.record(r, "group.deleted", plan.ID, map[string]any{"name": plan.Name, "devices_moved": len(plan.Devices),
		"devices": plan.Devices, "settings_removed": plan.Settings, "entitlements_removed": plan.Entitlements, "force": force}); err != nil {
		a.fail(w, r, err)
		return
	}
	done, err := a.cfg.Store.DeleteGroup(r.Context(), plan, force)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, id := range done.Devices {
		a.settingsChanged(r, settings.DeviceScope(id))
	}
	revoked, err := a.cfg.Access.GroupDeleted(r.Context(), accessActor(r), done.ID)
	if err != nil {
		a.fail(w, r, fmt.Errorf("group deleted, but not all of its grants were revoked: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, GroupDeletedView{ID: done.ID, Name: done.Name, DevicesMoved: len(done.Devices), Devices: done.Devices,
		Settings: done.Settings, Entitlements: done.Entitlements, GrantsRevoked: revoked})
}
