package wire

// Rotation of a device's elevation-code key (the per-device secret from
// enrollment), on the agent link:
//
//	broker → agent  device_key      {rotation_id, secret}
//	agent  → broker device_key_ack  {rotation_id}   sent only once the key is on disk
//	broker → agent  device_key_done {rotation_id}   the broker has switched to the new key
//
// Until the ack the broker keeps issuing codes with the old key and resends
// device_key each time the agent comes online; the agent accepts codes of
// both keys from the moment it stores the new one until device_key_done
// (which the broker also resends at each connection), then only the new
// one. Neither side ever drops a key the other may still use, and a code of
// the old key stops working once the rotation is done.
func init() {
	register(
		func() Message { return &DeviceKey{} },
		func() Message { return &DeviceKeyAck{} },
		func() Message { return &DeviceKeyDone{} },
	)
}

// DeviceKeySize is the length of a device key (what enrollment hands out).
const DeviceKeySize = 32

// DeviceKey hands the agent its next elevation-code key.
type DeviceKey struct {
	RotationID string `json:"rotation_id"`
	Secret     []byte `json:"secret"`
}

func (*DeviceKey) Type() string { return "device_key" }

// Validate checks the id and the key's length.
func (m *DeviceKey) Validate() error {
	if err := validID(m.RotationID); err != nil {
		return err
	}
	if len(m.Secret) != DeviceKeySize {
		return invalid("secret must be %d bytes", DeviceKeySize)
	}
	return nil
}

// DeviceKeyAck says the agent has stored the key of RotationID durably.
type DeviceKeyAck struct {
	RotationID string `json:"rotation_id"`
}

func (*DeviceKeyAck) Type() string { return "device_key_ack" }

// Validate checks the id.
func (m *DeviceKeyAck) Validate() error { return validID(m.RotationID) }

// DeviceKeyDone says the broker now issues codes with RotationID's key
// only: the agent forgets the previous one.
type DeviceKeyDone struct {
	RotationID string `json:"rotation_id"`
}

func (*DeviceKeyDone) Type() string { return "device_key_done" }

// Validate checks the id.
func (m *DeviceKeyDone) Validate() error { return validID(m.RotationID) }

// MaxRotateWait bounds how long POST /api/devices/{id}/rotate-key waits for
// the agent to store its new key before it answers "pending".
const MaxRotateWait = 20

// RotateKeyRequest is POST /api/devices/{id}/rotate-key (the body is
// optional: no wait).
type RotateKeyRequest struct {
	WaitSeconds int `json:"wait_seconds"`
}

// Validate bounds the wait.
func (r *RotateKeyRequest) Validate() error {
	if r.WaitSeconds < 0 || r.WaitSeconds > MaxRotateWait {
		return invalid("wait_seconds must be 0..%d", MaxRotateWait)
	}
	return nil
}
