package auth

import (
	"fmt"
	"slices"
)

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
	// ViewRecordings lists, replays and verifies session recordings.
	ViewRecordings Permission = "recordings.view"
	// IssueElevationCode issues temporary admin codes for a device.
	IssueElevationCode Permission = "elevation.issue"
	// ViewElevations reads elevation sessions and what ran elevated.
	ViewElevations Permission = "elevation.view"
	// DecideElevationRequest approves (delivering a code) or denies end
	// users' elevation requests.
	DecideElevationRequest Permission = "elevation.decide"
	// BreakGlass creates and revokes temporary local administrator accounts
	// on devices. Admins and technicians hold it: a technician servicing an
	// endpoint is who hands an account to a field engineer or vendor.
	BreakGlass Permission = "breakglass.manage"
	// ViewRequests sees the requests queue; DecideRequests approves and
	// denies (a support request also needs ConnectDevice: the approver
	// becomes the session's viewer).
	ViewRequests   Permission = "requests.view"
	DecideRequests Permission = "requests.decide"
)

var grants = map[Role]map[Permission]bool{
	Admin: {ViewDevices: true, ManageDevices: true, Enroll: true, ManageUsers: true, ConnectDevice: true, ViewAudit: true,
		TerminateSession: true, ManageSettings: true, ViewRecordings: true, IssueElevationCode: true, ViewElevations: true,
		DecideElevationRequest: true, BreakGlass: true, ViewRequests: true, DecideRequests: true},
	Technician: {ViewDevices: true, ConnectDevice: true, IssueElevationCode: true, DecideElevationRequest: true, BreakGlass: true,
		ViewRequests: true, DecideRequests: true},
	Auditor:  {ViewDevices: true, ViewAudit: true, TerminateSession: true, ViewRecordings: true, ViewElevations: true},
	Approver: {ViewDevices: true, DecideElevationRequest: true, ViewRequests: true, DecideRequests: true},
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

// DevicePermissions are the rights that act on one device (the broker's
// rights table): a role holds them on every device, or only on the groups
// of a user's role bindings, or — under access.standing = none — only
// through an active access grant (admins excepted).
var DevicePermissions = []Permission{ConnectDevice, BreakGlass, IssueElevationCode}

// IsDevicePermission reports whether p is one of DevicePermissions.
func IsDevicePermission(p Permission) bool { return slices.Contains(DevicePermissions, p) }

// Bindable reports whether a user of role r may be bound to device groups
// (their role then holds its device rights on those groups only). Only
// technicians: the other roles hold no device rights to narrow, and an
// admin's rights are not device-shaped.
func (r Role) Bindable() bool { return r == Technician }
