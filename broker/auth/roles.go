package auth

import "fmt"

// Role is a portal user's role. Permissions are granted per role, deny by default.
type Role string

// The roles.
const (
	Admin      Role = "admin"      // everything: users, settings, enrollment
	Technician Role = "technician" // devices, sessions, break glass, codes
	Auditor    Role = "auditor"    // read audit log and recordings; never connects
	// Approver decides access requests; until requests exist it may only
	// view devices.
	Approver Role = "approver"
)

// Permission names an action checked on every route.
type Permission string

// The permissions.
const (
	ViewDevices   Permission = "devices.view"
	ManageDevices Permission = "devices.manage" // revoke
	Enroll        Permission = "enroll.manage"  // enrollment tokens
	ManageUsers   Permission = "users.manage"
	ConnectDevice Permission = "devices.connect" // remote support
	ViewAudit     Permission = "audit.view"
	// TerminateSession ends anyone's live session (the requester may always end its own).
	TerminateSession Permission = "sessions.terminate"
	ManageSettings   Permission = "settings.manage" // settings and device groups
	// ViewRequests sees the requests queue; DecideRequests approves and
	// denies (a support request also needs ConnectDevice: the approver
	// becomes the session's viewer).
	ViewRequests   Permission = "requests.view"
	DecideRequests Permission = "requests.decide"
)

var grants = map[Role]map[Permission]bool{
	Admin: {ViewDevices: true, ManageDevices: true, Enroll: true, ManageUsers: true, ConnectDevice: true, ViewAudit: true,
		TerminateSession: true, ManageSettings: true, ViewRequests: true, DecideRequests: true},
	Technician: {ViewDevices: true, ConnectDevice: true, ViewRequests: true, DecideRequests: true},
	Auditor:    {ViewDevices: true, ViewAudit: true, TerminateSession: true},
	Approver:   {ViewDevices: true, ViewRequests: true, DecideRequests: true},
}

// Can reports whether r holds p. Unknown roles hold nothing.
func (r Role) Can(p Permission) bool { return grants[r][p] }

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if _, ok := grants[r]; !ok {
		return "", fmt.Errorf("unknown role %q (want admin, technician, approver or auditor)", s)
	}
	return r, nil
}
