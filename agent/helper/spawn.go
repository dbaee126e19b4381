package helper

import (
	"os"
	"os/exec"
)

// Spawn is the Launcher of `run --helper=spawn`: the helper is a plain
// child process of the agent (CreateProcess, the agent's own user and
// session), which is what runs under Wine and in a developer's session.
// It keeps the same pipe, protocol and checks as the service's launcher.
type Spawn struct {
	// SID is the agent's own account (localsock.SelfSID), which the
	// child runs as.
	SID string
}

// Console is the agent's own session, always there.
func (s Spawn) Console() (uint32, bool) { return 1, true }

// User is the agent's own account.
func (s Spawn) User(uint32) (User, error) { return spawnUser{sid: s.SID}, nil }

type spawnUser struct{ sid string }

func (u spawnUser) SID() string { return u.sid }
func (spawnUser) Close() error  { return nil }

// Start starts exe as a child with the agent's environment; its output
// goes to the agent's standard error.
func (spawnUser) Start(exe string, args []string) (Process, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (c *child) PID() uint32           { return uint32(c.cmd.Process.Pid) }
func (c *child) Done() <-chan struct{} { return c.done }
func (c *child) Kill() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	return c.cmd.Process.Kill()
}
