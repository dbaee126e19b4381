package agent

import (
	"fmt"

	"porthole/internal/wire"
)

// The endpoint's own floor. A broker decides who may connect and how, but
// a compromised broker must not be able to watch every screen silently: a
// session that skips the end user's consent runs only where the endpoint's
// installer allowed it (porthole-agent run --unattended allow, or the same
// key in its config file). The agent refuses it otherwise (support
// answers wire.AnswerRefusedByPolicy) and reports its policy in every
// inventory so the portal can show it.

// checkPolicy accepts "" (deny), deny and allow.
func checkPolicy(unattended string) error {
	switch unattended {
	case "", wire.UnattendedDeny, wire.UnattendedAllow:
		return nil
	}
	return fmt.Errorf("agent: unattended policy %q: want %s or %s", unattended, wire.UnattendedDeny, wire.UnattendedAllow)
}

// withPolicy adds the endpoint's policy to an inventory.
func withPolicy(inv wire.Inventory, unattended string) wire.Inventory {
	if unattended == "" {
		unattended = wire.UnattendedDeny
	}
	inv.Policy = &wire.AgentPolicy{Unattended: unattended}
	return inv
}
