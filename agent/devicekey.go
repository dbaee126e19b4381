package agent

import (
	"context"
	"log/slog"
	"sync"

	"porthole/agent/elevation"
	"porthole/agent/identity"
	"porthole/internal/wire"
)

// deviceKeys applies rotations of the device's elevation-code key that the
// broker sends (wire.DeviceKey): the new key is on disk (fsynced) before
// the agent acknowledges it, and the previous key keeps verifying codes
// until the broker confirms the rotation (wire.DeviceKeyDone), so no code
// the broker issued is refused for want of its key, and none of the old key
// works after the confirmation.
type deviceKeys struct {
	dir  string
	elev *elevation.Manager // nil when elevation is off
	send func(wire.Message) error
	log  *slog.Logger

	mu sync.Mutex
	id identity.Identity // the saved identity; guarded by mu
}

// newDeviceKeys starts from the saved identity id; a rotation a restart
// left unconfirmed keeps its previous key verifying.
func newDeviceKeys(dir string, id identity.Identity, elev *elevation.Manager, send func(wire.Message) error, log *slog.Logger) *deviceKeys {
	k := &deviceKeys{dir: dir, elev: elev, send: send, log: log, id: id}
	k.mu.Lock()
	k.applyLocked()
	k.mu.Unlock()
	return k
}

// handle takes the key messages; it reports whether m was one.
// onKey stores a new device key durably, then acknowledges it; a key not
// stored is not acknowledged, so the broker resends it.
func (k *deviceKeys) onKey(_ context.Context, m *wire.DeviceKey) {
	if !k.update(func(id identity.Identity) (identity.Identity, bool) { return id.WithKey(m.RotationID, m.Secret) }) {
		return
	}
	if err := k.send(&wire.DeviceKeyAck{RotationID: m.RotationID}); err != nil {
		k.log.Warn("device key acknowledgement not sent; the broker resends the key", "err", err)
	}
	k.log.Info("device key stored", "rotation_id", m.RotationID)
}

// onDone retires the previous key once the broker has switched.
func (k *deviceKeys) onDone(_ context.Context, m *wire.DeviceKeyDone) {
	k.update(func(id identity.Identity) (identity.Identity, bool) { return id.KeyDone(m.RotationID) })
}

// update saves the identity change makes (if it changes anything) and
// then hands the keys to the elevation manager; it reports whether the
// identity on disk now holds the change.
func (k *deviceKeys) update(change func(identity.Identity) (identity.Identity, bool)) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	next, changed := change(k.id)
	if !changed {
		return true
	}
	if err := identity.Save(k.dir, next); err != nil {
		k.log.Error("device key not saved", "err", err)
		return false
	}
	k.id = next
	k.applyLocked()
	return true
}

// applyLocked gives the elevation manager the saved keys.
func (k *deviceKeys) applyLocked() {
	if k.elev == nil {
		return
	}
	if err := k.elev.SetKeys(k.id.DeviceSecret, k.id.PreviousSecret); err != nil {
		k.log.Error("device keys not applied", "err", err)
	}
}
