package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"porthole/internal/wire"
)

// Device is an enrolled endpoint.
type Device struct {
	ID        string
	PublicKey []byte
	// SecretSealed is the per-device key for offline elevation codes,
	// sealed (broker/devicekey); the plaintext is never stored.
	SecretSealed []byte
	Hostname     string
	OS           string
	Arch         string
	User         string
	AgentVersion string
	Displays     []wire.Display
	EnrolledAt   time.Time
	LastSeen     time.Time
	Revoked      bool
	// UnattendedPolicy is the endpoint's own policy (wire.AgentPolicy) as
	// its agent last reported it; "" from an agent that reports none.
	UnattendedPolicy string
	// CaptureMethod is how its agent captures the screen
	// (wire.Inventory.Capture); "" from an agent that reports none.
	CaptureMethod string
}

// PolicyOf is what an inventory says of the endpoint's policy.
func PolicyOf(inv wire.Inventory) string {
	if inv.Policy == nil {
		return ""
	}
	return inv.Policy.Unattended
}

func insertDevice(ctx context.Context, tx *sql.Tx, d Device) error {
	disp, err := json.Marshal(nonNil(d.Displays))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO devices(id, public_key, secret, secret_sealed, hostname, os, arch, username, agent_version, displays,
		enrolled_at, last_seen, revoked, unattended_policy, capture_method)
		VALUES(?,?,x'',?,?,?,?,?,?,?,?,?,0,?,?)`,
		d.ID, d.PublicKey, d.SecretSealed, d.Hostname, d.OS, d.Arch, d.User, d.AgentVersion, string(disp), ms(d.EnrolledAt), ms(d.LastSeen),
		d.UnattendedPolicy, d.CaptureMethod)
	if isUnique(err) {
		return fmt.Errorf("device key already enrolled: %w", ErrConflict)
	}
	return err
}

func nonNil(d []wire.Display) []wire.Display {
	if d == nil {
		return []wire.Display{}
	}
	return d
}

const deviceCols = `id, public_key, secret_sealed, hostname, os, arch, username, agent_version, displays, enrolled_at, last_seen, revoked, unattended_policy, capture_method`

func scanDevice(row interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var disp string
	var e, l int64
	err := row.Scan(&d.ID, &d.PublicKey, &d.SecretSealed, &d.Hostname, &d.OS, &d.Arch, &d.User, &d.AgentVersion, &disp, &e, &l, &d.Revoked, &d.UnattendedPolicy, &d.CaptureMethod)
	if err != nil {
		return d, err
	}
	d.EnrolledAt, d.LastSeen = fromMS(e), fromMS(l)
	if err := json.Unmarshal([]byte(disp), &d.Displays); err != nil {
		return d, fmt.Errorf("device %s displays: %w", d.ID, err)
	}
	return d, nil
}

// Device returns one device.
func (s *Store) Device(ctx context.Context, id string) (Device, error) {
	d, err := scanDevice(s.db.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
	return d, notFound(err, "device")
}

// Devices lists all devices by hostname.
func (s *Store) Devices(ctx context.Context) ([]Device, error) {
	return queryAll(ctx, s.db, scanDevice, `SELECT `+deviceCols+` FROM devices ORDER BY hostname, id`)
}

// UpdateInventory stores what a connected agent reported.
func (s *Store) UpdateInventory(ctx context.Context, id, agentVersion string, inv wire.Inventory, seen time.Time) error {
	disp, err := json.Marshal(nonNil(inv.Displays))
	if err != nil {
		return err
	}
	return s.execOne(ctx, "device", `UPDATE devices SET hostname = ?, os = ?, arch = ?, username = ?, agent_version = ?, displays = ?, last_seen = ?,
		unattended_policy = ?, capture_method = ? WHERE id = ?`,
		inv.Hostname, inv.OS, inv.Arch, inv.User, agentVersion, string(disp), ms(seen), PolicyOf(inv), inv.Capture, id)
}

// TouchDevice records a heartbeat.
func (s *Store) TouchDevice(ctx context.Context, id string, seen time.Time) error {
	return s.execOne(ctx, "device", `UPDATE devices SET last_seen = ? WHERE id = ?`, ms(seen), id)
}

// TouchDevices records that every device in ids was seen at seen, in one
// statement per 500 devices (the agent hub's batched heartbeats).
func (s *Store) TouchDevices(ctx context.Context, ids []string, seen time.Time) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := make([]any, 0, n+1)
		args = append(args, ms(seen))
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE devices SET last_seen = ? WHERE id IN (?`+strings.Repeat(",?", n-1)+`)`, args...); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// RevokeDevice refuses the device from now on.
func (s *Store) RevokeDevice(ctx context.Context, id string) error {
	return s.execOne(ctx, "device", `UPDATE devices SET revoked = 1 WHERE id = ?`, id)
}
